"""Is fixed-point firmware faithful to its float model? Overflowing layers and a precision to try.

A fixed-point type ``fixed<W,I>`` holds values in ``[-2**(I-1), 2**(I-1))``; hls4ml's default
``SAT`` mode clips anything beyond, so a layer whose activations outgrow the integer bits gives
outputs far from the float model's while the C-simulation runs without complaint. The check
compares the accuracy pass's mean |diff| with the float reference's output scale and, when it is
far off, runs the Keras model layer by layer on the same inputs to name the layers that overflow.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

_FIXED = re.compile(r"^(?:ap_)?(u?)fixed<\s*(\d+)\s*,\s*(-?\d+)")


@dataclass(frozen=True)
class Fidelity:
    """The firmware's mean |diff| against the reference's output scale (RMS of the reference)."""

    mean_abs_diff: float
    output_scale: float
    threshold_pct: float

    @property
    def ratio_pct(self) -> float:
        """Mean |diff| as a percentage of the output scale (inf when the reference is all zero)."""
        if self.output_scale == 0:
            return 0.0 if self.mean_abs_diff == 0 else math.inf
        return 100.0 * self.mean_abs_diff / self.output_scale

    @property
    def far(self) -> bool:
        """True when the firmware is further from the reference than the threshold allows."""
        return self.ratio_pct > self.threshold_pct


def fidelity(mean_abs_diff: float, reference: np.ndarray, threshold_pct: float) -> Fidelity:
    """Compare ``mean_abs_diff`` with the RMS of ``reference``."""
    ref = np.asarray(reference, dtype=np.float64)
    scale = float(np.sqrt(np.mean(ref * ref))) if ref.size else 0.0
    return Fidelity(float(mean_abs_diff), scale, float(threshold_pct))


def integer_range(precision: str) -> tuple[int, int, float, bool] | None:
    """``(W, I, largest magnitude, unsigned)`` of a ``fixed<W,I,...>`` type; None for others."""
    m = _FIXED.match(precision.replace(" ", ""))
    if m is None:
        return None
    unsigned, width, integer = m.group(1) == "u", int(m.group(2)), int(m.group(3))
    return width, integer, 2.0 ** (integer if unsigned else integer - 1), unsigned


def layer_ranges(model: Any, inputs: np.ndarray) -> dict[str, float]:
    """Max |activation| per layer on ``inputs``.

    A layer with a fused non-linear activation also gets its pre-activation (linear) output, the
    one hls4ml stores in the precision before its separate activation layer, as ``NAME_linear``.
    """
    import keras

    x = np.asarray(inputs, dtype=np.float32)
    layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
    inputs_ = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    probe = keras.Model(inputs_, [layer.output for layer in layers])

    def peaks(suffix: str = "") -> dict[str, float]:
        outs = probe(x)
        outs = outs if isinstance(outs, list | tuple) else [outs]
        return {
            f"{layer.name}{suffix}": float(np.max(np.abs(np.asarray(y))))
            for layer, y in zip(layers, outs, strict=True)
        }

    ranges = peaks()
    fused = [
        layer for layer in layers
        if getattr(getattr(layer, "activation", None), "__name__", "linear") != "linear"
        and type(layer).__name__ not in ("Activation", "ReLU", "Softmax", "LeakyReLU")
    ]  # fmt: skip
    if fused:
        saved = {layer.name: layer.activation for layer in fused}
        try:
            for layer in fused:
                layer.activation = keras.activations.linear
            linear = peaks("_linear")
        finally:
            for layer in fused:
                layer.activation = saved[layer.name]
        ranges.update({f"{layer.name}_linear": linear[f"{layer.name}_linear"] for layer in fused})
    return ranges


def overflowing(ranges: dict[str, float], precision: str) -> list[tuple[str, float]]:
    """The layers whose max |activation| reaches the integer range of ``precision``."""
    parsed = integer_range(precision)
    if parsed is None:
        return []
    limit = parsed[2]
    return [(name, value) for name, value in ranges.items() if value >= limit]


def suggested_precision(precision: str, largest: float) -> str:
    """``fixed<W,I,...>`` with I = ceil(log2(largest)) + 2.

    The fractional bits and the rounding / saturation modes of ``precision`` are kept.
    """
    width, integer, _, unsigned = integer_range(precision) or (32, 12, 0.0, False)
    new_integer = max(integer, math.ceil(math.log2(max(largest, 1.0))) + 2)
    modes = precision.replace(" ", "").rstrip(">").split(",")[2:]
    kind = "ufixed" if unsigned else "fixed"
    return f"{kind}<{','.join([str(width - integer + new_integer), str(new_integer), *modes])}>"


def warning(fid: Fidelity, precision: str | None, overflows: list[tuple[str, float]]) -> str:
    """The record's warning: how far off, and which layers exceed which range, with a fix to try."""
    text = (
        f"firmware outputs far from the float reference (mean |diff| {fid.mean_abs_diff:.4g} = "
        f"{fid.ratio_pct:.3g} % of output scale {fid.output_scale:.4g} (RMS of the reference), "
        f"threshold {fid.threshold_pct:g} %)"
    )
    if precision is None:
        return text
    if not overflows:
        return f"{text}: no layer exceeds the integer range of {precision}; check its fractional bits"
    parsed = integer_range(precision)
    names = ", ".join(f"{name} (max |a| {value:.4g})" for name, value in overflows)
    largest = max(value for _, value in overflows)
    suggestion = suggested_precision(precision, largest)
    integer = suggestion.split(",")[1].rstrip(">")  # fixed<W,I,...>: the second field
    limit = f" (|a| < {parsed[2]:g})" if parsed else ""
    return (
        f"{text}: layers {names} exceed the integer range of precision {precision}{limit}; "
        f"try -O hls4ml.precision='{suggestion}' (I >= {integer})"
    )
