import numpy as np
import pytest

from triggerbench.errors import RunnerError, UserInputError
from triggerbench.models.artifact import ModelArtifact, from_onnx
from triggerbench.runners.base import RunnerOptions
from triggerbench.runners.openvino import OpenVinoRunner


def prepared(artifact, **kw) -> OpenVinoRunner:
    runner = OpenVinoRunner()
    runner.prepare(artifact, RunnerOptions(**kw))
    return runner


def test_describe_reads_back_f32_and_threads(standin_artifact, as_record):
    # Without an explicit precision hint, bf16-capable CPUs run bf16: f32 must be read back.
    with prepared(standin_artifact, threads=1) as runner:
        d = runner.describe()
    assert (d.backend, d.device, d.precision, d.threads) == ("openvino", "CPU", "f32", 1)
    s = d.settings
    assert s["inference_num_threads"] == 1 and s["performance_hint"] == "LATENCY"
    assert s["precision_requested"] == "f32" and isinstance(s["num_streams"], int)
    assert s["device_name"] and d.backend_version and s["batch_shape"] == "1x9x16x1"
    as_record(d)


def test_bf16_is_allowed_and_read_back(standin_artifact, keras_reference, batches, as_record):
    x = batches(7, 25)
    with prepared(standin_artifact, batch_size=7, precision="bf16") as runner:
        out = runner.infer(runner.stage(x)).copy()
        d = runner.describe()
    # A CPU without bf16 falls back to f32; the record says what actually ran.
    assert d.precision in ("bf16", "f32") and d.settings["precision_requested"] == "bf16"
    as_record(d)
    np.testing.assert_allclose(out, keras_reference(x), atol=0.1)


def test_performance_hint_comes_from_extra(standin_artifact):
    with prepared(standin_artifact, extra={"performance_hint": "throughput"}) as runner:  # any case
        assert runner.describe().settings["performance_hint"] == "THROUGHPUT"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            {"performance_hint": "FASTEST"},
            "openvino runner: option performance_hint='FASTEST': "
            "use one of LATENCY, THROUGHPUT, CUMULATIVE_THROUGHPUT",
        ),
        (
            {"jit_compile": False},
            "openvino runner: unknown option(s) jit_compile; known options: performance_hint, requests",
        ),
        ({"requests": 0}, "openvino runner: option requests=0: use a whole number >= 1"),
        ({"requests": 2.5}, "openvino runner: option requests=2.5: use a whole number >= 1"),
        ({"requests": True}, "openvino runner: option requests=True: use a whole number >= 1"),
    ],
)
def test_bad_options_are_refused_in_one_line_before_openvino_sees_them(standin_artifact, extra, message):
    with pytest.raises(UserInputError) as err:
        prepared(standin_artifact, extra=extra)
    assert str(err.value) == message


@pytest.mark.parametrize("precision", ["int8", "f64"])
def test_unsupported_precision_raises(standin_artifact, precision):
    with pytest.raises(RunnerError, match="supports precision f32, bf16, f16 only"):
        prepared(standin_artifact, precision=precision)


def test_batch_other_than_compiled_raises(standin_artifact, batches):
    with prepared(standin_artifact, batch_size=7) as runner:
        with pytest.raises(RunnerError, match="compiled for batch shape"):
            runner.stage(batches(1, 26))


def test_vendor_errors_become_runner_errors(standin_artifact, tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not an onnx model")
    artifact = ModelArtifact(
        name="bad",
        source_format="onnx",
        paths={"onnx": bad},
        input_shape=(9, 16, 1),
        output_shape=(2,),
        parameter_count=None,
    )
    with pytest.raises(RunnerError, match="cannot compile bad.onnx") as info:
        prepared(artifact)
    assert info.value.__cause__ is not None and "\n" not in str(info.value)


def head_with_a_1x1_weight(path):
    """x[N, 4] -> MatMul 4x4 -> Relu -> MatMul 4x1 -> MatMul 1x1: the LLP VGG's head, in small."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(3)
    weights = {"w0": (4, 4), "w1": (4, 1), "w2": (1, 1)}
    inits = [
        numpy_helper.from_array(rng.standard_normal(s).astype(np.float32), n) for n, s in weights.items()
    ]
    nodes = [
        helper.make_node("MatMul", ["x", "w0"], ["h0"]),
        helper.make_node("Relu", ["h0"], ["r0"]),
        helper.make_node("MatMul", ["r0", "w1"], ["h1"]),
        helper.make_node("MatMul", ["h1", "w2"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "head",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 1])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    onnx.save(model, str(path))
    w = {i.name: numpy_helper.to_array(i) for i in inits}
    return from_onnx(path), lambda x: np.maximum(x @ w["w0"], 0) @ w["w1"] @ w["w2"]


@pytest.mark.parametrize(("threads", "batch"), [(1, 1), (1, 2), (1, 8), (None, 4), (None, 8)])
def test_a_1x1_weight_compiles_at_small_batches(tmp_path, threads, batch):
    # The CPU plugin fused these MatMuls into a snippets subgraph it could not build around the
    # 1x1 weight ("Layout rank can't be larger than tensor rank"); it is run as a multiply.
    artifact, expected = head_with_a_1x1_weight(tmp_path / "head.onnx")
    x = np.random.default_rng(batch).standard_normal((batch, 4)).astype(np.float32)
    with prepared(artifact, batch_size=batch, threads=threads) as runner:
        out = runner.infer(runner.stage(x)).copy()
        d = runner.describe()
    np.testing.assert_allclose(out, expected(x), rtol=1e-5, atol=1e-5)
    assert d.settings["matmuls_1x1_as_multiply"] == 1
    assert threads is None or d.threads == threads


@pytest.mark.parametrize(
    ("scenario", "extra", "hint", "source"),
    [
        ("offline", {}, "THROUGHPUT", "scenario default"),
        ("server", {}, "THROUGHPUT", "scenario default"),
        ("single-stream", {}, "LATENCY", "scenario default"),
        (None, {}, "LATENCY", "scenario default"),
        ("offline", {"performance_hint": "latency"}, "LATENCY", "option"),
    ],
)
def test_throughput_scenarios_compile_for_throughput_unless_a_hint_is_given(
    standin_artifact, scenario, extra, hint, source
):
    with prepared(standin_artifact, scenario=scenario, extra=extra) as runner:
        s = runner.describe().settings
    assert (s["performance_hint"], s["performance_hint_from"]) == (hint, source)
    assert isinstance(s["num_streams"], int) and s["optimal_number_of_infer_requests"] >= 1
    assert "requests" not in s  # no queue opened: the record does not claim one


@pytest.mark.parametrize("prompt", [True, False])
@pytest.mark.parametrize(("option", "n"), [(None, None), (3, 3)])
def test_queue_outputs_agree_with_synchronous_infer(standin_artifact, batches, as_record, option, n, prompt):
    extra = {} if option is None else {"requests": option}
    x = batches(5, 27)
    with prepared(standin_artifact, batch_size=5, scenario="offline", extra=extra) as runner:
        staged = runner.stage(x)
        expected = runner.infer(staged).copy()
        optimal = runner.describe().settings["optimal_number_of_infer_requests"]
        with runner.async_queue(staged, prompt=prompt) as queue:
            assert queue.n_in_flight == (n or optimal)
            done: list[int] = []
            for i in range(4 * queue.n_in_flight):
                queue.submit(lambda i=i: done.append(i))
            queue.wait_all()
            assert sorted(done) == list(range(4 * queue.n_in_flight))  # each called back once
            assert len(queue.outputs) == queue.n_in_flight
            for out in queue.outputs:  # each request wrote its own array
                np.testing.assert_array_equal(out, expected)
        d = runner.describe()
    assert d.settings["requests"] == queue.n_in_flight and "AsyncInferQueue" in d.settings["call"]
    assert ("callback" in d.settings["call"]) is prompt
    as_record(d)


def test_a_lazy_queue_calls_back_on_the_submitting_thread_when_a_request_is_reused(standin_artifact, batches):
    import threading

    with prepared(standin_artifact, scenario="offline") as runner:
        with runner.async_queue(runner.stage(batches(1, 29)), 2, prompt=False) as queue:
            threads: list[int] = []
            for _ in range(2):  # both requests busy, none reused yet
                queue.submit(lambda: threads.append(threading.get_ident()))
            assert threads == []
            queue.submit(lambda: threads.append(threading.get_ident()))  # reuses the first
            assert threads == [threading.get_ident()]
            queue.wait_all()  # the two still waiting
            assert threads == [threading.get_ident()] * 3
            queue.wait_all()  # nothing left: nothing called twice
            assert len(threads) == 3


def test_an_error_in_a_queue_callback_is_raised_not_fatal(standin_artifact, batches):
    # openvino 2026.4 aborts the process on start_async after a callback raised into it; the
    # queue keeps the error itself and raises it from wait_all and every later submit.
    with prepared(standin_artifact, scenario="offline") as runner:
        with runner.async_queue(runner.stage(batches(1, 28)), 2) as queue:

            def fail() -> None:
                raise ValueError("callback broke")

            queue.submit(fail)
            with pytest.raises(RunnerError, match="completion callback failed: ValueError: callback broke"):
                queue.wait_all()
            with pytest.raises(RunnerError, match="callback broke"):
                queue.submit(lambda: None)


def test_offline_record_holds_the_requests_in_flight(standin_ctx, quick_settings, tmp_path):
    from triggerbench.measure.job import Job
    from triggerbench.measure.session import measure_one

    job = Job(
        runner="openvino",
        scenario="offline",
        batch_size=2,
        runner_options={"requests": 3},
        settings=quick_settings,
        out_dir=tmp_path,
    )
    record = measure_one(standin_ctx, job)
    assert record.status == "ok", record.error
    assert record.scenario.requests_in_flight == 3 == record.runner.settings["requests"]
    assert record.runner.settings["performance_hint"] == "THROUGHPUT"
    # offline measures throughput only: no callback on OpenVINO's stream threads
    assert record.runner.settings["call"].endswith("read when the request is reused")
    assert record.scenario.settings["calibrated_queue_calls_per_s"] > 0
