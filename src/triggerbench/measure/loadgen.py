"""The four MLPerf LoadGen scenarios (single-stream, multi-stream, server, offline).

One LoadGen sample is one model sample, except in single-stream, where a LoadGen query (one
sample) stands for one batch, as in the tight loop. The system under test (SUT,
``loadgen_sut.ChunkedSut``) groups a LoadGen query's samples into chunks of ``batch_size`` and
runs ``query()`` once per chunk, then tells LoadGen those samples are complete. LoadGen writes
its verdict and statistics to ``mlperf_log_detail.txt`` / ``mlperf_log_summary.txt``; the
figures of the record are read back from the detail log, so what we report is what LoadGen
decided; its percentiles follow the percentile rule of ``stats`` (null without a query beyond
them), as every harness's do.

In the figures, a *query* is a LoadGen query (one batch in single-stream, 1 sample in server,
``multi_stream_samples_per_query`` in multi-stream, all samples at once in offline), not one
``query()`` call.

Requests in flight: in offline and server, a runner that offers an ``AsyncQueue`` gets each
chunk through ``queue.submit`` and its samples are completed from the queue's ``on_done``, so
up to ``n_in_flight`` chunks run at once (what keeps a GPU, or OpenVINO's CPU streams, busy).
Server asks for prompt completion (its latencies count from it); offline lets the queue complete
late (its figure is throughput, and a callback on the backend's thread slowed a small model
down by a third). The other scenarios, and runners without a queue, run ``query()``
synchronously (one in flight).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mlperf_loadgen as lg

from triggerbench import scenarios
from triggerbench.errors import UserInputError
from triggerbench.measure.loadgen_log import DetailLog, parse_detail_log, validity
from triggerbench.measure.loadgen_sut import ChunkedSut, noop, queue_calls_per_s, start_test
from triggerbench.measure.outcome import QueryFn, ScenarioOutcome
from triggerbench.measure.settings import WARMUP_FIELDS, MeasureSettings
from triggerbench.measure.stats import PERCENTILE_FIELDS, LatencyStats, stability_problems
from triggerbench.measure.tight_loop import warm_up
from triggerbench.runners.base import AsyncQueue
from triggerbench.schema import PerformanceFigures

#: LoadGen's scenario for each of ours that it runs (the table: ``triggerbench.scenarios``).
SCENARIOS: dict[str, Any] = {
    s.name: getattr(lg.TestScenario, s.loadgen) for s in scenarios.TABLE if s.loadgen is not None
}

#: LoadGen pre-generates its queries from the expected latency / QPS we give it; if the SUT is
#: faster than that, it runs out of queries before min_duration and the run is INVALID. We
#: under-promise latency (over-promise QPS) by this factor. LoadGen stops once min duration and
#: min query count are met, so the surplus costs only memory for the unused queries.
_SCHEDULE_HEADROOM = 2.0
#: Server latency bound when the settings give none: this many calibrated query latencies, but
#: no less than 1 ms (a Python process on a shared host sees scheduler stalls of that order).
_SERVER_LATENCY_FACTOR = 10.0
_SERVER_LATENCY_FLOOR_S = 1e-3
#: LoadGen's early-stopping check needs at least this many queries to estimate the target
#: percentile (p90 in single-stream, p99 in multi-stream and server; values LoadGen 6.0.17
#: reports for a run with every query within bound).
#: With fewer, the run is INVALID however good the SUT, so we raise min_query_count to it.
_EARLY_STOPPING_MIN_QUERIES = {"single-stream": 64, "multi-stream": 662, "server": 662}
#: Python's cost of completing one sample (a QuerySampleResponse and its share of the
#: QuerySamplesComplete call): the null runner's offline throughput here was 1.17 M samples/s
#: at batch 64 (0.85 us/sample) and 0.49 M/s at batch 1. It bounds the offline schedule.
_COMPLETE_COST_PER_SAMPLE_S = 1e-6
#: How long the no-op run of ``loadgen_overhead_per_query_s`` lasts at most.
_OVERHEAD_RUN_S = 0.3
#: Expected latency given to LoadGen for the no-op query (it answers in ~10-30 us).
_OVERHEAD_EXPECTED_LATENCY_S = 5e-6


def _test_settings(
    scenario: str,
    batch_size: int,
    settings: MeasureSettings,
    calibrated_latency_s: float,
    queue_calls_per_s: float | None = None,
    requests_in_flight: int = 1,
) -> tuple[Any, dict[str, Any]]:
    """Build LoadGen's TestSettings from ours; also return what was set as a record-ready dict.

    ``queue_calls_per_s`` is the rate of ``query`` calls with ``requests_in_flight`` kept busy
    (offline and server with a queue); it replaces ``1 / calibrated_latency_s`` as the SUT's
    capacity.
    """
    # The SUT's time per query() call at full load: one call at a time, or N in flight.
    call_period_s = 1.0 / queue_calls_per_s if queue_calls_per_s else calibrated_latency_s
    min_query_count = max(settings.min_query_count, _EARLY_STOPPING_MIN_QUERIES.get(scenario, 1))
    values: dict[str, Any] = {
        "min_duration_ms": max(1, round(settings.min_duration_s * 1e3)),
        "min_query_count": min_query_count,
        "max_query_count": max(settings.max_query_count, min_query_count),
    }
    # LoadGen schedules from these (ns values are integers >= 1).
    if scenario == "single-stream":
        values["single_stream_expected_latency_ns"] = max(
            1, int(calibrated_latency_s * 1e9 / _SCHEDULE_HEADROOM)
        )
    elif scenario == "multi-stream":
        per_query = settings.multi_stream_samples_per_query
        calls_per_query = math.ceil(per_query / batch_size)
        values["multi_stream_samples_per_query"] = per_query
        values["multi_stream_expected_latency_ns"] = max(
            1, int(calls_per_query * calibrated_latency_s * 1e9 / _SCHEDULE_HEADROOM)
        )
    elif scenario == "server":
        # A server query is one sample, and each runs one (padded) query() call: the capacity is
        # calls per second, whatever the batch size.
        capacity_qps = 1.0 / call_period_s
        # With N in flight a query waits behind up to N - 1 others (Little's law: N x period).
        busy_latency_s = max(calibrated_latency_s, requests_in_flight * call_period_s)
        target_latency_s = settings.server_target_latency_s or max(
            _SERVER_LATENCY_FACTOR * busy_latency_s, _SERVER_LATENCY_FLOOR_S
        )
        values["server_target_qps"] = settings.server_load_frac * capacity_qps
        values["server_target_latency_ns"] = max(1, int(target_latency_s * 1e9))
    else:  # offline: samples per second
        # Completing a sample costs Python ~1 us on top of the model; without it a model
        # that answers in 100 ns would have LoadGen generate (and us complete) 10^8 samples.
        per_batch_s = call_period_s + batch_size * _COMPLETE_COST_PER_SAMPLE_S
        values["offline_expected_qps"] = _SCHEDULE_HEADROOM * batch_size / per_batch_s
    ts = lg.TestSettings()
    ts.scenario = SCENARIOS[scenario]
    ts.mode = lg.TestMode.PerformanceOnly
    for name, value in values.items():
        setattr(ts, name, value)
    record = {
        "loadgen_scenario": str(ts.scenario).split(".")[-1],
        "loadgen_mode": "PerformanceOnly",
        **values,
        "batch_size": batch_size,
        "calibrated_latency_s": calibrated_latency_s,
        "schedule_headroom": _SCHEDULE_HEADROOM,
        "requests_in_flight": requests_in_flight,
    }
    if queue_calls_per_s:
        record["calibrated_queue_calls_per_s"] = queue_calls_per_s
    if scenario == "server":
        record["server_load_frac"] = settings.server_load_frac
    if scenario == "single-stream":
        # LoadGen's single-stream query holds one sample; here it stands for one batch, as in
        # the tight loop, so both harnesses count batch_size samples per query.
        record["samples_per_query"] = batch_size
        record["loadgen_sample"] = "one batch of batch_size samples"
    elif scenario != "offline":
        record["samples_per_query"] = values.get("multi_stream_samples_per_query", 1)
    return ts, record


def _ns_to_s(value: Any) -> float | None:
    return None if value is None else float(value) * 1e-9


def _latency_stats(scenario: str, values: dict[str, Any]) -> LatencyStats:
    """LoadGen's latency distribution from its detail log (None where it logged no value)."""
    # Multi-stream logs per-query keys (result_50.00_percentile_per_query_latency_ns); the
    # others log per-sample keys, which equal per-query ones for 1 sample/query.
    infix = "_per_query" if scenario == "multi-stream" else ""
    mid = "_query" if scenario == "multi-stream" else ""
    p50, p90, p99, p999 = (
        _ns_to_s(values.get(f"result_{pct:.2f}_percentile{infix}_latency_ns")) for pct in PERCENTILE_FIELDS
    )
    return LatencyStats(
        p50_s=p50,
        p90_s=p90,
        p99_s=p99,
        p999_s=p999,
        max_s=_ns_to_s(values.get(f"result_max{mid}_latency_ns")),
        mean_s=_ns_to_s(values.get(f"result_mean{mid}_latency_ns")),
        stdev_s=None,
        # LoadGen's own percentiles of result_query_count queries: the same rule nulls them.
        n_samples=int(values.get("result_query_count") or 0),
    )


def _performance(
    scenario: str,
    detail: DetailLog,
    sut: ChunkedSut,
    samples_per_query: int | None,
    n_warmup: int,
    overhead_s: float | None,
) -> PerformanceFigures:
    """Map LoadGen's detail-log results onto ``PerformanceFigures``."""
    v = detail.values
    n_queries = v.get("result_query_count")
    figures: dict[str, Any] = {"n_queries": n_queries, "n_warmup": n_warmup}
    reasons: dict[str, str] = {}
    if sut.first_issue_ns is not None and sut.last_complete_ns is not None:
        # LoadGen reports no duration; the SUT's own clock spans first issue to last
        # completion, the same span LoadGen divides by.
        figures["duration_s"] = (sut.last_complete_ns - sut.first_issue_ns) * 1e-9
    else:
        reasons["duration_s"] = "the SUT received no query"

    if scenario == "offline":
        figures["n_samples"] = v.get("generated_samples_per_query")
        figures["throughput_samples_per_s"] = v.get("result_samples_per_second")
        reasons["throughput_queries_per_s"] = "offline issues all samples as one LoadGen query"
        why = "offline issues one query; LoadGen reports no per-query latency distribution"
        for name in (*PERCENTILE_FIELDS.values(), "latency_max_s", "latency_mean_s"):
            reasons[name] = why
    else:
        if n_queries is not None and samples_per_query is not None:
            figures["n_samples"] = n_queries * samples_per_query
        if scenario == "single-stream":
            # "with loadgen overhead" spans issue to issue, the rate a user would get;
            # "without" is 1 / mean latency.
            qps = v.get("result_qps_with_loadgen_overhead")
        elif scenario == "server":
            completed = v.get("result_completed_samples_per_sec")
            qps = None if completed is None else completed / (samples_per_query or 1)
        else:  # multi-stream: LoadGen 6.0.17 logs no throughput, so use the SUT's clock
            duration_s = figures.get("duration_s")
            qps = n_queries / duration_s if n_queries and duration_s else None
        figures["throughput_queries_per_s"] = qps
        if qps is not None and samples_per_query is not None:
            figures["throughput_samples_per_s"] = qps * samples_per_query
        latency, latency_reasons = _latency_stats(scenario, v).figures(
            missing="LoadGen's detail log did not report it"
        )
        figures.update(latency)
        reasons.update(latency_reasons)

    reasons["latency_stdev_s"] = "LoadGen reports no standard deviation"
    reasons["repeat_throughput_rel_stdev"] = "LoadGen runs one measurement window"
    if overhead_s is not None:
        figures["harness_overhead_per_query_s"] = overhead_s
    else:
        reasons["harness_overhead_per_query_s"] = "not measured in this run; see loadgen_overhead_per_query_s"
    for name in PerformanceFigures.model_fields:
        if name != "null_reasons" and figures.get(name) is None and name not in reasons:
            reasons[name] = "LoadGen's detail log did not report it"
    kept = {k: val for k, val in figures.items() if val is not None}
    return PerformanceFigures(**kept, null_reasons=reasons)


def run_loadgen(
    scenario: str,
    query: QueryFn,
    batch_size: int,
    settings: MeasureSettings,
    log_dir: Path,
    calibrated_latency_s: float,
    *,
    harness_overhead_per_query_s: float | None = None,
    open_queue: Callable[..., AsyncQueue | None] | None = None,
) -> ScenarioOutcome:
    """Run one MLPerf LoadGen scenario on ``query`` and read LoadGen's results back.

    ``query()`` runs on LoadGen's issue thread, not on the caller's thread; backends with
    thread-bound state (a CUDA context made current on one
    thread) must allow that.

    Args:
        scenario: "single-stream", "multi-stream", "server" or "offline".
        query: Runs one batch of ``batch_size`` samples synchronously.
        batch_size: Samples per ``query()`` call.
        settings: Durations, query counts and the scenario settings.
        log_dir: Where LoadGen writes ``mlperf_log_summary.txt`` and ``mlperf_log_detail.txt``
            (created if missing).
        calibrated_latency_s: Mean latency of one ``query()`` from the caller's short tight
            loop; LoadGen's schedule (expected latency, target QPS) is derived from it.
        harness_overhead_per_query_s: From ``loadgen_overhead_per_query_s``, if the caller
            measured it; stored in the figures as is.
        open_queue: ``open_queue(prompt=...)`` gives the runner's ``AsyncQueue`` on the same
            staged batch as ``query`` (``Runner.async_queue``), or None. Offline and server
            (``scenarios.queued``) open it and issue through it, with LoadGen's schedule set
            from a short burst of the queue (``queue_calls_per_s``), and close it at the end;
            the other scenarios never call it.

    Returns:
        The outcome with harness "loadgen", LoadGen's verdict and the figures it reported;
        ``requests_in_flight`` is the queue's ``n_in_flight`` where it was used, else 1.

    Raises:
        UserInputError: For an unknown scenario or a non-positive batch size or latency.

    """
    if scenario not in SCENARIOS:
        raise UserInputError(f"unknown LoadGen scenario {scenario!r}; one of {sorted(SCENARIOS)}")
    if batch_size < 1:
        raise UserInputError(f"batch_size must be >= 1, got {batch_size}")
    if not calibrated_latency_s > 0:
        raise UserInputError(f"calibrated_latency_s must be > 0, got {calibrated_latency_s}")
    log_dir = Path(log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    n_warmup = warm_up(query, settings)
    queue = None
    if open_queue is not None and scenarios.queued(scenario):
        # prompt: the server times each query, so its on_done must not wait for the others'.
        queue = open_queue(prompt=scenario == "server")
    try:
        calls_per_s = queue_calls_per_s(queue) if queue is not None else None
        in_flight = queue.n_in_flight if queue is not None else 1
        test_settings, settings_record = _test_settings(
            scenario, batch_size, settings, calibrated_latency_s, calls_per_s, in_flight
        )
        sut = ChunkedSut(query, batch_size, queue)
        start_test(sut, test_settings, log_dir)
    finally:
        if queue is not None:
            queue.close()

    detail = parse_detail_log(log_dir / "mlperf_log_detail.txt")
    # LoadGen's own min_duration_ms / min_query_count / max_query_count are already there.
    settings_record.update(settings.windows(WARMUP_FIELDS))
    settings_record["loadgen_version"] = detail.values.get("loadgen_version")
    settings_record["query_fn_calls"] = sut.n_query_calls
    samples_per_query = settings_record.get("samples_per_query")
    performance = _performance(
        scenario, detail, sut, samples_per_query, n_warmup, harness_overhead_per_query_s
    )
    warnings: list[str] = []
    if scenario != "offline" and performance.n_queries is not None:
        warnings += stability_problems(performance.n_queries, None)
    return ScenarioOutcome(
        harness="loadgen",
        performance=performance,
        validity=validity(detail, log_dir),
        settings=settings_record,
        warnings=warnings,
        requests_in_flight=in_flight,
    )


def loadgen_overhead_per_query_s(settings: MeasureSettings, log_dir: Path) -> float:
    """Mean single-stream latency LoadGen reports for a query that does nothing.

    This is the cost of the harness itself (LoadGen issuing a query into Python, the callback,
    and QuerySamplesComplete back into LoadGen) that every single-stream latency includes.
    Run it once per session, not per measurement.
    """
    short = settings.model_copy(
        update={"min_duration_s": min(settings.min_duration_s, _OVERHEAD_RUN_S), "warmup_s": 0.0}
    )
    outcome = run_loadgen("single-stream", noop, 1, short, Path(log_dir), _OVERHEAD_EXPECTED_LATENCY_S)
    assert outcome.performance is not None
    mean_s = outcome.performance.latency_mean_s
    if mean_s is None:
        raise RuntimeError(f"LoadGen reported no mean latency in {log_dir}")
    return mean_s
