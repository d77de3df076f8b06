"""A user's own ONNX files as exporters write them: a fixed batch axis, integer inputs."""

from __future__ import annotations

import numpy as np
import pytest
from cli_runs import TINY_WINDOWS, one_line_error, tb

from triggerbench.measure.job import build_context
from triggerbench.measure.settings import MeasureSettings
from triggerbench.results import load

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

RUNNERS = "onnxruntime,openvino"


def tiny_onnx(path, batch, elem_type=TensorProto.FLOAT):
    """``y = float(x) @ W + b`` on 4 features; ``batch`` an int fixes the batch axis, a str names it."""
    rng = np.random.default_rng(1)
    w = numpy_helper.from_array(rng.standard_normal((4, 3)).astype(np.float32) / 64, "W")
    b = numpy_helper.from_array(np.arange(3, dtype=np.float32), "B")
    nodes = [
        helper.make_node("Cast", ["x"], ["xf"], to=TensorProto.FLOAT),
        helper.make_node("MatMul", ["xf", "W"], ["xw"]),
        helper.make_node("Add", ["xw", "B"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("x", elem_type, [batch, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, 3])],
        initializer=[w, b],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8  # readable by older ONNX Runtime and OpenVINO releases
    onnx.save(model, str(path))
    return path


def run(model, *extra, cwd):
    return tb(
        "run", "--model", str(model), "--runner", RUNNERS, *extra, *TINY_WINDOWS, "--set",
        "accuracy_samples=10", "--out", "res", "--no-isolate", cwd=cwd,
    )  # fmt: skip


def ok_records(cwd):
    frame = load([cwd / "res"]).set_index("runner.name")
    assert set(frame.index) == set(RUNNERS.split(",")), frame.index
    assert (frame["status"] == "ok").all(), frame[["status", "error.message"]]
    assert (frame["accuracy.max_abs_diff"] < 1e-4).all(), frame["accuracy.max_abs_diff"]
    assert (frame["accuracy.n_samples"] == 10).all()
    return frame


def test_fixed_batch_one_model_runs_at_batch_one(tmp_path):
    model = tiny_onnx(tmp_path / "fixed.onnx", 1)
    # 10 samples: the reference pass runs them one by one, not in one call of 10.
    proc = run(model, "--batch", "1", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    frame = ok_records(tmp_path)
    assert (frame["workload.fixed_batch_size"] == 1).all()
    assert (frame["workload.input_dtype"] == "float32").all()


def test_fixed_batch_model_refuses_other_batch_sizes(tmp_path):
    model = tiny_onnx(tmp_path / "fixed.onnx", 1)
    proc = run(model, "--batch", "1,4", cwd=tmp_path)
    one_line_error(proc, "--batch 4: model 'fixed' has its batch fixed at 1")
    assert "use --batch 1" in proc.stderr


def test_fixed_batch_above_one_pads_the_last_reference_batch(tmp_path):
    model = tiny_onnx(tmp_path / "fixed3.onnx", 3)
    proc = run(model, "--batch", "3", cwd=tmp_path)  # 10 samples: 3 + 3 + 3 + 1 padded
    assert proc.returncode == 0, proc.stderr
    ok_records(tmp_path)


@pytest.mark.parametrize(("elem_type", "dtype"), [(TensorProto.INT8, np.int8), (TensorProto.UINT8, np.uint8)])
def test_integer_input_model_runs_in_its_own_dtype(tmp_path, elem_type, dtype):
    model = tiny_onnx(tmp_path / "quant.onnx", "N", elem_type)
    proc = run(model, "--batch", "1", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    frame = ok_records(tmp_path)
    assert (frame["workload.input_dtype"] == np.dtype(dtype).name).all()
    assert frame["workload.fixed_batch_size"].isna().all()  # a named batch axis: any batch


@pytest.mark.parametrize(("elem_type", "dtype"), [(TensorProto.INT8, np.int8), (TensorProto.UINT8, np.uint8)])
def test_integer_inputs_span_the_dtype_range_or_the_set_one(tmp_path, elem_type, dtype):
    model = tiny_onnx(tmp_path / "quant.onnx", "N", elem_type)
    info = np.iinfo(dtype)
    ctx = build_context(MeasureSettings(accuracy_samples=2000), model_path=model)
    assert ctx.inputs.dtype == dtype and ctx.artifact.input_dtype == np.dtype(dtype).name
    assert ctx.inputs.min() == info.min and ctx.inputs.max() == info.max
    assert ctx.reference.dtype == np.float32
    narrow = MeasureSettings.model_validate({"accuracy_samples": 500, "input_range": "3,9"})
    ctx = build_context(narrow, model_path=model)
    assert ctx.inputs.dtype == dtype and ctx.inputs.min() == 3 and ctx.inputs.max() == 9


def test_integer_model_data_in_range_is_cast_and_out_of_range_refused(tmp_path):
    model = tiny_onnx(tmp_path / "quant.onnx", "N", TensorProto.INT8)
    good = tmp_path / "good.npy"
    np.save(good, np.array([[-128, 0, 5, 127]] * 3, np.float32))
    proc = run(model, "--data", str(good), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    bad = tmp_path / "bad.npy"
    np.save(bad, np.array([[0, 0, 0, 300]], np.int32))
    one_line_error(run(model, "--data", str(bad), cwd=tmp_path), "the model's input is int8")


def test_input_range_set_is_checked(tmp_path):
    model = tiny_onnx(tmp_path / "quant.onnx", "N", TensorProto.UINT8)
    one_line_error(run(model, "--set", "input_range=9,3", cwd=tmp_path), "LO must be below HI")
    one_line_error(run(model, "--set", "input_range=-5,3", cwd=tmp_path), "range 0,255")


def test_onnxruntime_error_keeps_the_line_naming_the_dimension(tmp_path):
    from triggerbench.errors import RunnerError
    from triggerbench.models.artifact import from_onnx
    from triggerbench.runners.base import RunnerOptions
    from triggerbench.runners.onnxruntime import OnnxRuntimeRunner

    artifact = from_onnx(tiny_onnx(tmp_path / "fixed.onnx", 1))
    assert artifact.fixed_batch == 1 and artifact.input_shape == (4,)
    with pytest.raises(RunnerError) as info:  # past the CLI's check, ONNX Runtime says why
        OnnxRuntimeRunner().prepare(artifact, RunnerOptions(batch_size=4))
    message = str(info.value)
    assert "\n" not in message and "index: 0 Got: 4 Expected: 1" in message, message


def test_a_quantized_onnx_graph_is_recorded_as_such(tmp_path):
    from triggerbench.models.artifact import from_onnx

    scale = numpy_helper.from_array(np.array(0.1, dtype=np.float32), "s")
    zero = numpy_helper.from_array(np.array(0, dtype=np.int8), "z")
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"]),
        helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "qdq",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])],
        initializer=[scale, zero],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.save(model, str(tmp_path / "qdq.onnx"))
    assert from_onnx(tmp_path / "qdq.onnx").quantization == "int8 QDQ"
    assert from_onnx(tiny_onnx(tmp_path / "float.onnx", "N")).quantization is None
