"""Synthetic nightly histories for the history and regression tests: real records in night folders."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from records import PERF_OK, make_record

from triggerbench.results.store import write_record

START = datetime(2026, 1, 1, 2, 0, tzinfo=UTC)


def commit_of(night: int) -> str:
    """A distinct 40-hex commit per night: ``00000007cccc...`` for night 7."""
    return f"{night:08x}" + "c" * 32


def write_night(
    root: Path,
    night: int,
    *,
    throughput: float = 1000.0,
    latency_p99_s: float = 2e-3,
    workloads: Sequence[str] = ("standin-cnn",),
    folder: str | None = None,
    hostname: str = "xeon-01",
) -> Path:
    """One night's folder (``2026-01-02_<commit8>_xeon-01`` by default), one record per workload."""
    when = START + timedelta(days=night)
    commit = commit_of(night)
    out = root / (folder or f"{when:%Y-%m-%d}_{commit[:8]}_{hostname}")
    for workload in workloads:
        record = make_record(
            timestamp_utc=when,
            performance={**PERF_OK, "throughput_samples_per_s": throughput, "latency_p99_s": latency_p99_s},
            environment=dict(
                hostname=hostname,
                platform="p",
                python_version="3.11",
                triggerbench_version="0",
                git_commit=commit,
            ),
        )
        record = record.model_copy(update={"workload": record.workload.model_copy(update={"name": workload})})
        write_record(record, out)
    return out


def write_series(root: Path, throughputs: Sequence[float], **kwargs) -> list[Path]:
    """One night per value, night 0 first."""
    return [write_night(root, i, throughput=t, **kwargs) for i, t in enumerate(throughputs)]
