"""The ONNX Runtime GPU runners, against the onnxruntime-gpu double (real CPU sessions) and NVML's."""

from __future__ import annotations

import functools
import itertools
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from doubles import nvml
from doubles import onnxruntime_gpu as ortgpu

from triggerbench.errors import RunnerError, RunnerUnavailableError, UserInputError
from triggerbench.measure.accuracy import run_batches
from triggerbench.models.artifact import cache_dir
from triggerbench.runners import registry
from triggerbench.runners.base import RunnerOptions
from triggerbench.runners.onnxruntime import OnnxRuntimeRunner
from triggerbench.runners.onnxruntime_gpu import DeviceOutputs, OnnxRuntimeCudaRunner
from triggerbench.runners.onnxruntime_tensorrt import OnnxRuntimeTensorrtRunner

RUNNERS = [OnnxRuntimeCudaRunner, OnnxRuntimeTensorrtRunner]
TIMINGS = ["host-to-host", "device-only"]


@pytest.fixture
def gpu_host(monkeypatch, nvml_gpus):
    """An H200 behind NVML and the onnxruntime-gpu build; call it to change the GPUs or the build."""

    def install(gpus=None, **build) -> ortgpu.GpuBuild:
        nvml_gpus(gpus)
        return ortgpu.install(monkeypatch, **build)

    return install


def prepared(cls, artifact, **kw):
    extra = kw.pop("extra", {})
    runner = cls()
    runner.prepare(artifact, RunnerOptions(extra=extra, **kw))
    return runner


@pytest.fixture(scope="module")
def cpu_outputs(standin_artifact):
    """The CPU runner's outputs: what the GPU runners (here on real CPU sessions) must give."""

    def outputs(x: np.ndarray) -> np.ndarray:
        with prepared(OnnxRuntimeRunner, standin_artifact, batch_size=len(x)) as runner:
            return runner.infer(runner.stage(x)).copy()

    return outputs


# --- available(): one line each, naming the fix -------------------------------------------


def test_the_gpu_runners_are_registered():
    assert registry.get("onnxruntime-cuda") is OnnxRuntimeCudaRunner
    assert registry.get("onnxruntime-tensorrt") is OnnxRuntimeTensorrtRunner


@pytest.mark.parametrize("cls", RUNNERS)
def test_available_on_the_gpu_build_with_a_gpu(gpu_host, cls):
    gpu_host()
    ok, reason = cls.available()
    assert ok, reason
    assert cls.provider in reason and "NVIDIA GPU 0 of 1" in reason


@pytest.mark.parametrize("cls", RUNNERS)
def test_unavailable_without_onnxruntime(monkeypatch, cls):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    ok, reason = cls.available()
    assert not ok and reason.startswith("cannot import onnxruntime")
    assert "onnxruntime-gpu[cuda,cudnn]==1.26.0" in reason and "\n" not in reason


@pytest.mark.parametrize("cls", RUNNERS)
def test_unavailable_with_both_distributions(gpu_host, cls):
    gpu_host(distributions=("onnxruntime", "onnxruntime-gpu"))
    ok, reason = cls.available()
    assert not ok and "both onnxruntime and onnxruntime-gpu are installed" in reason
    assert "pip uninstall -y onnxruntime onnxruntime-gpu && pip install" in reason and "\n" not in reason


@pytest.mark.parametrize("cls", RUNNERS)
def test_unavailable_on_the_cpu_build(nvml_gpus, cls):
    import onnxruntime  # the real wheel installed here is the CPU build

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("this host has the GPU build")
    nvml_gpus()  # a GPU is there: the wheel is what is missing
    ok, reason = cls.available()
    assert not ok and f"onnxruntime {onnxruntime.__version__} is the CPU build" in reason
    assert "onnxruntime-gpu[cuda,cudnn]==1.26.0" in reason and "CUDA 13" in reason and "tox -e gpu" in reason
    assert "\n" not in reason


@pytest.mark.parametrize("cls", RUNNERS)
def test_unavailable_without_a_gpu(monkeypatch, cls):
    ortgpu.install(monkeypatch)
    nvml.install_no_driver(monkeypatch)
    ok, reason = cls.available()
    assert not ok and "no NVIDIA GPU driver" in reason and "\n" not in reason
    nvml.install(monkeypatch, [])
    ok, reason = cls.available()
    assert not ok and "NVML sees 0 GPU(s)" in reason


def test_tensorrt_unavailable_without_its_provider_or_libraries(gpu_host):
    gpu_host(providers=["CUDAExecutionProvider", "CPUExecutionProvider"])
    ok, reason = OnnxRuntimeTensorrtRunner.available()
    assert not ok and "no TensorrtExecutionProvider" in reason and "tensorrt-cu12>=10,<11" in reason
    assert OnnxRuntimeCudaRunner.available()[0]
    gpu_host(tensorrt=False)
    ok, reason = OnnxRuntimeTensorrtRunner.available()
    assert not ok and "TensorRT is not installed" in reason and "tensorrt-cu12>=10,<11" in reason
    assert OnnxRuntimeCudaRunner.available()[0]


def test_prepare_checks_the_chosen_device(gpu_host, standin_artifact):
    gpu_host()
    with pytest.raises(RunnerUnavailableError, match="no NVIDIA GPU 1: NVML sees 1 GPU"):
        prepared(OnnxRuntimeCudaRunner, standin_artifact, extra={"device_id": 1})


# --- outputs, timing modes and copies ----------------------------------------------------------


@pytest.mark.parametrize("timing", TIMINGS)
@pytest.mark.parametrize("cls", RUNNERS)
@pytest.mark.parametrize("batch", [1, 7])
def test_outputs_agree_with_the_cpu_runner(
    gpu_host, standin_artifact, batches, cpu_outputs, cls, timing, batch
):
    build = gpu_host()
    x = batches(batch, 21)
    with prepared(cls, standin_artifact, batch_size=batch, extra={"timing": timing}) as runner:
        out = np.asarray(runner.infer(runner.stage(x)))
    assert build.preloads == 1  # CUDA/cuDNN from the nvidia-* wheels, before the session
    assert build.sessions[-1]["providers"][0][0] == cls.provider
    assert out.shape == (batch, *standin_artifact.output_shape) and out.dtype == np.float32
    np.testing.assert_allclose(out, cpu_outputs(x), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("cls", RUNNERS)
def test_device_only_infer_copies_no_outputs_to_the_host(
    gpu_host, standin_artifact, batches, cpu_outputs, cls
):
    build = gpu_host()
    x = batches(7, 22)
    with prepared(cls, standin_artifact, batch_size=7, extra={"timing": "device-only"}) as runner:
        staged = runner.stage(x)
        assert build.bound_outputs[-1] == "cuda"
        uploads, downloads, runs = build.host_to_device, build.device_to_host, build.runs
        for _ in range(5):
            out = runner.infer(staged)
        assert build.runs == runs + 5
        assert build.device_to_host == downloads  # the timed call left the outputs on the GPU
        assert build.host_to_device == uploads  # and uploaded nothing: the input went up in stage()
        assert isinstance(out, DeviceOutputs) and out.shape == (7, *standin_artifact.output_shape)
        host = np.asarray(out)  # the one copy, where the caller asks for it
        assert build.device_to_host == downloads + 1
        with pytest.raises(ValueError, match="needs a copy"):
            np.asarray(out, copy=False)
    np.testing.assert_allclose(host, cpu_outputs(x), rtol=1e-6, atol=1e-6)


def test_host_to_host_binds_host_buffers_so_each_run_copies_both_ways(gpu_host, standin_artifact, batches):
    build = gpu_host()
    with prepared(OnnxRuntimeCudaRunner, standin_artifact, batch_size=7) as runner:
        staged = runner.stage(batches(7, 23))
        out = runner.infer(staged)
    assert build.bound_outputs[-1] == "cpu" and build.host_to_device == 0
    assert isinstance(out, np.ndarray)


@pytest.mark.parametrize("cls", RUNNERS)
def test_the_accuracy_pass_reads_device_outputs(gpu_host, standin_artifact, batches, cls):
    gpu_host()
    x = batches(19, 24)  # 3 batches of 8, the last one padded
    with prepared(OnnxRuntimeRunner, standin_artifact, batch_size=8) as cpu:
        expected = run_batches(cpu, x, 8)
    with prepared(cls, standin_artifact, batch_size=8, extra={"timing": "device-only"}) as runner:
        got = run_batches(runner, x, 8)
    assert got.shape == expected.shape == (19, *standin_artifact.output_shape)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)


# --- falling back to the CPU is a failure -------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "fallback", "reason", "fix"),
    [
        (
            OnnxRuntimeCudaRunner,
            "CPUExecutionProvider",
            "libcublasLt.so.12: cannot open shared object file",
            "onnxruntime-gpu[cuda,cudnn]==1.26.0",
        ),
        (OnnxRuntimeTensorrtRunner, "CUDAExecutionProvider", "libnvinfer.so.10", "tensorrt-cu12"),
    ],
)
def test_a_session_that_fell_back_fails(gpu_host, standin_artifact, cls, fallback, reason, fix):
    gpu_host(failing={cls.provider})
    with pytest.raises(RunnerError) as info:
        prepared(cls, standin_artifact)
    message = str(info.value)
    assert f"could not create {cls.provider} and fell back to {fallback}" in message
    assert reason in message  # ONNX Runtime's reason
    assert fix in message and "\n" not in message


# --- precision, TensorRT's options and its engine cache -----------------------------------------


def test_cuda_runs_f32_only(gpu_host, standin_artifact):
    gpu_host()
    with pytest.raises(RunnerError, match="f32 only .*use onnxruntime-tensorrt.*not f16$"):
        prepared(OnnxRuntimeCudaRunner, standin_artifact, precision="f16")


def test_tensorrt_refuses_other_precisions(gpu_host, standin_artifact):
    gpu_host()
    with pytest.raises(RunnerError, match="f32, f16 or int8, not bf16"):
        prepared(OnnxRuntimeTensorrtRunner, standin_artifact, precision="bf16")


@pytest.mark.parametrize(("precision", "fp16"), [("f32", False), ("f16", True)])
def test_tensorrt_options_follow_the_precision(gpu_host, standin_artifact, precision, fp16):
    build = gpu_host()
    with prepared(OnnxRuntimeTensorrtRunner, standin_artifact, precision=precision) as runner:
        d = runner.describe()
    trt = build.options("TensorrtExecutionProvider")
    assert trt["trt_fp16_enable"] is fp16 and trt["trt_int8_enable"] is False
    assert trt["trt_engine_cache_enable"] is True and trt["trt_timing_cache_enable"] is True
    assert Path(trt["trt_engine_cache_path"]).parent == cache_dir() / "onnxruntime-tensorrt"
    assert Path(trt["trt_engine_cache_path"]).is_dir()
    assert build.options("CUDAExecutionProvider") == {
        "device_id": 0,
        "use_tf32": 0,
    }  # for what TensorRT lacks
    assert d.precision == precision and d.settings["trt_fp16_enable"] is fp16
    assert d.settings["trt_engine_cache_path"] == trt["trt_engine_cache_path"]
    assert d.settings["tensorrt_version"] == "10.9.0.34"


def test_each_engine_setting_gets_its_own_cache_folder(gpu_host, standin_artifact):
    build = gpu_host()
    for precision, batch, timing in [
        ("f32", 1, "host-to-host"),
        ("f32", 1, "device-only"),  # same engine: the timing mode does not change it
        ("f16", 1, "host-to-host"),
        ("f32", 8, "host-to-host"),
    ]:
        options = RunnerOptions(precision=precision, batch_size=batch, extra={"timing": timing})
        OnnxRuntimeTensorrtRunner().prepare(standin_artifact, options)
    trt = [build.options("TensorrtExecutionProvider", i) for i in range(len(build.sessions))]
    paths = [options["trt_engine_cache_path"] for options in trt]
    assert paths[0] == paths[1]
    assert len({paths[0], paths[2], paths[3]}) == 3
    assert (
        len({options["trt_timing_cache_path"] for options in trt}) == 1
    )  # shared: TensorRT keys it by GPU inside


def test_int8_without_a_calibration_table_is_refused_in_one_line(gpu_host, standin_artifact):
    build = gpu_host()
    with pytest.raises(RunnerError) as info:
        prepared(OnnxRuntimeTensorrtRunner, standin_artifact, precision="int8")
    assert str(info.value) == (
        "onnxruntime-tensorrt runner: --precision int8 needs a calibration table: "
        "-O int8_calibration_cache=PATH (TensorRT's, or ONNX Runtime's calibration tool's)"
    )
    assert build.sessions == []  # refused before anything was loaded


def test_a_calibration_table_is_only_for_int8(gpu_host, standin_artifact, tmp_path):
    gpu_host()
    table = tmp_path / "calibration.cache"
    table.write_bytes(b"TRT-8601-EntropyCalibration2\n")
    with pytest.raises(RunnerError, match="int8_calibration_cache is for --precision int8, not f32$"):
        prepared(OnnxRuntimeTensorrtRunner, standin_artifact, extra={"int8_calibration_cache": str(table)})
    with pytest.raises(RunnerError, match="no such file"):
        extra = {"int8_calibration_cache": str(tmp_path / "missing.cache")}
        prepared(OnnxRuntimeTensorrtRunner, standin_artifact, precision="int8", extra=extra)


def test_int8_reads_the_calibration_table_from_its_engine_folder(gpu_host, standin_artifact, tmp_path):
    build = gpu_host()
    native, flat = tmp_path / "native.cache", tmp_path / "calibration.flatbuffers"
    native.write_bytes(b"TRT-8601-EntropyCalibration2\ninput: 3c010a14\n")
    flat.write_bytes(b"\x10\x00\x00\x00flatbuffers")
    dirs = []
    for table, is_native in [(native, True), (flat, False)]:
        extra = {"int8_calibration_cache": str(table)}
        with prepared(OnnxRuntimeTensorrtRunner, standin_artifact, precision="int8", extra=extra) as runner:
            d = runner.describe()
        trt = build.options("TensorrtExecutionProvider")
        # The double, as ONNX Runtime, fails the session unless the table is in the cache folder.
        assert trt["trt_int8_enable"] is True and trt["trt_int8_calibration_table_name"] == table.name
        assert trt["trt_int8_use_native_calibration_table"] is is_native
        assert d.precision == "int8" and d.settings["int8_calibration_cache"] == str(table.resolve())
        dirs.append(trt["trt_engine_cache_path"])
    assert dirs[0] != dirs[1]  # another table, another engine


# --- async_queue: N threads, each with its own IOBinding -------------------------------------


@pytest.mark.parametrize("timing", TIMINGS)
@pytest.mark.parametrize("cls", RUNNERS)
def test_a_queue_keeps_its_requests_in_flight_at_once(gpu_host, standin_artifact, batches, cls, timing):
    build = gpu_host()
    with prepared(cls, standin_artifact, batch_size=4, extra={"timing": timing, "requests": 3}) as runner:
        with runner.async_queue(runner.stage(batches(4, 31))) as queue:
            assert queue.n_in_flight == 3
            # Each run waits inside run_with_iobinding until three are there: only a queue that
            # really keeps three in flight gets past it (else the barrier breaks and the run fails).
            build.run_hook = threading.Barrier(3, timeout=30).wait
            downloads, done = build.device_to_host, []
            for i in range(9):
                queue.submit(functools.partial(done.append, i))
            queue.wait_all()
            build.run_hook = None
    assert sorted(done) == list(range(9))  # each query called back once
    assert build.max_in_flight == 3
    assert build.device_to_host == downloads  # device-only: the queue read no outputs back either


def test_submit_waits_while_all_requests_are_busy_and_workers_call_back(gpu_host, standin_artifact, batches):
    build = gpu_host()
    with prepared(OnnxRuntimeCudaRunner, standin_artifact) as runner:
        with runner.async_queue(runner.stage(batches(1, 32)), 2, prompt=False) as queue:
            release = threading.Event()
            build.run_hook = functools.partial(release.wait, 30)
            names: list[str] = []

            def on_done() -> None:
                names.append(threading.current_thread().name)

            queue.submit(on_done)
            queue.submit(on_done)
            third = threading.Thread(target=queue.submit, args=(on_done,))
            third.start()
            third.join(0.2)
            assert third.is_alive() and names == []  # both requests busy: the third submit waits
            release.set()
            third.join(30)
            queue.wait_all()
    assert build.max_in_flight == 2 and len(names) == 3
    assert all(name.startswith("onnxruntime-cuda-request-") for name in names)  # called back at once


@pytest.mark.parametrize("timing", TIMINGS)
@pytest.mark.parametrize("cls", RUNNERS)
def test_each_request_runs_its_own_copy_and_its_outputs_agree(
    gpu_host, standin_artifact, batches, cls, timing
):
    build = gpu_host()
    with prepared(cls, standin_artifact, batch_size=5, extra={"timing": timing}) as runner:
        staged = runner.stage(batches(5, 33))
        expected = np.asarray(runner.infer(staged)).copy()
        seen: list[tuple] = []  # each run's staged copy and its outputs, read in its worker
        infer = runner.infer

        def recorded(copy):
            out = infer(copy)
            seen.append((copy, np.asarray(out).copy()))
            return out

        runner.infer = recorded  # what async_queue's workers call
        with runner.async_queue(staged) as queue:
            build.run_hook = threading.Barrier(2, timeout=30).wait  # both copies run, at once
            for _ in range(8):
                queue.submit(lambda: None)
            queue.wait_all()
            build.run_hook = None
        del runner.infer
        np.testing.assert_array_equal(np.asarray(runner.infer(staged)), expected)  # infer intact
    copies = list({id(copy): copy for copy, _ in seen}.values())
    assert len(seen) == 8 and len(copies) == 2
    outputs = [staged.outputs, *(copy.outputs for copy in copies)]
    assert len({id(out) for out in outputs}) == 3 and staged.binding not in [c.binding for c in copies]
    if timing == "host-to-host":
        assert not any(np.shares_memory(a, b) for a, b in itertools.combinations(outputs, 2))
    for _, out in seen:
        np.testing.assert_array_equal(out, expected)


def test_a_failed_run_is_raised_by_wait_all_and_every_later_submit(gpu_host, standin_artifact, batches):
    build = gpu_host()
    runs = itertools.count()

    def third_fails() -> None:
        if next(runs) == 2:
            raise RuntimeError("[ONNXRuntimeError] : 1 : FAIL : CUDA failure 700: illegal address\ntrace")

    with prepared(OnnxRuntimeCudaRunner, standin_artifact) as runner:
        with runner.async_queue(runner.stage(batches(1, 34)), 2) as queue:
            build.run_hook = third_fails
            done: list[int] = []
            for i in range(3):
                queue.submit(functools.partial(done.append, i))
            with pytest.raises(RunnerError) as info:
                queue.wait_all()
            assert str(info.value) == (
                "onnxruntime-cuda runner: inference failed: RuntimeError: "
                "[ONNXRuntimeError] : 1 : FAIL : CUDA failure 700: illegal address"
            )
            assert len(done) == 2  # the failed query is not called back; the others once each
            with pytest.raises(RunnerError, match="CUDA failure 700"):
                queue.submit(functools.partial(done.append, 3))
            with pytest.raises(RunnerError, match="CUDA failure 700"):
                queue.wait_all()
    assert len(done) == 2


def test_an_error_in_a_callback_is_raised_not_lost(gpu_host, standin_artifact, batches):
    gpu_host()
    with prepared(OnnxRuntimeCudaRunner, standin_artifact) as runner:
        with runner.async_queue(runner.stage(batches(1, 35)), 2) as queue:

            def fail() -> None:
                raise ValueError("callback broke")

            queue.submit(fail)
            with pytest.raises(RunnerError, match="completion callback failed: ValueError: callback broke$"):
                queue.wait_all()


def test_close_lets_queued_runs_finish_and_joins_the_threads(gpu_host, standin_artifact, batches):
    gpu_host()
    with prepared(OnnxRuntimeTensorrtRunner, standin_artifact) as runner:
        before = set(threading.enumerate())
        queue = runner.async_queue(runner.stage(batches(1, 36)), 3)
        workers = set(threading.enumerate()) - before
        assert len(workers) == 3
        done: list[int] = []
        for i in range(3):
            queue.submit(functools.partial(done.append, i))
        queue.close()  # no wait_all first
        assert sorted(done) == [0, 1, 2] and not any(t.is_alive() for t in workers)
        with pytest.raises(RunnerError, match="closed queue"):
            queue.submit(lambda: None)
        queue.close()  # twice: nothing left to join


def test_the_requests_option_sizes_the_queue_and_the_record_says_so(
    gpu_host, standin_artifact, batches, as_record
):
    gpu_host()
    with prepared(OnnxRuntimeTensorrtRunner, standin_artifact, extra={"requests": 3}) as runner:
        staged = runner.stage(batches(1, 37))
        assert "requests" not in runner.describe().settings  # no queue opened: the record claims none
        with runner.async_queue(staged) as queue:
            assert queue.n_in_flight == 3
        with runner.async_queue(staged, 1) as queue:  # the harness's n wins over the option
            assert queue.n_in_flight == 1
        with pytest.raises(RunnerError, match="requests in flight must be >= 1, not 0$"):
            runner.async_queue(staged, 0)
        d = runner.describe()
    assert d.settings["requests"] == 1
    assert d.settings["call"] == "run_with_iobinding from 1 threads, one IOBinding each"
    as_record(d)


# --- options, describe(), power ---------------------------------------------------------------


def test_options_are_checked_in_one_line():
    cuda = OnnxRuntimeCudaRunner
    assert cuda.parse_options({"timing": "Device-Only"}).timing == "device-only"
    with pytest.raises(UserInputError, match="unknown option\\(s\\) int8_calibration_cache"):
        cuda.parse_options({"int8_calibration_cache": "x"})
    with pytest.raises(UserInputError, match="option device_id=-1: use a whole number >= 0"):
        cuda.parse_options({"device_id": -1})
    with pytest.raises(UserInputError, match="option timing='kernel': use one of host-to-host, device-only"):
        OnnxRuntimeTensorrtRunner.parse_options({"timing": "kernel"})
    assert cuda.parse_options({}).requests == 2
    with pytest.raises(UserInputError, match="option requests=0: use a whole number >= 1"):
        OnnxRuntimeTensorrtRunner.parse_options({"requests": 0})


@pytest.mark.parametrize("timing", TIMINGS)
def test_describe_names_the_gpu_and_the_timing(gpu_host, standin_artifact, as_record, timing):
    gpus = [nvml.FakeGpu(name="NVIDIA A100-SXM4-80GB"), nvml.FakeGpu(name="NVIDIA H200")]
    build = gpu_host(gpus=gpus)
    extra = {"device_id": 1, "timing": timing}
    with prepared(OnnxRuntimeCudaRunner, standin_artifact, extra=extra) as runner:
        d = runner.describe()
    assert build.options("CUDAExecutionProvider") == {"device_id": 1, "use_tf32": 0}
    assert (d.backend, d.device, d.precision, d.threads) == ("onnxruntime", "GPU:1", "f32", None)
    assert d.timing == timing
    assert d.backend_version and d.device_model == "NVIDIA H200"
    assert d.gpu.index == 1 and d.gpu.name == "NVIDIA H200" and d.gpu.cuda_runtime_version == "12.8"
    assert d.settings["execution_provider"] == "CUDAExecutionProvider"
    assert d.settings["providers"] == "CUDAExecutionProvider,CPUExecutionProvider"
    assert as_record(d).gpu.name == "NVIDIA H200"


def test_the_power_meter_is_the_gpus(gpu_host, standin_artifact):
    from triggerbench.power import NvmlMeter

    gpu_host()
    with prepared(OnnxRuntimeCudaRunner, standin_artifact) as runner:
        meter, reason = runner.power_meter()
    assert isinstance(meter, NvmlMeter), reason
    meter.close()


def _holds_the_requests_in_flight(record, build) -> None:
    assert record.scenario.requests_in_flight == 2 == record.runner.settings["requests"]  # the default
    assert record.scenario.settings["calibrated_queue_calls_per_s"] > 0
    assert build.max_in_flight <= 2


def _says_what_ran_and_was_measured(record, build) -> None:
    runner = record.runner
    assert (runner.device, runner.device_model, runner.timing) == ("GPU:0", "NVIDIA H200", "device-only")
    assert runner.gpu.cuda_runtime_version == "12.8" and runner.precision == "f32"
    assert record.accuracy.max_abs_diff < 1e-5  # read back from the GPU by the accuracy pass
    assert record.power.source == "measured-nvml"
    # Only the accuracy pass read outputs back: one copy per accuracy batch, none per query.
    assert build.device_to_host == -(-record.accuracy.n_samples // 4) < build.runs


@pytest.mark.filterwarnings("ignore::triggerbench.errors.TriggerbenchUnstableWarning")  # a busy CI host
@pytest.mark.parametrize(
    ("runner", "scenario", "batch_size", "check"),
    [
        pytest.param("onnxruntime-cuda", "offline", 2, _holds_the_requests_in_flight, id="offline"),
        pytest.param(
            "onnxruntime-tensorrt", "single-stream", 4, _says_what_ran_and_was_measured, id="single-stream"
        ),
    ],
)
def test_a_device_only_record(
    gpu_host, standin_ctx, quick_settings, tmp_path, runner, scenario, batch_size, check
):
    from triggerbench.measure.job import Job
    from triggerbench.measure.session import measure_one

    build = gpu_host()
    job = Job(
        runner=runner,
        scenario=scenario,
        batch_size=batch_size,
        runner_options={"timing": "device-only"},
        settings=quick_settings,
        out_dir=tmp_path,
    )
    record = measure_one(standin_ctx, job)
    assert record.status == "ok", record.error
    check(record, build)
