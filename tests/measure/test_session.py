import math
from pathlib import Path

import numpy as np
import pytest

from triggerbench.measure.isolate import run_isolated
from triggerbench.measure.job import Job
from triggerbench.measure.loadgen_log import parse_detail_log
from triggerbench.measure.session import measure_one


@pytest.fixture
def job(tmp_path, quick_settings):
    def make(runner: str, **fields) -> Job:
        return Job(runner=runner, settings=quick_settings, out_dir=tmp_path, **fields)

    return make


def test_null_runner_gives_a_complete_ok_record(standin_ctx, job):
    record = measure_one(standin_ctx, job("null", batch_size=4))
    assert record.status == "ok" and record.error is None
    assert record.scenario.harness == "tight-loop"
    # measured with the null runner and kept (its size is a speed figure: benchmarks/)
    assert record.performance.harness_overhead_per_query_s > 0
    assert "harness_overhead_per_query_s" not in record.performance.null_reasons
    assert record.performance.n_samples == 4 * record.performance.n_queries
    # the null runner returns zeros: its disagreement with the reference is the reference's size
    expected = np.abs(standin_ctx.reference).max()
    assert record.accuracy.max_abs_diff == pytest.approx(expected, rel=1e-6)
    assert record.accuracy.reference == "keras-float32"
    assert set(record.accuracy.task_metrics) == {"slope_rmse", "offset_rmse"}
    assert record.workload.parameter_count > 1000 and record.workload.input_shape == [9, 16, 1]
    assert record.workload.artifact_sha256 == standin_ctx.artifact.sha256["keras"]
    assert record.environment.packages["numpy"] == np.__version__


def test_copy_runner_accuracy_is_computed_from_its_outputs(standin_ctx, job):
    record = measure_one(standin_ctx, job("fake_runners:CopyRunner", batch_size=3))
    assert record.status == "ok"
    # CopyRunner outputs each batch's input mean: check the pass really used runner outputs
    assert record.accuracy.max_abs_diff != pytest.approx(np.abs(standin_ctx.reference).max())


def test_raising_runner_is_recorded_as_failed(standin_ctx, job):
    record = measure_one(standin_ctx, job("fake_runners:RaisingRunner"))
    assert record.status == "failed"
    assert record.error.type == "RuntimeError" and "device lost" in record.error.message
    assert "Traceback" in record.error.stderr and record.performance is None


def test_unavailable_and_unknown_runners(standin_ctx, job):
    skipped = measure_one(standin_ctx, job("fake_runners:UnavailableRunner"))
    assert skipped.status == "skipped" and "FooAccelerator" in skipped.error.message
    unknown = measure_one(standin_ctx, job("nope"))
    assert unknown.status == "failed" and "known runners" in unknown.error.message


def test_runner_that_kills_its_process_is_failed_not_fatal(standin_ctx, job, tmp_path):
    ctx_dir = standin_ctx.save(tmp_path / "ctx")
    record = run_isolated(standin_ctx, ctx_dir, job("fake_runners:DyingRunner"))
    assert record.status == "failed" and record.error.type == "WorkerDied"
    assert record.error.errcode == 139


def test_hanging_runner_times_out(standin_ctx, job, tmp_path):
    ctx_dir = standin_ctx.save(tmp_path / "ctx")
    record = run_isolated(standin_ctx, ctx_dir, job("fake_runners:HangingRunner", timeout_s=5))
    assert record.status == "failed" and record.error.type == "Timeout"


def test_isolated_ok_run_round_trips_the_record(standin_ctx, job, tmp_path):
    ctx_dir = standin_ctx.save(tmp_path / "ctx")
    record = run_isolated(standin_ctx, ctx_dir, job("null"))
    assert record.status == "ok" and record.runner.name == "null"


def test_record_the_schema_refuses_becomes_a_failed_record(standin_ctx, job):
    record = measure_one(standin_ctx, job("fake_runners:BadDescriptionRunner"))
    assert record.status == "failed" and record.error.type == "ValidationError"
    assert "RunnerInfo" in record.error.message and "settings.providers" in record.error.message


def test_loadgen_logs_are_kept_per_measurement(standin_ctx, job):
    first = measure_one(standin_ctx, job("null", scenario="offline", batch_size=8))
    second = measure_one(standin_ctx, job("null", scenario="offline", batch_size=8))
    dirs = {first.validity.loadgen_log_dir, second.validity.loadgen_log_dir}
    assert len(dirs) == 2 and first.run_id in first.validity.loadgen_log_dir
    assert second.run_id in second.validity.loadgen_log_dir
    for record in (first, second):
        # each record's verdict is the one LoadGen wrote into that record's own folder (VALID or
        # not: the schedule comes from a real-time calibration, so that is the host's business)
        log = Path(record.validity.loadgen_log_dir)
        assert (log / "mlperf_log_summary.txt").exists()
        logged = parse_detail_log(log / "mlperf_log_detail.txt").values
        assert record.validity.verdict == logged["result_validity"]
        assert record.performance.n_samples == logged["generated_samples_per_query"]


def test_trigger_warns_when_backend_threads_fill_every_core(standin_ctx, job):
    record = measure_one(standin_ctx, job("null", scenario="trigger"))
    assert record.status == "ok" and record.trigger.n_events > 0
    assert any("competes with the backend's pool" in w for w in record.warnings)


def test_runner_options_fpga_figures_and_emulation_reach_the_record(standin_ctx, job):
    record = measure_one(
        standin_ctx, job("fake_runners:EmulatedFpgaRunner", runner_options={"reuse_factor": 4})
    )
    assert record.status == "ok", record.error
    assert record.runner.settings == {"reuse_factor": 4}
    assert record.performance.emulated is True
    assert any("emulation" in w for w in record.warnings)
    assert [(f.source, f.latency_cycles) for f in record.fpga] == [("estimate", 4)]
    # an emulator is measured briefly: one window, the minimum count cut to a few queries
    assert record.scenario.settings["repeats"] == 1 and record.scenario.settings["min_query_count"] == 3


def test_an_emulator_runs_in_the_tight_loop_even_when_slow(standin_ctx, job):
    record = measure_one(standin_ctx, job("fake_runners:SlowEmulatorRunner", batch_size=2))
    assert record.status == "ok", record.error
    assert record.scenario.harness == "tight-loop"
    assert record.performance.n_queries < 64  # LoadGen single-stream would need 64


def test_a_failing_power_meter_loses_its_figures_not_the_measurement(standin_ctx, job):
    record = measure_one(standin_ctx, job("fake_runners:BrokenMeterRunner"))
    assert record.status == "ok", record.error
    assert record.power.source == "unavailable"
    assert "xbutil stopped answering" in record.power.null_reasons["power_mean_w"]


def test_a_model_the_runner_does_not_take_is_skipped_with_the_reason(standin_ctx, job):
    record = measure_one(standin_ctx, job("fake_runners:PickyRunner"))
    assert record.status == "skipped"
    assert record.error.type == "ModelUnsupported" and "picky takes no model" in record.error.message


def test_scoped_runner_options_reach_only_their_runner():
    from triggerbench.measure.session import runner_options_for

    options = {"clock_period_ns": 4.0, "rtl.latency_cutoff": 5, "hls4ml.reuse_factor": 2}
    assert runner_options_for("rtl", options) == {"clock_period_ns": 4.0, "latency_cutoff": 5}
    assert runner_options_for("hls4ml", options) == {"clock_period_ns": 4.0, "reuse_factor": 2}
    assert runner_options_for("keras", options) == {"clock_period_ns": 4.0}


@pytest.mark.parametrize("runner", ["null", "onnxruntime"])
def test_ok_record_carries_the_cpus_nominal_tdp_beside_the_measured_power(
    standin_ctx, job, monkeypatch, runner
):
    from triggerbench import environment

    monkeypatch.setattr(environment, "cpu_model", lambda: "Intel(R) Xeon(R) CPU E5-2698 v3 @ 2.30GHz")
    record = measure_one(standin_ctx, job(runner))
    assert record.status == "ok", record.error
    nominal = record.power_nominal
    if record.runner.device != "CPU":  # the null runner names no device: the reason is kept
        assert nominal.power_mean_w is None and "no device model" in nominal.null_reasons["power_mean_w"]
        return
    assert nominal.source == "nominal-tdp" and nominal.power_mean_w == 135
    throughput = record.performance.throughput_samples_per_s
    assert nominal.energy_per_inference_j == pytest.approx(135 / throughput)
    assert nominal.energy_j is None and "not an energy" in nominal.null_reasons["energy_j"]
    assert "nominal TDP of Intel Xeon E5-2698 v3 (135 W), not measured" in nominal.scope
    assert record.power.source != "nominal-tdp"  # the measured section stays what it was


def test_an_unknown_cpu_model_records_why_there_is_no_nominal_tdp(standin_ctx, job, monkeypatch):
    from triggerbench import environment

    monkeypatch.setattr(environment, "cpu_model", lambda: "Intel(R) Xeon(R) Processor")
    record = measure_one(standin_ctx, job("onnxruntime"))
    assert record.status == "ok", record.error
    assert record.power_nominal.source == "nominal-tdp"
    assert record.power_nominal.null_reasons == dict.fromkeys(
        ("power_mean_w", "energy_j", "energy_per_inference_j", "scope", "window_s", "idle"),
        "no nominal TDP for 'Intel(R) Xeon(R) Processor' in triggerbench's table",
    )


def test_this_hosts_cpu_model_gives_a_figure_or_the_reason(standin_ctx, job):
    from triggerbench.power.tdp import nominal_tdp

    record = measure_one(standin_ctx, job("onnxruntime"))
    row, reason = nominal_tdp(record.environment.cpu_model)
    if row is None:
        assert record.power_nominal.null_reasons["power_mean_w"] == reason
    else:
        assert record.power_nominal.power_mean_w == row.tdp_w


def test_a_record_without_throughput_has_no_nominal_power(standin_ctx, job):
    assert measure_one(standin_ctx, job("fake_runners:RaisingRunner")).power_nominal is None


def test_a_gpu_runner_gets_its_gpus_nvml_energy_idle_baseline_and_nominal_tdp(standin_ctx, job, monkeypatch):
    from doubles import nvml

    nvml.install(monkeypatch, [nvml.FakeGpu(name="NVIDIA H200", power_w=120.0)])
    record = measure_one(standin_ctx, job("fake_runners:FakeGpuRunner"))
    assert record.status == "ok", record.error
    assert record.runner.device == "GPU:0" and record.runner.device_model == "NVIDIA H200"
    assert record.runner.gpu.compute_capability == "9.0" and record.runner.timing == "host-to-host"
    power = record.power
    assert power.source == "measured-nvml" and "GPU 0 (NVIDIA H200)" in power.scope
    assert power.power_mean_w == pytest.approx(120.0, rel=0.2)
    assert power.energy_by_domain_j.keys() == {"gpu-0"}
    assert power.idle.power_w == pytest.approx(120.0, rel=0.2)  # the double draws the same idle
    # the quick window (0.3 s) is shorter than NVML resolves: lengthened, and said
    assert power.window_s >= 1.0 and "separate" in power.notes[0]
    nominal = record.power_nominal
    assert nominal.power_mean_w == 700 and "H200" in nominal.scope


def test_offline_keeps_the_runners_requests_in_flight_and_records_n(standin_ctx, job):
    from fake_runners import QueuedRunner

    record = measure_one(standin_ctx, job("fake_runners:QueuedRunner", scenario="offline", batch_size=4))
    assert record.status == "ok", record.error
    assert record.scenario.requests_in_flight == 3 == record.scenario.settings["requests_in_flight"]
    assert record.scenario.settings["calibrated_queue_calls_per_s"] > 0
    queue = QueuedRunner.last_queue
    assert queue.max_group == 3 and queue.n_done == queue.n_submitted
    # LoadGen's run went through the queue: one submit per chunk of 4 samples
    assert record.scenario.settings["query_fn_calls"] == math.ceil(record.performance.n_samples / 4)


@pytest.mark.parametrize(("scenario", "n"), [("server", 3), ("single-stream", 1)])
def test_server_uses_the_queue_and_single_stream_stays_synchronous(standin_ctx, job, scenario, n):
    record = measure_one(standin_ctx, job("fake_runners:QueuedRunner", scenario=scenario))
    assert record.status == "ok", record.error
    assert record.scenario.requests_in_flight == n


def test_a_failure_in_the_runners_queue_is_a_failed_record(standin_ctx, job):
    record = measure_one(standin_ctx, job("fake_runners:QueueFailingRunner", scenario="offline"))
    assert record.status == "failed" and record.performance is None
    assert record.error.type == "RuntimeError" and "device lost at query 30" in record.error.message
