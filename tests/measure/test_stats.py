"""The percentile rule and the one conversion of latency statistics into record figures."""

import numpy as np
import pytest

from triggerbench.measure.stats import (
    PERCENTILE_FIELDS,
    LatencyStats,
    min_queries_for,
    min_samples_for,
    percentile_null_reason,
    stability_problems,
)
from triggerbench.schema import PerformanceFigures


def test_a_percentile_needs_one_query_beyond_it():
    assert [min_queries_for(q) for q in (90.0, 99.0, 99.9)] == [10, 100, 1_000]
    assert [min_samples_for(q) for q in (90.0, 99.0, 99.9)] == [100, 1_000, 10_000]
    assert percentile_null_reason(99.0, 64) == "p99 needs >= 100 queries, 64 measured"
    assert percentile_null_reason(99.9, 999, "events") == "p99.9 needs >= 1,000 events, 999 measured"
    assert percentile_null_reason(99.0, 100) is None and percentile_null_reason(99.9, 1_000) is None
    assert percentile_null_reason(50.0, 1) is None  # p50 is always reported


@pytest.mark.parametrize(
    ("n", "nulls"),
    [
        (1, {"latency_p90_s", "latency_p99_s", "latency_p999_s"}),
        (9, {"latency_p90_s", "latency_p99_s", "latency_p999_s"}),
        (10, {"latency_p99_s", "latency_p999_s"}),
        (99, {"latency_p99_s", "latency_p999_s"}),
        (100, {"latency_p999_s"}),
        (999, {"latency_p999_s"}),
        (1_000, set()),
    ],
)
def test_figures_null_the_percentiles_without_a_query_beyond(n, nulls):
    stats = LatencyStats.from_ns(np.arange(1, n + 1) * 1_000)
    values, reasons = stats.figures()
    assert {name for name, v in values.items() if v is None} == nulls
    assert set(reasons) == nulls
    for name in nulls:
        pct = next(q for q, field in PERCENTILE_FIELDS.items() if field == name)
        assert reasons[name] == f"p{pct:g} needs >= {min_queries_for(pct):,} queries, {n:,} measured"
    # p50, max and mean always; the fields fit PerformanceFigures as they are
    assert values["latency_p50_s"] == stats.p50_s and values["latency_max_s"] == pytest.approx(n * 1e-6)
    assert values["latency_mean_s"] == pytest.approx((n + 1) / 2 * 1e-6)
    others = {
        name: 1.0 for name in PerformanceFigures.model_fields if not name.startswith(("latency", "null"))
    }
    figures = PerformanceFigures(**{**others, "emulated": False}, **values, null_reasons=reasons)
    assert figures.latency_p99_s == (None if "latency_p99_s" in nulls else stats.p99_s)


def test_figures_give_missing_statistics_their_reason():
    stats = LatencyStats(
        p50_s=1e-3, p90_s=None, p99_s=2e-3, p999_s=3e-3, max_s=4e-3, mean_s=1e-3, stdev_s=None, n_samples=500
    )
    values, reasons = stats.figures(noun="events", missing="the log did not report it")
    assert values["latency_p99_s"] == 2e-3 and values["latency_p999_s"] is None
    assert reasons == {
        "latency_p90_s": "the log did not report it",
        "latency_p999_s": "p99.9 needs >= 1,000 events, 500 measured",
        "latency_stdev_s": "the log did not report it",
    }


def test_latency_stats_and_stability():
    stats = LatencyStats.from_ns(np.arange(1, 1001) * 1000)
    assert stats.p50_s == pytest.approx(500.5e-6) and stats.p99_s == pytest.approx(990.01e-6)
    assert stats.max_s == 1e-3 and stats.n_samples == 1000
    problems = stability_problems(20_000, np.array([100.0, 130.0, 70.0]))
    assert len(problems) == 1 and "unstable" in problems[0]
    assert stability_problems(20_000, np.array([100.0, 101.0, 99.0])) == []


@pytest.mark.parametrize(
    ("n", "thin"),
    [(5, []), (10, ["p90"]), (99, ["p90"]), (100, ["p99"]), (999, ["p99"]), (1_000, ["p99.9"]), (10_000, [])],
)
def test_only_reported_but_thin_percentiles_are_warned_about(n, thin):
    # Below min_queries_for the figure is null (its reason says why); up to TAIL_SAMPLES beyond
    # it, it is reported and warned about.
    problems = stability_problems(n)
    assert [p.split(":")[0].rsplit(" ", 1)[-1] for p in problems] == thin
