import math
import threading

import pytest
from fake_queries import busy

from triggerbench.errors import UserInputError
from triggerbench.measure.loadgen import loadgen_overhead_per_query_s, parse_detail_log, run_loadgen
from triggerbench.measure.settings import MeasureSettings
from triggerbench.schema import ScenarioInfo

QUERY_US = 50
#: The calibrated latency handed to LoadGen. The busy query never answers sooner than this (it
#: spins on the wall clock; a busy host only makes it slower), so LoadGen's schedule, derived from
#: it, can only outlast min_duration, never run out of queries early: the VALID verdicts asserted
#: below hold however fast or loaded the host is. (A latency measured in a short loop here, as
#: before, could come out slow on a loaded host and leave LoadGen too few queries: INVALID.)
LATENCY_S = QUERY_US * 1e-6
SETTINGS = MeasureSettings(
    warmup_s=0.01,
    warmup_queries=5,
    min_duration_s=0.3,
    min_query_count=100,
    multi_stream_samples_per_query=8,
    server_target_latency_s=0.05,
    server_load_frac=0.3,
)


@pytest.fixture(scope="module")
def query():
    return busy(QUERY_US)


def check_sections(outcome, scenario: str, log_dir) -> None:
    """The sections survive the record's JSON round trip, and the verdict is LoadGen's own."""
    for section in (outcome.performance, outcome.validity):
        assert type(section).model_validate_json(section.model_dump_json()) == section
    ScenarioInfo(name=scenario, harness=outcome.harness, settings=outcome.settings)  # scalars only
    logged = parse_detail_log(log_dir / "mlperf_log_detail.txt").values
    assert outcome.validity.verdict == logged["result_validity"]
    assert outcome.validity.loadgen_log_dir == str(log_dir)
    assert outcome.settings["loadgen_version"] == logged["loadgen_version"]


def test_single_stream_is_valid_with_consistent_figures(tmp_path, query):
    outcome = run_loadgen("single-stream", query, 1, SETTINGS, tmp_path / "ss", LATENCY_S)
    check_sections(outcome, "single-stream", tmp_path / "ss")
    assert outcome.harness == "loadgen"
    assert outcome.validity.verdict == "VALID", outcome.validity.reasons
    assert (tmp_path / "ss" / "mlperf_log_summary.txt").is_file()
    perf = outcome.performance
    assert perf.latency_p50_s >= QUERY_US * 1e-6  # the busy-wait's floor; no ceiling: hosts differ
    # >= 100 queries (min_query_count): p99 is reported; p99.9 only where 1,000 queries ran
    assert perf.latency_p50_s <= perf.latency_p90_s <= perf.latency_p99_s <= perf.latency_max_s
    if perf.n_queries < 1_000:
        reason = f"p99.9 needs >= 1,000 queries, {perf.n_queries} measured"
        assert perf.latency_p999_s is None and perf.null_reasons["latency_p999_s"] == reason
    else:
        assert perf.latency_p99_s <= perf.latency_p999_s <= perf.latency_max_s
    assert perf.n_samples == perf.n_queries >= SETTINGS.min_query_count
    assert outcome.settings["query_fn_calls"] == perf.n_queries
    assert perf.duration_s >= SETTINGS.min_duration_s * 0.95
    # issue-to-issue throughput cannot beat one query per mean latency
    assert perf.throughput_queries_per_s <= 1.05 / perf.latency_mean_s
    assert perf.latency_stdev_s is None and "latency_stdev_s" in perf.null_reasons
    # LoadGen is promised half the calibrated latency (the schedule's headroom)
    assert outcome.settings["single_stream_expected_latency_ns"] == pytest.approx(LATENCY_S * 1e9 / 2, abs=1)
    # at most 0.3 s / 50 us = 6,000 queries, fewer than a solid p99.9 needs (10,000), on any
    # host: null below 1,000, else reported and warned about
    assert perf.latency_p999_s is None or any("p99.9" in w for w in outcome.warnings)
    for name in ("warmup_s", "warmup_queries", "min_duration_ms", "min_query_count", "max_query_count"):
        assert name in outcome.settings
    assert outcome.settings["window_preset"] == "custom"


def _detail(n_queries: int, infix: str = "", mid: str = "") -> dict:
    values = {"result_query_count": n_queries, "result_qps_with_loadgen_overhead": 1000.0}
    for pct, ns in (("50.00", 1_000), ("90.00", 2_000), ("99.00", 3_000), ("99.90", 4_000)):
        values[f"result_{pct}_percentile{infix}_latency_ns"] = ns
    values[f"result_max{mid}_latency_ns"] = 5_000
    values[f"result_mean{mid}_latency_ns"] = 1_200
    return values


@pytest.mark.parametrize(
    ("n", "p99", "p999"), [(99, None, None), (100, 3e-6, None), (999, 3e-6, None), (1_000, 3e-6, 4e-6)]
)
@pytest.mark.parametrize("scenario", ["single-stream", "multi-stream"])
def test_loadgen_percentiles_are_nulled_by_its_query_count(scenario, n, p99, p999):
    # LoadGen's own percentiles, read from a detail log written here: the count is exact.
    from types import SimpleNamespace

    from triggerbench.measure import loadgen
    from triggerbench.measure.loadgen_log import DetailLog

    multi = scenario == "multi-stream"
    values = _detail(n, "_per_query" if multi else "", "_query" if multi else "")
    sut = SimpleNamespace(first_issue_ns=0, last_complete_ns=10**9)
    perf = loadgen._performance(scenario, DetailLog(values=values), sut, 1, 5, None)
    assert perf.latency_p50_s == pytest.approx(1e-6) and perf.latency_p90_s == pytest.approx(2e-6)
    assert perf.latency_max_s == pytest.approx(5e-6) and perf.latency_mean_s == pytest.approx(1.2e-6)
    assert perf.latency_p99_s == (None if p99 is None else pytest.approx(p99))
    assert perf.latency_p999_s == (None if p999 is None else pytest.approx(p999))
    if p99 is None:
        assert perf.null_reasons["latency_p99_s"] == f"p99 needs >= 100 queries, {n} measured"
    if p999 is None:
        assert perf.null_reasons["latency_p999_s"] == f"p99.9 needs >= 1,000 queries, {n} measured"
    assert perf.null_reasons["latency_stdev_s"] == "LoadGen reports no standard deviation"


def test_single_stream_query_is_one_batch_as_in_the_tight_loop(tmp_path, query):
    outcome = run_loadgen("single-stream", query, 4, SETTINGS, tmp_path / "ss4", LATENCY_S)
    check_sections(outcome, "single-stream", tmp_path / "ss4")
    perf = outcome.performance
    assert outcome.validity.verdict == "VALID", outcome.validity.reasons
    assert perf.n_samples == 4 * perf.n_queries == 4 * outcome.settings["query_fn_calls"]
    assert perf.throughput_samples_per_s == pytest.approx(4 * perf.throughput_queries_per_s)


def test_multi_stream_counts_samples_per_query(tmp_path, query):
    outcome = run_loadgen("multi-stream", query, 4, SETTINGS, tmp_path / "ms", LATENCY_S)
    check_sections(outcome, "multi-stream", tmp_path / "ms")
    assert outcome.validity.verdict == "VALID", outcome.validity.reasons
    perf = outcome.performance
    assert perf.n_samples == perf.n_queries * 8
    assert outcome.settings["query_fn_calls"] == perf.n_queries * 2  # 8 samples in batches of 4
    # LoadGen needs 662 queries to estimate p99 (early stopping): min_query_count was raised
    assert outcome.settings["min_query_count"] >= 662 and perf.n_queries >= 662
    assert perf.latency_p50_s >= 2 * QUERY_US * 1e-6  # two query() calls per LoadGen query
    assert perf.throughput_samples_per_s == pytest.approx(perf.throughput_queries_per_s * 8)


def test_server_offers_the_target_load_and_only_latency_can_fail_it(tmp_path, query):
    outcome = run_loadgen("server", query, 1, SETTINGS, tmp_path / "srv", LATENCY_S)
    check_sections(outcome, "server", tmp_path / "srv")
    perf = outcome.performance
    target_qps = outcome.settings["server_target_qps"]
    assert target_qps == pytest.approx(0.3 / LATENCY_S)
    assert outcome.settings["server_target_latency_ns"] == 50_000_000
    assert perf.n_samples == perf.n_queries == outcome.settings["query_fn_calls"]
    # Completions cannot outrun LoadGen's arrival schedule (its seed is fixed); how close a host
    # comes to it, and whether it meets the latency bound at this load, is a speed figure for
    # benchmarks/ (test_inference.py::test_scenario). Here: the verdict is consistent with it.
    assert 0 < perf.throughput_queries_per_s <= 1.2 * target_qps
    reasons = outcome.validity.reasons
    if outcome.validity.verdict == "VALID":
        assert perf.latency_p99_s <= 0.05
    else:
        assert reasons and "min duration not met" not in reasons and "min query count not met" not in reasons


def test_offline_has_throughput_but_no_latency(tmp_path, query):
    outcome = run_loadgen("offline", query, 4, SETTINGS, tmp_path / "off", LATENCY_S)
    check_sections(outcome, "offline", tmp_path / "off")
    assert outcome.validity.verdict == "VALID", outcome.validity.reasons
    perf = outcome.performance
    assert perf.n_queries == 1
    assert outcome.settings["query_fn_calls"] == math.ceil(perf.n_samples / 4)
    for name in ("latency_p50_s", "latency_p99_s", "latency_mean_s", "throughput_queries_per_s"):
        assert getattr(perf, name) is None and perf.null_reasons[name]
    # a 50 us busy-wait per batch of 4 caps the rate on any host (no floor: a busy host is slower)
    assert 0 < perf.throughput_samples_per_s <= 1.02 * 4 / (QUERY_US * 1e-6)
    # LoadGen's rate and the SUT's own clock describe the same run (not a factor 4 or 1e9 apart)
    assert perf.throughput_samples_per_s * perf.duration_s == pytest.approx(perf.n_samples, rel=0.25)
    assert outcome.warnings == []


def test_bad_calibration_is_invalid(tmp_path, query):
    # A calibration of 1 s for a 50 us query: LoadGen pre-generates its minimum of 100 queries,
    # which end long before the 10 s min duration (unless a query took 100 ms on average, 2,000
    # times its spin), and says so.
    settings = SETTINGS.model_copy(update={"min_duration_s": 10.0})
    outcome = run_loadgen("single-stream", query, 1, settings, tmp_path / "bad", 1.0)
    check_sections(outcome, "single-stream", tmp_path / "bad")
    assert outcome.validity.verdict == "INVALID"
    assert "min duration not met" in outcome.validity.reasons
    assert any("expected latency" in r for r in outcome.validity.reasons)
    assert outcome.performance.duration_s < settings.min_duration_s


def test_overhead_of_a_noop_query_is_loadgens_mean_latency(tmp_path):
    overhead_s = loadgen_overhead_per_query_s(SETTINGS, tmp_path / "ovh")
    logged = parse_detail_log(tmp_path / "ovh" / "mlperf_log_detail.txt").values
    assert overhead_s > 0  # its size is a speed figure: benchmarks/test_versus_bare.py reports it
    assert overhead_s == pytest.approx(logged["result_mean_latency_ns"] * 1e-9)


def test_overhead_is_recorded_when_given(tmp_path):
    outcome = run_loadgen(
        "single-stream",
        lambda: None,
        1,
        SETTINGS.model_copy(update={"min_duration_s": 0.05}),
        tmp_path,
        5e-6,
        harness_overhead_per_query_s=7e-6,
    )
    assert outcome.performance.harness_overhead_per_query_s == 7e-6
    assert "harness_overhead_per_query_s" not in outcome.performance.null_reasons


def test_failing_query_raises_after_loadgen_ends(tmp_path):
    calls = 0

    def query():
        nonlocal calls
        calls += 1
        if calls > 20:  # past the warm-up, inside LoadGen's callback
            raise RuntimeError("backend died")

    short = SETTINGS.model_copy(update={"min_duration_s": 0.05, "warmup_s": 0.0})
    with pytest.raises(RuntimeError, match="backend died"):
        run_loadgen("single-stream", query, 1, short, tmp_path, 10e-6)


def test_bad_arguments():
    with pytest.raises(UserInputError):
        run_loadgen("nope", lambda: None, 1, SETTINGS, None, 1e-3)
    with pytest.raises(UserInputError):
        run_loadgen("offline", lambda: None, 0, SETTINGS, None, 1e-3)
    with pytest.raises(UserInputError):
        run_loadgen("offline", lambda: None, 1, SETTINGS, None, 0.0)


def test_parse_detail_log(tmp_path):
    path = tmp_path / "mlperf_log_detail.txt"
    meta = '"metadata": {{"is_error": {e}, "is_warning": {w}}}'
    path.write_text(
        "\n".join(
            [
                ':::MLLOG {"key": "result_validity", "value": "VALID", '
                + meta.format(e="false", w="false")
                + "}",
                ':::MLLOG {"key": "warning_generic_message", "value": "careful", '
                + meta.format(e="false", w="true")
                + "}",
                ':::MLLOG {"key": "error_invalid_test_settings", "value": "bad", '
                + meta.format(e="true", w="false")
                + "}",
                ":::MLLOG {not json",
                "plain text line",
            ]
        )
    )
    log = parse_detail_log(path)
    assert log.values["result_validity"] == "VALID"
    assert log.warnings == ["warning_generic_message: careful"]
    assert log.errors == ["error_invalid_test_settings: bad"]
    assert log.unparsed_lines == 1


@pytest.fixture
def completions(monkeypatch):
    """Every sample id LoadGen is told is complete, in order (the real call still runs)."""
    from triggerbench.measure import loadgen

    seen: list[int] = []
    real = loadgen.lg.QuerySamplesComplete

    def spy(responses):
        seen.extend(r.id for r in responses)
        real(responses)

    monkeypatch.setattr(loadgen.lg, "QuerySamplesComplete", spy)
    return seen


@pytest.fixture
def fixed_queue_rate(monkeypatch):
    """The queue's calibrated rate, fixed at what the fake device can never beat (1 / 50 us).

    The device spins 50 us per query on one thread, so LoadGen's schedule can only outlast
    min_duration (VALID on any host); and the queue starts fresh at query 1 in LoadGen's run.
    """
    from triggerbench.measure import loadgen

    monkeypatch.setattr(loadgen, "queue_calls_per_s", lambda queue: 1 / LATENCY_S)


def all_once(ids: list[int], n_samples: int) -> bool:
    return len(ids) == n_samples and len(set(ids)) == n_samples


@pytest.mark.parametrize("scenario", ["offline", "server"])
def test_queue_keeps_n_in_flight_and_completes_each_sample_once(
    tmp_path, query, completions, fixed_queue_rate, scenario
):
    from fake_runners import BatchingQueue

    queue = BatchingQueue(3)
    opened = []

    def open_queue(prompt: bool) -> BatchingQueue:
        opened.append(prompt)
        return queue

    outcome = run_loadgen(scenario, query, 4, SETTINGS, tmp_path / scenario, LATENCY_S, open_queue=open_queue)
    check_sections(outcome, scenario, tmp_path / scenario)
    # server's latencies count from each completion: it asks for prompt ones; offline needn't
    assert opened == [scenario == "server"] and queue.closed
    perf = outcome.performance
    assert outcome.requests_in_flight == 3 == outcome.settings["requests_in_flight"]
    assert outcome.settings["calibrated_queue_calls_per_s"] == pytest.approx(1 / LATENCY_S)
    # The device starts only with 3 queued: the harness submitted without waiting for any.
    assert queue.max_group == 3
    assert outcome.settings["query_fn_calls"] == queue.n_submitted == queue.n_done
    # completed from the device's thread, each sample exactly once
    assert threading.get_ident() not in queue.callback_threads
    assert all_once(completions, perf.n_samples)
    if scenario == "offline":
        assert outcome.validity.verdict == "VALID", outcome.validity.reasons
        assert queue.n_submitted == math.ceil(perf.n_samples / 4)
    else:
        assert queue.n_submitted == perf.n_queries  # one sample per server query
        # ... and one query() call per query: the load offered is calls/s, not samples/s
        assert outcome.settings["server_target_qps"] == pytest.approx(0.3 / LATENCY_S)


def test_single_stream_never_opens_the_queue(tmp_path, query):
    def open_queue(prompt: bool) -> None:
        raise AssertionError("single-stream opened the queue")

    short = SETTINGS.model_copy(update={"min_duration_s": 0.05})
    outcome = run_loadgen("single-stream", query, 1, short, tmp_path, LATENCY_S, open_queue=open_queue)
    assert outcome.requests_in_flight == 1 == outcome.settings["requests_in_flight"]
    assert "calibrated_queue_calls_per_s" not in outcome.settings


def test_a_query_failing_in_the_queue_raises_once_loadgen_ends(
    tmp_path, query, completions, fixed_queue_rate
):
    from fake_runners import BatchingQueue

    # Query 20 fails on the device and never calls back: its samples, and those of every chunk
    # after it, must still be completed, or LoadGen would wait for them forever.
    queue = BatchingQueue(3, fail_at=20)
    with pytest.raises(RuntimeError, match="device lost at query 20"):
        run_loadgen("offline", query, 4, SETTINGS, tmp_path, LATENCY_S, open_queue=lambda prompt: queue)
    assert queue.closed
    assert len(completions) == len(set(completions)) > 20 * 4
    assert queue.n_submitted < 30  # nothing submitted once the error was seen


def test_queue_calibration_burst_keeps_every_request_busy():
    from fake_runners import BatchingQueue

    from triggerbench.measure.loadgen import queue_calls_per_s

    queue = BatchingQueue(4)
    rate = queue_calls_per_s(queue, duration_s=0.01)
    queue.close()
    assert rate > 0 and queue.max_group == 4
    assert queue.n_submitted >= 5 * 4 and queue.n_done == queue.n_submitted  # warm-up round + 4
