"""pytest plugin (entry point ``pytest11``): records in ``extra_info`` and a percentile summary.

pytest-benchmark's table shows min/max/mean/median of its own rounds; trigger people need the
tail (p99, p99.9), LoadGen's verdict, agreement with the reference and power. Benchmarks get
them through the ``triggerbench`` fixture::

    def test_keras(benchmark, triggerbench):
        ctx = triggerbench.context("standin-cnn")
        record = triggerbench.measure(benchmark, ctx, runner="keras", batch_size=1)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from triggerbench.schema import BenchmarkRecord

QUICK_ENV = "TRIGGERBENCH_QUICK"


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add the ``--triggerbench-quick`` and ``--triggerbench-out`` options."""
    group = parser.getgroup("triggerbench")
    group.addoption(
        "--triggerbench-quick",
        action="store_true",
        default=False,
        help=f"short measurement windows (also: {QUICK_ENV}=1)",
    )
    group.addoption(
        "--triggerbench-out",
        default=None,
        metavar="DIR",
        help="also write each record as a run file into DIR",
    )


@dataclass
class TriggerbenchSession:
    """Shared state of one pytest session: settings, model contexts, collected records."""

    quick: bool
    out_dir: Path | None
    records: list[tuple[str, BenchmarkRecord]] = field(default_factory=list)
    extra_rows: list[tuple[str, str]] = field(default_factory=list)
    _contexts: dict[str, Any] = field(default_factory=dict)

    @property
    def settings(self):
        """Measurement settings for this session (quick or default)."""
        from triggerbench.measure.settings import MeasureSettings

        return MeasureSettings.quick() if self.quick else MeasureSettings()

    def context(self, workload: str):
        """Model, validation data and reference outputs of ``workload`` (built once)."""
        from triggerbench.measure.job import build_context

        if workload not in self._contexts:
            self._contexts[workload] = build_context(self.settings, workload=workload)
        return self._contexts[workload]

    def measure(self, benchmark, ctx, **job_fields: Any) -> BenchmarkRecord:
        """Measure in-process, put the record in ``benchmark.extra_info['record']``, return it."""
        from triggerbench.measure.job import Job
        from triggerbench.measure.session import measure_one
        from triggerbench.results.store import write_record

        out_dir = self.out_dir or Path(".benchmarks") / "triggerbench"
        job = Job(settings=self.settings, out_dir=out_dir, **job_fields)
        record = measure_one(ctx, job)
        benchmark.extra_info["record"] = record.model_dump(mode="json")
        self.records.append((benchmark.name, record))
        if self.out_dir is not None:
            write_record(record, self.out_dir)
        return record

    def note(self, name: str, text: str) -> None:
        """Add a line to the end-of-session summary (e.g. a measured ratio)."""
        self.extra_rows.append((name, text))


_SESSION_KEY = pytest.StashKey[TriggerbenchSession]()


def pytest_configure(config: pytest.Config) -> None:
    """Create the session state."""
    quick = config.getoption("--triggerbench-quick") or os.environ.get(QUICK_ENV) == "1"
    out = config.getoption("--triggerbench-out")
    config.stash[_SESSION_KEY] = TriggerbenchSession(quick=quick, out_dir=Path(out) if out else None)


@pytest.fixture(scope="session")
def triggerbench(pytestconfig: pytest.Config) -> TriggerbenchSession:
    """The triggerbench session: ``context(workload)``, ``measure(benchmark, ctx, ...)``."""
    return pytestconfig.stash[_SESSION_KEY]


#: The summary's columns after the benchmark's name (``reports.summary``).
SUMMARY_COLUMNS = (
    "p50", "p99", "p99.9", "verdict", "max_abs_diff", "power", "energy_per_inference",
    "inferences_per_j", "power_source",
)  # fmt: skip


def _row(name: str, record: BenchmarkRecord) -> list[str]:
    from triggerbench.reports import summary

    return [name, *summary.cells(record, SUMMARY_COLUMNS)]


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    """Print per benchmark what pytest-benchmark's table lacks: tails, verdict, accuracy, energy."""
    session = config.stash.get(_SESSION_KEY, None)
    if session is None or not (session.records or session.extra_rows):
        return
    from triggerbench.reports import summary

    header = ["benchmark", *summary.headers(SUMMARY_COLUMNS)]
    rows = [header] + [_row(n, r) for n, r in session.records]
    tr = terminalreporter
    if session.records:  # only side-by-side notes: no empty table
        tr.section("triggerbench: latency tails, validity, accuracy, power")
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        head, *body = summary.aligned(rows, widths)
        for line in (head, "  ".join("-" * w for w in widths), *body):
            tr.write_line(line)
        # What each power figure covers (a whole socket, one GPU, a TDP), once per distinct scope.
        powers = (summary.shown_power(r) for _, r in session.records)
        scopes = {(p.source.value, p.scope) for p in powers if p is not None}
        for source, scope in sorted(s for s in scopes if s[1]):
            tr.write_line(f"power scope ({source}): {scope}")
    for record_name, record in session.records:
        for line in summary.null_tails(record):
            tr.write_line(f"{record_name}: {line}")
        for warning in record.warnings:
            tr.write_line(f"warning {record_name}: {warning}")
    if session.extra_rows:
        tr.section("triggerbench: side-by-side ratios")
        for name, text in session.extra_rows:
            tr.write_line(f"{name}: {text}")
