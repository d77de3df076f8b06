"""The tight timing loop for tiny models: perf_counter_ns around each query, nothing else.

LoadGen's Python callback costs microseconds per query, as much as a tiny model's inference;
this loop costs well under one (measured with the null runner and stored in every record).
"""

from __future__ import annotations

import time

import numpy as np

from triggerbench.measure.outcome import QueryFn, ScenarioOutcome
from triggerbench.measure.settings import MeasureSettings
from triggerbench.measure.stats import LatencyStats, rel_stdev, stability_problems
from triggerbench.schema import PerformanceFigures, Validity


def warm_up(query: QueryFn, settings: MeasureSettings) -> int:
    """Run untimed queries for ``warmup_s`` and at least ``warmup_queries``; return the count."""
    n = 0
    end_ns = time.perf_counter_ns() + int(settings.warmup_s * 1e9)
    while n < settings.warmup_queries or time.perf_counter_ns() < end_ns:
        query()
        n += 1
    return n


def time_queries(query: QueryFn, min_duration_s: float, min_queries: int, max_queries: int) -> np.ndarray:
    """Time queries back to back until both minimums are met; return latencies in ns."""
    perf_counter_ns = time.perf_counter_ns  # local name: one lookup fewer per query
    capacity = max(min_queries, 1024)
    latencies_ns = np.empty(capacity, np.int64)
    end_ns = perf_counter_ns() + int(min_duration_s * 1e9)
    n = 0
    while n < max_queries:
        if n == capacity:  # grow rarely, outside the timed region
            capacity *= 2
            latencies_ns = np.resize(latencies_ns, capacity)
        t0 = perf_counter_ns()
        query()
        t1 = perf_counter_ns()
        latencies_ns[n] = t1 - t0
        n += 1
        if n >= min_queries and t1 >= end_ns:
            break
    return latencies_ns[:n]


def calibrate_latency_s(query: QueryFn, duration_s: float = 0.1, min_queries: int = 10) -> float:
    """Mean latency of one query from a short loop (sets LoadGen's expected latency)."""
    lat = time_queries(query, duration_s, min_queries, 1_000_000)
    return float(np.mean(lat)) * 1e-9


def run_tight_loop(
    query: QueryFn,
    batch_size: int,
    settings: MeasureSettings,
    harness_overhead_per_query_s: float | None = None,
) -> ScenarioOutcome:
    """Single-stream latency and throughput with the tight loop, split into repeated windows."""
    n_warmup = warm_up(query, settings)
    window_s = settings.min_duration_s / settings.repeats
    window_queries = max(1, -(-settings.min_query_count // settings.repeats))
    windows = [
        time_queries(query, window_s, window_queries, settings.max_query_count)
        for _ in range(settings.repeats)
    ]
    latencies_ns = np.concatenate(windows)
    latency, null_reasons = LatencyStats.from_ns(latencies_ns).figures()
    window_qps = np.array([w.size / (w.sum() * 1e-9) for w in windows])
    busy_s = latencies_ns.sum() * 1e-9
    if harness_overhead_per_query_s is None:
        null_reasons["harness_overhead_per_query_s"] = "null runner not measured in this run"
    performance = PerformanceFigures(
        throughput_samples_per_s=latencies_ns.size * batch_size / busy_s,
        throughput_queries_per_s=latencies_ns.size / busy_s,
        **latency,
        n_queries=int(latencies_ns.size),
        n_samples=int(latencies_ns.size) * batch_size,
        n_warmup=n_warmup,
        duration_s=busy_s,
        harness_overhead_per_query_s=harness_overhead_per_query_s,
        repeat_throughput_rel_stdev=rel_stdev(window_qps),
        null_reasons=null_reasons,
    )
    return ScenarioOutcome(
        harness="tight-loop",
        performance=performance,
        validity=Validity(verdict="UNCHECKED", reasons=["the tight loop has no LoadGen verdict"]),
        settings={**settings.windows(), "repeats": settings.repeats},
        warnings=stability_problems(int(latencies_ns.size), window_qps),
    )


def harness_overhead_per_query_s(null_query: QueryFn, duration_s: float = 0.1) -> float:
    """Per-query cost of the loop itself: the median latency of a query that does no work."""
    return float(np.median(time_queries(null_query, duration_s, 2000, 10_000_000))) * 1e-9
