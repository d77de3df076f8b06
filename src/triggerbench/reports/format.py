"""Scale SI base units for display only; the records keep seconds, watts and joules."""

from __future__ import annotations

import math


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def seconds(value: float | None) -> str:
    """Format seconds with a unit that keeps three significant digits (ns .. s)."""
    if _missing(value):
        return "—"
    for scale, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs")):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value / 1e-9:.3g} ns"


def rate(value: float | None, unit: str = "/s") -> str:
    """Format a rate with k/M prefixes."""
    if _missing(value):
        return "—"
    for scale, prefix in ((1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {prefix}{unit}"
    return f"{value:.3g} {unit}"


def number(value: float | None, digits: int = 3) -> str:
    """Format a plain number in general notation."""
    return "—" if _missing(value) else f"{value:.{digits}g}"
