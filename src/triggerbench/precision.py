"""The one precision vocabulary: the arithmetic that ran, and the model's own quantization.

``runner.precision`` names the arithmetic a backend ran: ``f32``, ``f16``, ``bf16``, ``int8``, or
``fixed-point`` with its widths (``fixed-point fixed<16,6>``, or per layer from the model's
quantizers). ``workload.quantization`` names how the model was quantized (``4-bit HGQ2
quantization-aware``, ``int8 QDQ``), null for a float model. A float backend running a
quantized model runs its fake-quantized graph in float: ``f32 (4-bit HGQ2 quantization-aware,
fake-quantized)``.
"""

from __future__ import annotations

#: Floating-point and integer arithmetic, as the backends' precision options name them.
FLOAT = ("f32", "f16", "bf16")
INT8 = "int8"
FIXED_POINT = "fixed-point"
#: A firmware whose widths are set per layer by the model's quantizers (HGQ2), not by one type.
PER_LAYER = "per layer, from the model's quantizers"
#: Names written by schema version 4 and before -> today's term.
LEGACY = {"hgq2": f"{FIXED_POINT} ({PER_LAYER})", "fixed-point (HGQ2)": f"{FIXED_POINT} ({PER_LAYER})"}


def fixed_point(widths: str | None) -> str:
    """Fixed-point arithmetic of one type (``fixed<16,6>``), or per layer when ``widths`` is None."""
    return f"{FIXED_POINT} {widths}" if widths else f"{FIXED_POINT} ({PER_LAYER})"


def hgq2(bits: int | None) -> str:
    """An HGQ2 quantization-aware model, with its bit width where one was set for the model."""
    return f"{bits}-bit HGQ2 quantization-aware" if bits else "HGQ2 quantization-aware"


def is_hgq2(quantization: str | None) -> bool:
    """Whether a model's ``quantization`` (``hgq2``'s words) says it is made of HGQ2 layers."""
    return bool(quantization) and "HGQ2 quantization-aware" in quantization  # type: ignore[operator]


def label(precision: str | None, quantization: str | None) -> str:
    """What a table shows: the arithmetic, and for float arithmetic the model's quantization."""
    text = precision or "unknown"
    if quantization and text in FLOAT:
        return f"{text} ({quantization}, fake-quantized)"
    return text


def upgrade(precision: str | None) -> str | None:
    """An older record's precision in today's vocabulary."""
    if precision is None:
        return None
    if precision in LEGACY:
        return LEGACY[precision]
    if precision.startswith(("fixed<", "ap_fixed<", "ufixed<", "ap_ufixed<")):
        return fixed_point(precision)
    return precision
