"""The one statistics vocabulary: percentiles of latency, throughput, and stability checks."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from triggerbench.errors import TriggerbenchUnstableWarning

#: pyperf's threshold: warn when the relative stdev of repeated runs reaches 10 %.
REL_STDEV_WARN = 0.10
#: A reported percentile q is thin (warned about) until this many samples lie beyond it:
#: n < TAIL_SAMPLES / (1 - q).
TAIL_SAMPLES = 10
#: The record field of each latency percentile.
PERCENTILE_FIELDS = {
    50.0: "latency_p50_s",
    90.0: "latency_p90_s",
    99.0: "latency_p99_s",
    99.9: "latency_p999_s",
}
#: Percentiles reported only when at least one query lies beyond them (MLPerf's rule, see
#: ``min_queries_for``); p50, max and mean are always reported.
TAIL_PERCENTILES = (90.0, 99.0, 99.9)


def _beyond(percentile: float, samples_beyond: int) -> int:
    # round(): 1 / (1 - 0.999) is 1000.0000000000009 in floating point.
    return int(math.ceil(round(samples_beyond / (1.0 - percentile / 100.0), 6)))


def min_queries_for(percentile: float) -> int:
    """Queries needed to report ``percentile`` at all: one lies beyond it (p90 10, p99 100, p99.9 1,000)."""
    return _beyond(percentile, 1)


def min_samples_for(percentile: float) -> int:
    """Samples needed before ``percentile`` (e.g. 99.9) rests on at least ``TAIL_SAMPLES``."""
    return _beyond(percentile, TAIL_SAMPLES)


def percentile_null_reason(percentile: float, n: int, noun: str = "queries") -> str | None:
    """Why ``percentile`` of ``n`` latencies is not reported, or None when it is."""
    need = min_queries_for(percentile)
    if percentile not in TAIL_PERCENTILES or n >= need:
        return None
    return f"p{percentile:g} needs >= {need:,} {noun}, {n:,} measured"


@dataclass(frozen=True)
class LatencyStats:
    """Latency distribution of ``n_samples`` queries, in seconds.

    The percentiles are the sample's, however few; ``figures`` applies the percentile rule.
    A None is a statistic the source did not give (LoadGen logs no stdev).
    """

    p50_s: float | None
    p90_s: float | None
    p99_s: float | None
    p999_s: float | None
    max_s: float | None
    mean_s: float | None
    stdev_s: float | None
    n_samples: int

    @classmethod
    def from_ns(cls, latencies_ns: np.ndarray) -> LatencyStats:
        """Summarize per-query latencies given in nanoseconds."""
        lat = np.asarray(latencies_ns, dtype=np.float64) * 1e-9
        if lat.size == 0:
            raise ValueError("no latencies to summarize")
        p50, p90, p99, p999 = np.percentile(lat, list(PERCENTILE_FIELDS))
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

    def figures(
        self, noun: str = "queries", missing: str = "not measured"
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """The ``PerformanceFigures`` latency fields and the reasons of their nulls.

        The one place latency statistics become record figures (tight loop, trigger stream,
        LoadGen): a tail percentile with no query beyond it (``min_queries_for``) is None with
        the reason, counted in ``noun``; any other None gets ``missing`` as its reason.

        Returns:
            ``latency_*`` field -> value (None where null), and field -> reason for each None.
        """
        values = {
            "latency_p50_s": self.p50_s,
            "latency_p90_s": self.p90_s,
            "latency_p99_s": self.p99_s,
            "latency_p999_s": self.p999_s,
            "latency_max_s": self.max_s,
            "latency_mean_s": self.mean_s,
            "latency_stdev_s": self.stdev_s,
        }
        reasons: dict[str, str] = {}
        for percentile in TAIL_PERCENTILES:
            reason = percentile_null_reason(percentile, self.n_samples, noun)
            if reason is not None:
                values[PERCENTILE_FIELDS[percentile]] = None
                reasons[PERCENTILE_FIELDS[percentile]] = reason
        for name, value in values.items():
            if value is None:
                reasons.setdefault(name, missing)
        return values, reasons


def rel_stdev(values: np.ndarray) -> float:
    """Relative standard deviation (stdev / mean) of repeated measurements."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.size < 2 or arr.mean() == 0:
        return 0.0
    return float(arr.std(ddof=1) / arr.mean())


def stability_problems(
    n_queries: int, repeat_throughputs: np.ndarray | None = None, percentiles=TAIL_PERCENTILES
) -> list[str]:
    """Return human-readable reasons why a measurement may not be trusted (empty if none).

    A percentile reported on fewer than ``TAIL_SAMPLES`` queries beyond it is thin; one with
    none beyond it is not reported at all (its null reason says so), so it is not warned about.
    """
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
        if min_queries_for(q) <= n_queries < need:
            problems.append(
                f"too few queries for p{q:g}: {n_queries} < {need}; raise min_query_count or min_duration_s"
            )
    return problems


def warn_all(problems: list[str]) -> None:
    """Emit each problem as a ``TriggerbenchUnstableWarning``."""
    for problem in problems:
        warnings.warn(problem, TriggerbenchUnstableWarning, stacklevel=2)
