"""CPU INT8 (ONNX Runtime static QDQ) workloads: real quantization of a shipped student."""

from __future__ import annotations

import numpy as np
import pytest

from triggerbench.errors import UserInputError
from triggerbench.models import shipped, workloads
from triggerbench.models.int8 import float_head_nodes, l0_decision_agreement, quantize_int8


@pytest.fixture(scope="session")
def student_int8_ctx(quick_settings):
    """The student's INT8 workload, quantized once (a second or two), with its float reference."""
    from triggerbench.measure.job import build_context

    settings = quick_settings.model_copy(update={"accuracy_samples": 512})
    return build_context(settings, workload="muon-l0-student-int8")


def test_every_shipped_float_model_has_an_int8_workload():
    float_models = [
        n for n, m in shipped.manifest()["models"].items() if not m["variant"].startswith("qstudent")
    ]
    assert {"llp-vgg", "muon-l0-teacher", "muon-l0-student"} <= set(float_models)
    for name in float_models:
        w = workloads.get(f"{name}-int8")
        assert w.variant == "int8-ptq"
        assert w.float_reference() == workloads.get(name).source()  # compared with its float model
    assert "muon-l0-qstudent-4bit-int8" not in workloads.WORKLOADS  # quantized already (HGQ2)


def test_qdq_model_has_int8_quantize_nodes_and_a_float_head(student_int8_ctx):
    import onnx

    model = onnx.load(str(student_int8_ctx.artifact.path("onnx")))
    inits = {i.name: i for i in model.graph.initializer}
    quant = [n for n in model.graph.node if n.op_type == "QuantizeLinear"]
    assert len(quant) >= 4
    zero_point_types = {
        inits[n.input[2]].data_type for n in quant if len(n.input) > 2 and n.input[2] in inits
    }
    assert zero_point_types == {onnx.TensorProto.INT8}
    # The output head (last Dense + unit scaling) reads float: no QDQ pair on its activations.
    head = float_head_nodes(student_int8_ctx.artifact.path("onnx"))
    assert head and all("QuantizeLinear" not in name for name in head)
    producer = {out: n for n in model.graph.node for out in n.output}
    last = producer[model.graph.output[0].name]
    assert last.name in head and producer[last.input[0]].op_type != "DequantizeLinear"


@pytest.mark.parametrize("runner_name", ["onnxruntime", "openvino"])
def test_accuracy_pass_shows_a_small_nonzero_drop(student_int8_ctx, runner_name):
    from triggerbench.measure.accuracy import accuracy_pass, run_batches
    from triggerbench.runners import registry
    from triggerbench.runners.base import RunnerOptions

    cls = registry.get(runner_name)
    if not cls.available()[0]:
        pytest.skip(cls.available()[1])
    ctx = student_int8_ctx
    assert ctx.reference_name == "keras-float32"  # judged against the float Keras model
    runner = cls()
    runner.prepare(ctx.artifact, RunnerOptions(batch_size=16))
    try:
        acc = accuracy_pass(
            runner, 16, ctx.inputs, ctx.reference, ctx.reference_name, ctx.labels, ctx.metric_functions().task
        )
        outputs = run_batches(runner, ctx.inputs, 16)
    finally:
        runner.close()
    assert 0 < acc.mean_abs_diff < 0.5  # GeV-scale outputs: quantized, but close
    float_metrics = workloads.get("muon-l0-student").task_metrics(ctx.labels, ctx.reference)
    assert acc.task_metrics["pt_resolution_frac"] == pytest.approx(
        float_metrics["pt_resolution_frac"], rel=0.1
    )
    # The float head keeps eta: an int8 output shared with pT (GeV) rounded it to zero.
    assert acc.task_metrics["eta_residual_rms"] < 1.5 * float_metrics["eta_residual_rms"]
    agreement = l0_decision_agreement(ctx.reference, outputs)
    assert 0.95 < agreement["decision_agreement_frac"] <= 1.0


def test_calibration_of_the_wrong_shape_is_a_one_line_error(tmp_path):
    float_onnx = workloads.get("muon-l0-student").artifact().path("onnx")
    wrong = np.zeros((8, 16, 9, 1), np.float32)  # transposed window
    with pytest.raises(
        UserInputError, match=r"calibration set of shape \(8, 16, 9, 1\) does not fit"
    ) as info:
        quantize_int8(float_onnx, wrong, tmp_path / "out.onnx")
    assert "(N, 9, 16, 1)" in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(UserInputError, match="empty"):
        quantize_int8(float_onnx, np.zeros((0, 9, 16, 1), np.float32), tmp_path / "out.onnx")
    assert not (tmp_path / "out.onnx").exists()


def test_decision_agreement_counts_flips_by_direction():
    reference = np.array([[12.0, 0.0], [8.0, 0.0], [15.0, 0.0], [9.0, 0.0]])
    outputs = np.array([[11.0, 0.0], [10.5, 0.0], [9.5, 0.0], [9.9, 0.0]])
    got = l0_decision_agreement(reference, outputs)
    assert got == {"decision_agreement_frac": 0.5, "decision_lost_frac": 0.25, "decision_gained_frac": 0.25}
    with pytest.raises(UserInputError):
        l0_decision_agreement(reference, outputs[:2])


def test_agreement_metrics_by_task():
    assert workloads.agreement_metrics("muon-l0-pt-eta-regression") is l0_decision_agreement
    assert workloads.agreement_metrics("llp-decay-radius-regression") is None
