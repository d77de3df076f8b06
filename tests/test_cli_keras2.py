"""Keras 2 files as users bring them: ``.h5`` full models (Keras 2 quirks included) and QONNX files."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from cli_runs import TINY_WINDOWS, one_line_error, tb

from triggerbench.results import load

keras = pytest.importorskip("keras")
h5py = pytest.importorskip("h5py")
onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

RUNNERS = "keras,onnxruntime"


def tiny_h5(path):
    """A small Keras 3 CNN with a DepthwiseConv2D, saved in the legacy ``.h5`` format."""
    inp = keras.Input((8, 8, 2))
    x = keras.layers.DepthwiseConv2D(3, name="dw")(inp)
    x = keras.layers.Flatten()(x)
    out = keras.layers.Dense(3, name="head")(x)
    keras.Model(inp, out).save(path)
    return path


def edited_h5(path, class_name, rename=None, **config):
    """``tiny_h5`` at ``path``, its ``class_name`` layers given ``config`` keys (and renamed ``rename``)."""
    tiny_h5(path)
    with h5py.File(path, "r+") as fh:
        model_config = json.loads(fh.attrs["model_config"])
        for layer in model_config["config"]["layers"]:
            if layer["class_name"] == class_name:
                layer["config"].update(config)
                layer["class_name"] = rename or class_name
        fh.attrs["model_config"] = json.dumps(model_config)
    return path


def run(model, cwd):
    return tb(
        "run", "--model", str(model), "--runner", RUNNERS, "--batch", "1", *TINY_WINDOWS,
        "--set", "accuracy_samples=10", "--out", "res", "--no-isolate", cwd=cwd,
        env=_env(cwd),
    )  # fmt: skip


def _env(cwd):
    return {**os.environ, "TRIGGERBENCH_CACHE": str(cwd / "cache")}


def ok_records(cwd):
    frame = load([cwd / "res"]).set_index("runner.name")
    assert set(frame.index) == set(RUNNERS.split(",")), frame.index
    assert (frame["status"] == "ok").all(), frame[["status", "error.message"]]
    assert (frame["workload.source_format"] == "keras").all()
    assert (frame["accuracy.max_abs_diff"] < 1e-4).all(), frame["accuracy.max_abs_diff"]
    return frame


def test_h5_full_model_runs(tmp_path):
    model = tiny_h5(tmp_path / "m.h5")
    proc = run(model, tmp_path)
    assert proc.returncode == 0, proc.stderr
    frame = ok_records(tmp_path)
    assert (frame["workload.name"] == "m").all()


def test_h5_with_keras2_depthwise_groups_key_loads(tmp_path):
    proc = run(edited_h5(tmp_path / "k2.h5", "DepthwiseConv2D", groups=1), tmp_path)
    assert proc.returncode == 0, proc.stderr
    ok_records(tmp_path)
    assert "groups=1" in proc.stderr and "'dw'" in proc.stderr, proc.stderr


def test_h5_unloadable_layer_is_one_line_naming_it(tmp_path):
    proc = run(edited_h5(tmp_path / "bad.h5", "Dense", rename="FancyDense"), tmp_path)
    one_line_error(proc, "layer 'head' (FancyDense)")
    assert "re-save the model with Keras 3" in proc.stderr


def test_h5_unrecognized_keyword_names_layer_and_key(tmp_path):
    proc = run(edited_h5(tmp_path / "kw.h5", "Dense", legacy_arg=3), tmp_path)
    one_line_error(proc, "layer 'head' (Dense): unrecognized keyword 'legacy_arg'")


def test_qonnx_file_is_one_line(tmp_path):
    scale = numpy_helper.from_array(np.float32(0.125), "scale")
    zero = numpy_helper.from_array(np.float32(0.0), "zero")
    bits = numpy_helper.from_array(np.float32(4.0), "bits")
    node = helper.make_node(
        "Quant", ["x", "scale", "zero", "bits"], ["y"], domain="qonnx.custom_op.general",
        signed=1, narrow=0, rounding_mode="ROUND",
    )  # fmt: skip
    graph = helper.make_graph(
        [node],
        "qonnx",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
        initializer=[scale, zero, bits],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("qonnx.custom_op.general", 1)]
    )
    onnx.save(model, str(tmp_path / "q.onnx"))
    proc = tb("run", "--model", "q.onnx", "--runner", "onnxruntime", *TINY_WINDOWS, cwd=tmp_path)
    expected = "QONNX is not supported: q.onnx has QONNX Quant nodes (domain qonnx.custom_op.general)"
    one_line_error(proc, expected)
    assert "convert it to QDQ ONNX" in proc.stderr


def test_h5_depthwise_with_groups_other_than_one_is_one_line(tmp_path):
    proc = run(edited_h5(tmp_path / "g2.h5", "DepthwiseConv2D", groups=2), tmp_path)
    one_line_error(proc, "layer 'dw' (DepthwiseConv2D) has groups=2")


def test_weights_only_h5_is_one_line(tmp_path):
    inp = keras.Input((4,))
    model = keras.Model(inp, keras.layers.Dense(2)(inp))
    model.save_weights(tmp_path / "w.weights.h5")
    proc = run(tmp_path / "w.weights.h5", tmp_path)
    one_line_error(proc, "w.weights.h5 holds no model config (a weights-only file?)")
