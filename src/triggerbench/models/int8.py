"""Post-training static INT8 (QDQ) of an ONNX export with ONNX Runtime's quantizer.

Calibrated on simulated inputs; the result is an ONNX model that ONNX Runtime and OpenVINO both
run, so "INT8 vs float" is one table. Weights are int8 per channel, activations int8, except
the output head (last Dense and the unit scaling after it), which stays float. The L0 models'
output holds pT (GeV, up to ~30) and eta (~0.04) in one tensor, and one int8 scale for both
rounded eta to zero (measured: eta residual RMS 0.0109, eta itself); a float last layer is the
usual PTQ remedy.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from triggerbench.errors import UserInputError

#: Names the quantization recipe in cached file names, so a recipe change rebuilds them.
RECIPE = "qdq-v3"
#: Ops that are linear in their activation input: the float output head is made of these.
_LINEAR_OPS = frozenset(
    {"MatMul", "Gemm", "Add", "Sub", "Mul", "Div", "Reshape", "Flatten", "Identity", "Transpose", "Squeeze"}
)
#: Calibration batches are fed this many samples at a time.
CALIBRATION_BATCH = 32
#: The L0 trigger threshold whose decision (predicted pT above it) INT8 and float must agree on.
L0_DECISION_THRESHOLD_GEV = 10.0


class _Calibration:
    """ONNX Runtime's CalibrationDataReader protocol over an in-memory array."""

    def __init__(self, input_name: str, inputs: np.ndarray) -> None:
        self._batches = iter(
            {input_name: np.ascontiguousarray(inputs[i : i + CALIBRATION_BATCH], np.float32)}
            for i in range(0, len(inputs), CALIBRATION_BATCH)
        )

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._batches, None)


def _check_calibration(onnx_path: Path, model_shape: list, calibration_inputs: np.ndarray) -> None:
    """One-line error for a calibration set the model cannot take (the quantizer's own is deep)."""
    shape = tuple(np.shape(calibration_inputs))
    expected = tuple(model_shape[1:])
    # Symbolic (string or None) dims accept any size; only fixed ones are compared.
    fits = len(shape) == len(expected) + 1 and all(
        not isinstance(want, int) or want == got for want, got in zip(expected, shape[1:], strict=True)
    )
    if not fits:
        dims = ", ".join(str(d) if isinstance(d, int) else "?" for d in expected)
        raise UserInputError(
            f"calibration set of shape {shape} does not fit the input of {onnx_path.name}: (N, {dims})"
        )
    if shape[0] == 0:
        raise UserInputError(f"calibration set for {onnx_path.name} is empty")


def float_head_nodes(onnx_path: Path) -> list[str]:
    """The output head kept in float: the linear nodes between the last nonlinearity and the output.

    Walking back from the graph's outputs through linear ops (the last Dense's MatMul and bias Add,
    a fixed unit-scaling MatMul, reshapes) and stopping at the first nonlinearity (Relu...) keeps
    the final layer float, whose per-tensor int8 scale would otherwise be shared by all outputs.
    """
    import onnx

    graph = onnx.load(str(onnx_path), load_external_data=False).graph
    producer = {out: node for node in graph.node for out in node.output}
    head: list[str] = []
    todo = [o.name for o in graph.output]
    while todo:
        node = producer.get(todo.pop())
        if node is None or node.op_type not in _LINEAR_OPS or node.name in head:
            continue
        head.append(node.name)
        todo.extend(node.input)
    return head


def quantize_int8(onnx_path: Path, calibration_inputs: np.ndarray, out_path: Path) -> Path:
    """Write a QDQ INT8 copy of ``onnx_path`` to ``out_path`` (atomically) and return it.

    Raises:
        UserInputError: When the calibration set's shape does not fit the model's input.
    """
    import onnxruntime as ort
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    model_input = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"]).get_inputs()[0]
    _check_calibration(Path(onnx_path), list(model_input.shape), calibration_inputs)
    tmp = out_path.with_name(f".{out_path.stem}.{os.getpid()}.onnx")
    quantize_static(
        str(onnx_path),
        str(tmp),
        _Calibration(model_input.name, calibration_inputs),
        quant_format=QuantFormat.QDQ,
        activation_type=QuantType.QInt8,
        weight_type=QuantType.QInt8,
        per_channel=True,
        # 7-bit weights: x86 CPUs without VNNI (AVX2 only) run int8 products with VPMADDUBSW, whose
        # 16-bit pairwise sums saturate on full-range weights (ONNX Runtime's documented caveat).
        # Measured on an AVX2-only EPYC: LLP VGG mean |INT8 - float| 0.19 m with full range,
        # 0.021 m with reduce_range (0.024 m with graph optimizations off, i.e. without those kernels).
        reduce_range=True,
        nodes_to_exclude=float_head_nodes(onnx_path),
    )
    os.replace(tmp, out_path)
    return out_path


def l0_decision_agreement(
    reference: np.ndarray, outputs: np.ndarray, threshold_gev: float = L0_DECISION_THRESHOLD_GEV
) -> dict[str, float]:
    """How often a model fires the L0 trigger (predicted pT > threshold) when the float one does.

    Args:
        reference: Float model outputs, (n, 2) [pt_gev, eta].
        outputs: Outputs of the model under test (e.g. INT8), same shape.
        threshold_gev: Trigger threshold on the predicted pT.

    Returns:
        ``decision_agreement_frac`` (same decision as the float model, all windows),
        ``decision_lost_frac`` (the float model fires, this one does not) and
        ``decision_gained_frac`` (this one fires, the float model does not), out of all windows.
    """
    ref = np.asarray(reference, np.float64).reshape(len(reference), -1)[:, 0] > threshold_gev
    out = np.asarray(outputs, np.float64).reshape(len(outputs), -1)[:, 0] > threshold_gev
    if ref.shape != out.shape or len(ref) == 0:
        raise UserInputError(f"reference and outputs must be equally long, non-empty: {len(ref)}, {len(out)}")
    return {
        "decision_agreement_frac": float(np.mean(ref == out)),
        "decision_lost_frac": float(np.mean(ref & ~out)),
        "decision_gained_frac": float(np.mean(~ref & out)),
    }
