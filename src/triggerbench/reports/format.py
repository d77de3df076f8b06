"""Scale SI base units for display only; the records keep seconds, watts and joules.

Every figure is shown with three significant digits and an SI prefix chosen per value, never in
exponent notation, and a missing figure is an em dash (never 0).
"""

from __future__ import annotations

import math

MISSING = "—"


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def significant(value: float, digits: int = 3) -> str:
    """``value`` to ``digits`` significant digits, no exponent, no trailing zeros (12,300; 0.0123; 1.5)."""
    if value == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(value)))
    decimals = max(digits - 1 - magnitude, 0)
    rounded = round(value, digits - 1 - magnitude)
    if decimals == 0:
        return f"{int(rounded):,}"
    return f"{rounded:.{decimals}f}".rstrip("0").rstrip(".")  # as %g does: 1.50 -> 1.5


def _prefixed(value: float, unit: str, prefixes: tuple[tuple[float, str], ...]) -> str:
    for scale, prefix in prefixes:
        if abs(value) >= scale:
            return f"{significant(value / scale)} {prefix}{unit}".rstrip()
    scale, prefix = prefixes[-1]
    return f"{significant(value / scale)} {prefix}{unit}".rstrip()


_SMALL = ((1.0, ""), (1e-3, "m"), (1e-6, "µ"), (1e-9, "n"), (1e-12, "p"))
_LARGE = ((1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""))


def seconds(value: float | None) -> str:
    """Format seconds with the unit that keeps three significant digits (ps .. s)."""
    if _missing(value):
        return MISSING
    if value == 0:
        return "0 s"
    return _prefixed(value, "s", _SMALL)


def rate(value: float | None, unit: str = "/s") -> str:
    """Format a rate with k/M/G prefixes (``12.3 k/s``)."""
    if _missing(value):
        return MISSING
    if abs(value) < 1:
        return f"{significant(value)} {unit}".rstrip()
    return _prefixed(value, unit, _LARGE)


def si(value: float | None, unit: str) -> str:
    """Any SI quantity with a prefix from p to G (``1.23 mJ``, ``250 W``)."""
    if _missing(value):
        return MISSING
    if value == 0:
        return f"0 {unit}"
    return _prefixed(value, unit, _LARGE + _SMALL[1:]) if abs(value) >= 1 else _prefixed(value, unit, _SMALL)


def percent(fraction: float | None) -> str:
    """A fraction as percent with three significant digits (``0.0123`` -> ``1.23 %``)."""
    return MISSING if _missing(fraction) else f"{significant(100.0 * fraction)} %"


def number(value: float | None, digits: int = 3) -> str:
    """Format a plain number in general notation."""
    return MISSING if _missing(value) else f"{value:.{digits}g}"
