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
            "openvino runner: unknown option(s) jit_compile; known options: performance_hint",
        ),
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
