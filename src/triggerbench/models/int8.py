"""Post-training static INT8 (QDQ) of an ONNX export with ONNX Runtime's quantizer.

Calibrated on simulated inputs; the result is an ONNX model that ONNX Runtime and OpenVINO both
run, so "INT8 vs float" is one table. Weights are int8 per channel, activations int8.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

#: Calibration batches are fed this many samples at a time.
CALIBRATION_BATCH = 32


class _Calibration:
    """ONNX Runtime's CalibrationDataReader protocol over an in-memory array."""

    def __init__(self, input_name: str, inputs: np.ndarray) -> None:
        self._batches = iter(
            {input_name: np.ascontiguousarray(inputs[i : i + CALIBRATION_BATCH], np.float32)}
            for i in range(0, len(inputs), CALIBRATION_BATCH)
        )

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._batches, None)


def quantize_int8(onnx_path: Path, calibration_inputs: np.ndarray, out_path: Path) -> Path:
    """Write a QDQ INT8 copy of ``onnx_path`` to ``out_path`` (atomically) and return it."""
    import onnxruntime as ort
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    input_name = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"]).get_inputs()[0].name
    tmp = out_path.with_name(f".{out_path.stem}.{os.getpid()}.onnx")
    quantize_static(
        str(onnx_path),
        str(tmp),
        _Calibration(input_name, calibration_inputs),
        quant_format=QuantFormat.QDQ,
        activation_type=QuantType.QInt8,
        weight_type=QuantType.QInt8,
        per_channel=True,
    )
    os.replace(tmp, out_path)
    return out_path
