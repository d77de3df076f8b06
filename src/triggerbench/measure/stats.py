"""The one statistics vocabulary: percentiles of latency, throughput, and stability checks."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from triggerbench.errors import TriggerbenchUnstableWarning

#: pyperf's threshold: warn when the relative stdev of repeated runs reaches 10 %.
REL_STDEV_WARN = 0.10
#: A percentile q needs about this many samples beyond it to mean anything: n >= K / (1 - q).
TAIL_SAMPLES = 10


@dataclass(frozen=True)
class LatencyStats:
    """Latency distribution of queries, in seconds."""

    p50_s: float
    p90_s: float
    p99_s: float
    p999_s: float
    max_s: float
    mean_s: float
    stdev_s: float
    n_samples: int

    @classmethod
    def from_ns(cls, latencies_ns: np.ndarray) -> LatencyStats:
        """Summarize per-query latencies given in nanoseconds."""
        lat = np.asarray(latencies_ns, dtype=np.float64) * 1e-9
        if lat.size == 0:
            raise ValueError("no latencies to summarize")
        p50, p90, p99, p999 = np.percentile(lat, [50, 90, 99, 99.9])
        return cls(
            p50_s=float(p50),
            p90_s=float(p90),
            p99_s=float(p99),
            p999_s=float(p999),
            max_s=float(lat.max()),
            mean_s=float(lat.mean()),
            stdev_s=float(lat.std(ddof=1)) if lat.size > 1 else 0.0,
            n_samples=int(lat.size),
        )


def rel_stdev(values: np.ndarray) -> float:
    """Relative standard deviation (stdev / mean) of repeated measurements."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.size < 2 or arr.mean() == 0:
        return 0.0
    return float(arr.std(ddof=1) / arr.mean())


def min_samples_for(percentile: float) -> int:
    """Samples needed before ``percentile`` (e.g. 99.9) rests on at least ``TAIL_SAMPLES``."""
    return int(np.ceil(round(TAIL_SAMPLES / (1.0 - percentile / 100.0), 6)))  # 1 - 0.999 is inexact


def stability_problems(
    n_queries: int, repeat_throughputs: np.ndarray | None = None, percentiles=(99.0, 99.9)
) -> list[str]:
    """Return human-readable reasons why a measurement may not be trusted (empty if none)."""
    problems = []
    if repeat_throughputs is not None and len(repeat_throughputs) > 1:
        spread = rel_stdev(repeat_throughputs)
        if spread >= REL_STDEV_WARN:
            problems.append(
                f"unstable: throughput of repeated windows varies by {spread:.0%} (stdev/mean "
                f">= {REL_STDEV_WARN:.0%}); close other programs or raise min_duration_s"
            )
    for q in percentiles:
        need = min_samples_for(q)
        if n_queries < need:
            problems.append(
                f"too few queries for p{q:g}: {n_queries} < {need}; raise min_query_count or min_duration_s"
            )
    return problems


def warn_all(problems: list[str]) -> None:
    """Emit each problem as a ``TriggerbenchUnstableWarning``."""
    for problem in problems:
        warnings.warn(problem, TriggerbenchUnstableWarning, stacklevel=2)
