"""Numerical profile of hls4ml firmware: each layer's values against the fixed-point type it got.

hls4ml stores every weight, bias and layer result in a fixed-point type (``ap_fixed<W,I>`` with
a rounding and an overflow mode). A float model converted with one default type (hls4ml's
``fixed<16,6>`` holds [-32, 32)) compiles and runs without complaint while a layer whose values
outgrow the integer bits saturates or wraps (hls4ml issue 1512). This module puts the values
beside the type: weights and biases as hls4ml holds them (``layer.get_weights()``), activations
as the float Keras model computes them (``hls4ml.model.profiling.get_ymodel_keras``, which also
splits a fused activation off its layer under hls4ml's ``NAME_ACTIVATION`` name). The float
values are what the type must hold; hls4ml's own ``trace`` shows them after the firmware has
saturated or wrapped them (and recompiles the C-simulation), so it cannot count overflows.
"""

from __future__ import annotations

import contextlib
import io
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from triggerbench.schema import NumericalProfile

#: Integer bits above what the largest value needs from which a tensor "wastes bits": with
#: four the values use under 1/16 of the type's range; fewer is ordinary headroom.
WASTED_BITS_FLAG = 4
_SATURATING = {"SAT", "SAT_ZERO", "SAT_SYM"}


@dataclass(frozen=True)
class FixedType:
    """A fixed-point type as hls4ml describes it (``FixedPrecisionType``)."""

    width_bits: int
    integer_bits: int
    signed: bool
    rounding: str  # TRN, TRN_ZERO, RND, RND_ZERO, RND_INF, RND_MIN_INF, RND_CONV
    saturation: str  # WRAP, SAT, SAT_ZERO, SAT_SYM

    @classmethod
    def of(cls, precision: Any) -> FixedType | None:
        """Read an hls4ml precision object; None for a type that is not fixed point."""
        width, integer = getattr(precision, "width", None), getattr(precision, "integer", None)
        if not isinstance(width, int) or not isinstance(integer, int):
            return None  # exponent, xnor, float and 'auto' types
        rounding = getattr(getattr(precision, "rounding_mode", None), "name", None) or "TRN"
        saturation = getattr(getattr(precision, "saturation_mode", None), "name", None) or "WRAP"
        return cls(width, integer, bool(getattr(precision, "signed", True)), rounding, saturation)

    @property
    def lsb(self) -> float:
        """Value of the least significant bit."""
        return 2.0 ** (self.integer_bits - self.width_bits)

    @property
    def code_range(self) -> tuple[int, int]:
        """Smallest and largest integer code (value / lsb)."""
        if not self.signed:
            return 0, 2**self.width_bits - 1
        top = 2 ** (self.width_bits - 1) - 1
        return (-top if self.saturation == "SAT_SYM" else -top - 1), top

    @property
    def overflow_mode(self) -> str:
        """``saturate`` or ``wrap``, the schema's words."""
        return "saturate" if self.saturation in _SATURATING else "wrap"

    def name(self) -> str:
        """E.g. ``fixed<16,6,TRN,WRAP>``."""
        kind = "fixed" if self.signed else "ufixed"
        return f"{kind}<{self.width_bits},{self.integer_bits},{self.rounding},{self.saturation}>"

    def codes(self, x: np.ndarray) -> np.ndarray:
        """Integer codes of ``x`` after rounding, before overflow handling.

        The RND variants differ only on exact ties, which cannot move a value across the range.
        """
        scaled = np.asarray(x, np.float64) / self.lsb
        if self.rounding == "TRN":
            return np.floor(scaled)
        if self.rounding == "TRN_ZERO":
            return np.trunc(scaled)
        return np.floor(scaled + 0.5)

    def integer_bits_needed(self, x: np.ndarray) -> int | None:
        """Fewest integer bits that hold every value of ``x``; None when all are zero."""
        hi, lo = float(np.max(x)), float(np.min(x))
        needs = []
        if hi > 0:  # hi < 2**(I-1) signed, < 2**I unsigned
            needs.append(math.floor(math.log2(hi)) + (2 if self.signed else 1))
        if lo < 0:  # lo >= -2**(I-1); an unsigned type cannot hold it at all
            needs.append(math.ceil(math.log2(-lo)) + 1)
        return max(needs) if needs else None


def tensor_profile(layer: str, tensor: str, values: np.ndarray, fixed: FixedType | None) -> NumericalProfile:
    """One tensor's values against ``fixed``: overflows, wasted integer bits, a verdict."""
    x = np.asarray(values, np.float64).ravel()
    x = x[np.isfinite(x)]
    base: dict[str, Any] = {"layer": layer, "tensor": tensor, "n_values": int(x.size)}
    if x.size:
        base.update(min=float(x.min()), max=float(x.max()))
    if fixed is None:
        return NumericalProfile(**base, note="hls4ml gave this tensor no fixed-point type")
    lo_code, hi_code = fixed.code_range
    base.update(
        precision=fixed.name(),
        width_bits=fixed.width_bits,
        integer_bits=fixed.integer_bits,
        signed=fixed.signed,
        range_min=lo_code * fixed.lsb,
        range_max=hi_code * fixed.lsb,
        overflow_mode=fixed.overflow_mode,
    )
    if not x.size:
        return NumericalProfile(**base, note="no values")
    codes = fixed.codes(x)
    overflows = int(np.count_nonzero((codes < lo_code) | (codes > hi_code)))
    needed = fixed.integer_bits_needed(x)
    wasted = None if needed is None else max(0, fixed.integer_bits - needed)
    notes = []
    if overflows:
        verdict = "overflows"
        action = "saturate at the range's edge" if fixed.overflow_mode == "saturate" else "wrap around"
        notes.append(f"{overflows} values {action}; needs integer bits >= {needed}")
    elif wasted is not None and wasted >= WASTED_BITS_FLAG:
        verdict = "wastes-bits"
        notes.append(f"integer bits {needed} would hold every value")
    else:
        verdict = "ok"
    nonzero = x != 0
    lost = int(np.count_nonzero(nonzero & (codes == 0)))
    if lost:  # too few fractional bits: the firmware sees zero
        notes.append(f"{lost} of {int(nonzero.sum())} nonzero values round to 0 (lsb {fixed.lsb:g})")
    if needed is None:
        notes.append("all values are zero")
    return NumericalProfile(
        **base,
        overflow_count=overflows,
        overflow_fraction=overflows / x.size,
        wasted_integer_bits=wasted,
        verdict=verdict,
        note="; ".join(notes) or None,
    )


def keras_activations(keras_model: Any, inputs: np.ndarray) -> dict[str, np.ndarray]:
    """Float output of every Keras layer on ``inputs``, under hls4ml's layer names.

    A layer with a fused activation gives its linear output under its own name and the
    activation's under ``NAME_ACTIVATION``, as hls4ml splits it.
    """
    import keras
    from hls4ml.model.profiling import get_ymodel_keras

    x = np.asarray(inputs, np.float32)
    if isinstance(keras_model, keras.Sequential):  # Keras 3's Sequential has no ``input`` to read
        keras_model = keras.Model(keras_model.inputs, keras_model.outputs)
    with contextlib.redirect_stdout(io.StringIO()):  # predict's progress bars, hls4ml's prints
        outputs = get_ymodel_keras(keras_model, x)
    return {name: np.asarray(y) for name, y in outputs.items()}


def _layer_values(layer: Any, activations: dict[str, np.ndarray], inputs: np.ndarray) -> np.ndarray | None:
    if layer.class_name == "Input":  # get_ymodel_keras skips the input layer
        return np.asarray(inputs)
    values = activations.get(layer.name)
    if values is None and layer.class_name == "FixedPointQuantizer":
        # An HGQ2 input quantizer hls4ml inserts before a layer: it quantizes its input's values.
        producer = layer.get_input_node()
        values = activations.get(producer.name) if producer is not None else None
    return values


def profile(keras_model: Any, hls_model: Any, inputs: np.ndarray) -> list[NumericalProfile]:
    """Weights, biases and activations of every hls4ml layer against their fixed-point types.

    ``inputs`` are events in the model's input shape; activation ranges are as wide as they are.
    """
    activations = keras_activations(keras_model, inputs)
    rows: list[NumericalProfile] = []
    for layer in hls_model.get_layers():
        for weight in layer.get_weights():
            kind = "bias" if weight.name.startswith("b") else "weight"
            rows.append(tensor_profile(layer.name, kind, weight.data, FixedType.of(weight.type.precision)))
        fixed = FixedType.of(layer.get_output_variable().type.precision)
        values = _layer_values(layer, activations, inputs)
        if values is None:
            rows.append(
                NumericalProfile(
                    layer=layer.name,
                    tensor="activation",
                    n_values=0,
                    precision=fixed.name() if fixed else None,
                    note="no Keras output matches this hls4ml layer (added or renamed by its optimizers)",
                )
            )
            continue
        rows.append(tensor_profile(layer.name, "activation", values, fixed))
    return rows


def flagged(rows: list[NumericalProfile]) -> list[NumericalProfile]:
    """The rows whose verdict is ``overflows``, for a one-line summary."""
    return [row for row in rows if row.verdict == "overflows"]
