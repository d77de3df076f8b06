import numpy as np
import pytest
from fake_queries import busy

from triggerbench.measure.settings import MeasureSettings
from triggerbench.measure.stats import LatencyStats, min_samples_for, stability_problems
from triggerbench.measure.tight_loop import harness_overhead_per_query_s, run_tight_loop, time_queries


def test_time_queries_meets_both_minimums():
    lat = time_queries(lambda: None, 0.05, 5000, 10_000_000)
    assert lat.size >= 5000 and lat.dtype == np.int64 and (lat > 0).all()
    slow = time_queries(busy(1000), 0.05, 3, 1_000)  # the duration decides here
    assert slow.size > 3 and slow.sum() >= 0.045e9
    assert time_queries(lambda: None, 10.0, 1, 100).size == 100  # max_queries caps it


def test_tight_loop_measures_a_known_latency():
    settings = MeasureSettings(warmup_s=0.01, min_duration_s=0.2, min_query_count=50, repeats=4)
    outcome = run_tight_loop(busy(200), 8, settings, harness_overhead_per_query_s=1e-7)
    perf = outcome.performance
    assert 190e-6 <= perf.latency_p50_s < 5e-3
    assert perf.latency_p50_s <= perf.latency_p99_s <= perf.latency_p999_s <= perf.latency_max_s
    assert perf.n_samples == perf.n_queries * 8
    assert abs(perf.throughput_samples_per_s / perf.throughput_queries_per_s - 8) < 1e-9
    assert perf.n_queries >= 50 and perf.n_warmup >= 5
    assert any("p99.9" in w for w in outcome.warnings)  # ~1000 queries is too few for p99.9


def test_overhead_is_small():
    noop_out = np.zeros(1)
    assert harness_overhead_per_query_s(lambda: noop_out) < 20e-6


def test_latency_stats_and_stability():
    stats = LatencyStats.from_ns(np.arange(1, 1001) * 1000)
    assert stats.p50_s == pytest.approx(500.5e-6) and stats.p99_s == pytest.approx(990.01e-6)
    assert stats.max_s == 1e-3 and stats.n_samples == 1000
    assert min_samples_for(99.9) == 10_000
    problems = stability_problems(20_000, np.array([100.0, 130.0, 70.0]))
    assert len(problems) == 1 and "unstable" in problems[0]
    assert stability_problems(20_000, np.array([100.0, 101.0, 99.0])) == []
