import math
import time

import pytest
from fake_queries import busy

from triggerbench.errors import UserInputError
from triggerbench.measure.loadgen import loadgen_overhead_per_query_s, parse_detail_log, run_loadgen
from triggerbench.measure.settings import MeasureSettings
from triggerbench.schema import PerformanceFigures, ScenarioInfo, Validity

QUERY_US = 50
# Short runs; generous server bounds: on a shared 2-core box a 50 us busy-wait can be
# descheduled for milliseconds.
SETTINGS = MeasureSettings(
    warmup_s=0.01,
    warmup_queries=5,
    min_duration_s=0.3,
    min_query_count=100,
    multi_stream_samples_per_query=8,
    server_target_latency_s=0.05,
    server_load_frac=0.3,
)


def calibrate(query, duration_s: float = 0.05) -> float:
    """Mean latency of ``query`` in a tight loop, as the caller of run_loadgen measures it."""
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < duration_s:
        query()
        n += 1
    return (time.perf_counter() - start) / n


@pytest.fixture(scope="module")
def query_and_latency():
    query = busy(QUERY_US)
    return query, calibrate(query)


def check_sections(outcome, scenario: str) -> None:
    """Every section must survive a round trip through the schema (null reasons included)."""
    PerformanceFigures.model_validate(outcome.performance.model_dump())
    Validity.model_validate(outcome.validity.model_dump())
    ScenarioInfo(name=scenario, harness=outcome.harness, settings=outcome.settings)


def test_single_stream_is_valid_with_sane_latency(tmp_path, query_and_latency):
    query, latency_s = query_and_latency
    outcome = run_loadgen("single-stream", query, 1, SETTINGS, tmp_path / "ss", latency_s)
    check_sections(outcome, "single-stream")
    assert outcome.harness == "loadgen"
    assert outcome.validity.verdict == "VALID", outcome.validity.reasons
    assert outcome.validity.loadgen_log_dir == str(tmp_path / "ss")
    assert (tmp_path / "ss" / "mlperf_log_summary.txt").is_file()
    assert (tmp_path / "ss" / "mlperf_log_detail.txt").is_file()
    perf = outcome.performance
    assert 40e-6 <= perf.latency_p50_s <= 5e-3
    assert perf.latency_p50_s <= perf.latency_p90_s <= perf.latency_p99_s <= perf.latency_max_s
    assert perf.latency_p99_s <= perf.latency_p999_s <= perf.latency_max_s
    assert perf.n_samples == perf.n_queries >= SETTINGS.min_query_count
    assert outcome.settings["query_fn_calls"] == perf.n_queries
    assert perf.duration_s >= SETTINGS.min_duration_s * 0.95
    # issue-to-issue throughput cannot beat one query per mean latency
    assert perf.throughput_queries_per_s <= 1.05 / perf.latency_mean_s
    assert perf.latency_stdev_s is None and "latency_stdev_s" in perf.null_reasons
    assert outcome.settings["single_stream_expected_latency_ns"] < latency_s * 1e9
    assert any("p99.9" in w for w in outcome.warnings)  # a few thousand queries only


def test_single_stream_query_is_one_batch_as_in_the_tight_loop(tmp_path, query_and_latency):
    query, latency_s = query_and_latency
    outcome = run_loadgen("single-stream", query, 4, SETTINGS, tmp_path / "ss4", latency_s)
    perf = outcome.performance
    assert outcome.validity.verdict == "VALID", outcome.validity.reasons
    assert perf.n_samples == 4 * perf.n_queries == 4 * outcome.settings["query_fn_calls"]
    assert perf.throughput_samples_per_s == pytest.approx(4 * perf.throughput_queries_per_s)


def test_multi_stream_counts_samples_per_query(tmp_path, query_and_latency):
    query, latency_s = query_and_latency
    outcome = run_loadgen("multi-stream", query, 4, SETTINGS, tmp_path / "ms", latency_s)
    check_sections(outcome, "multi-stream")
    assert outcome.validity.verdict == "VALID", outcome.validity.reasons
    perf = outcome.performance
    assert perf.n_samples == perf.n_queries * 8
    assert outcome.settings["query_fn_calls"] == perf.n_queries * 2  # 8 samples in batches of 4
    # LoadGen needs 662 queries to estimate p99 (early stopping): min_query_count was raised
    assert outcome.settings["min_query_count"] >= 662 and perf.n_queries >= 662
    assert perf.latency_p50_s >= 2 * 40e-6  # two query() calls per LoadGen query
    assert perf.throughput_samples_per_s == pytest.approx(perf.throughput_queries_per_s * 8)


def test_server_is_valid_and_batches_in_a_worker(tmp_path, query_and_latency):
    query, latency_s = query_and_latency
    outcome = run_loadgen("server", query, 1, SETTINGS, tmp_path / "srv", latency_s)
    check_sections(outcome, "server")
    assert outcome.validity.verdict == "VALID", outcome.validity.reasons
    perf = outcome.performance
    target_qps = outcome.settings["server_target_qps"]
    assert target_qps == pytest.approx(0.3 / latency_s)
    assert outcome.settings["server_target_latency_ns"] == 50_000_000
    assert perf.throughput_queries_per_s == pytest.approx(target_qps, rel=0.2)
    assert perf.n_samples == perf.n_queries == outcome.settings["query_fn_calls"]
    assert perf.latency_p99_s <= 0.05


def test_offline_has_throughput_but_no_latency(tmp_path, query_and_latency):
    query, latency_s = query_and_latency
    outcome = run_loadgen("offline", query, 4, SETTINGS, tmp_path / "off", latency_s)
    check_sections(outcome, "offline")
    assert outcome.validity.verdict == "VALID", outcome.validity.reasons
    perf = outcome.performance
    assert perf.n_queries == 1
    assert outcome.settings["query_fn_calls"] == math.ceil(perf.n_samples / 4)
    for name in ("latency_p50_s", "latency_p99_s", "latency_mean_s", "throughput_queries_per_s"):
        assert getattr(perf, name) is None and perf.null_reasons[name]
    # a 50 us busy-wait per batch of 4 caps the rate; harness and box may slow it down
    assert 0.05 * 4 / latency_s < perf.throughput_samples_per_s <= 1.02 * 4 / (QUERY_US * 1e-6)
    assert perf.throughput_samples_per_s * perf.duration_s == pytest.approx(perf.n_samples, rel=0.1)
    assert outcome.warnings == []


def test_bad_calibration_is_invalid(tmp_path, query_and_latency):
    query, latency_s = query_and_latency
    # 100x too slow a calibration: LoadGen pre-generates ~100x too few queries, runs out
    # long before min_duration and says so.
    outcome = run_loadgen("single-stream", query, 1, SETTINGS, tmp_path / "bad", 100 * latency_s)
    check_sections(outcome, "single-stream")
    assert outcome.validity.verdict == "INVALID"
    assert "min duration not met" in outcome.validity.reasons
    assert any("expected latency" in r for r in outcome.validity.reasons)
    assert outcome.performance.duration_s < SETTINGS.min_duration_s


def test_overhead_of_a_noop_query(tmp_path):
    overhead_s = loadgen_overhead_per_query_s(SETTINGS, tmp_path / "ovh")
    assert 0 < overhead_s < 1e-3
    assert (tmp_path / "ovh" / "mlperf_log_detail.txt").is_file()


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
