"""What ``triggerbench compare`` compares, and the ``--fail-on`` limits on it.

``FIGURES`` names every comparable figure once, with its record column and which way is better;
``parse_fail_on`` and ``resolve`` turn ``--fail-on FIELD:N%`` into a ``Threshold``, and
``apply_thresholds`` marks the compared rows that got worse by more than one. Matching the records
and comparing them is ``triggerbench.results.compare``'s job.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import pandas as pd

from triggerbench.errors import UserInputError

Sense = Literal["higher", "lower"]


@dataclass(frozen=True)
class Figure:
    """One comparable figure: its short name, its record column, and which way is better."""

    name: str
    column: str
    better: Sense

    @property
    def unit(self) -> str:
        """The display unit, read from the column's name (every figure carries its unit there)."""
        return unit_of(self.column)


#: Every figure ``compare`` knows, defined once; ``--fail-on`` takes these names.
FIGURES: tuple[Figure, ...] = (
    Figure("throughput", "performance.throughput_samples_per_s", "higher"),
    Figure("throughput_queries", "performance.throughput_queries_per_s", "higher"),
    Figure("latency_p50", "performance.latency_p50_s", "lower"),
    Figure("latency_p90", "performance.latency_p90_s", "lower"),
    Figure("latency_p99", "performance.latency_p99_s", "lower"),
    Figure("latency_p999", "performance.latency_p999_s", "lower"),
    Figure("latency_max", "performance.latency_max_s", "lower"),
    Figure("latency_mean", "performance.latency_mean_s", "lower"),
    Figure("energy_per_inference", "power.energy_per_inference_j", "lower"),
    Figure("power", "power.power_mean_w", "lower"),
    Figure("max_abs_diff", "accuracy.max_abs_diff", "lower"),
    Figure("mean_abs_diff", "accuracy.mean_abs_diff", "lower"),
    Figure("deadline_miss", "trigger.deadline_miss_frac", "lower"),
    Figure("sustained_rate", "trigger.max_sustained_rate_hz", "higher"),
)

#: Shown by default (when measured on both sides), besides every figure named in ``--fail-on``.
DEFAULT_FIGURES = ("throughput", "latency_p50", "latency_p99", "energy_per_inference")

_BY_NAME = {f.name: f for f in FIGURES}
_FAIL_ON = re.compile(r"^(?P<field>[^:\s]+):(?P<pct>\d+(?:\.\d*)?|\.\d+)\s*%?(?::(?P<sense>higher|lower))?$")


def unit_of(column: str) -> str:
    """Return the unit a column's name ends with: ``s``, ``/s``, ``Hz``, ``J``, ``W`` or ``""``."""
    for suffix, unit in (("_per_s", "/s"), ("_s", "s"), ("_hz", "Hz"), ("_j", "J"), ("_w", "W")):
        if column.endswith(suffix):
            return unit
    return ""


@dataclass(frozen=True)
class Threshold:
    """A ``--fail-on`` limit: fail when ``figure`` got worse by more than ``max_worse_pct`` %."""

    figure: Figure
    max_worse_pct: float


@dataclass(frozen=True)
class FailOn:
    """A parsed ``--fail-on FIELD:N%[:higher|lower]`` before its field is resolved to a figure."""

    text: str
    field: str
    max_worse_pct: float
    better: Sense | None = None


def parse_fail_on(text: str) -> FailOn:
    """Parse ``FIELD:N%`` (``%`` optional; ``:higher``/``:lower`` gives the sense of other columns).

    Raises:
        UserInputError: the text does not have that shape.
    """
    match = _FAIL_ON.match(text.strip())
    if match is None:
        raise UserInputError(f"--fail-on {text!r}: use FIELD:N%, e.g. throughput:5%")
    return FailOn(text, match["field"], float(match["pct"]), match["sense"])  # type: ignore[arg-type]


def _numeric(values: pd.Series) -> bool:
    present = values.dropna()
    return present.empty or (
        pd.api.types.is_numeric_dtype(present) and not pd.api.types.is_bool_dtype(present)
    )


def resolve(fail_on: FailOn, columns: Iterable[str] = (), frames: Sequence[pd.DataFrame] = ()) -> Threshold:
    """Turn a parsed ``--fail-on`` into a threshold on a known figure or a numeric record column.

    ``fail_on.field`` may be a figure's short name (``latency_p99``), its column
    (``performance.latency_p99_s``) or that column's leaf (``latency_p99_s``). Another numeric
    column of ``frames`` (full or leaf name) is taken only with an explicit ``:higher``/``:lower``.

    Raises:
        UserInputError: unknown, ambiguous or non-numeric field; sense missing or contradicted.
    """
    name, text = fail_on.field, fail_on.text
    known = ", ".join(_BY_NAME)
    figure = _BY_NAME.get(name) or next(
        (f for f in FIGURES if name in (f.column, f.column.rsplit(".", 1)[-1])), None
    )
    if figure is not None:
        if fail_on.better not in (None, figure.better):
            raise UserInputError(f"--fail-on {text!r}: {figure.name} is {figure.better}-is-better")
        return Threshold(figure, fail_on.max_worse_pct)
    columns = list(dict.fromkeys([*columns, *(c for f in frames for c in f.columns)]))
    matches = [c for c in columns if c == name] or [c for c in columns if c.rsplit(".", 1)[-1] == name]
    if not matches:
        raise UserInputError(f"--fail-on {text!r}: unknown figure {name!r}; known figures: {known}")
    if len(matches) > 1:
        raise UserInputError(f"--fail-on {text!r}: {name!r} is ambiguous: {', '.join(matches)}")
    column = matches[0]
    if not all(_numeric(f[column]) for f in frames if column in f.columns):
        raise UserInputError(f"--fail-on {text!r}: {column} is not a numeric figure; known figures: {known}")
    if fail_on.better is None:
        raise UserInputError(
            f"--fail-on {text!r}: which way is better for {column} is unknown; "
            f"add :higher or :lower (e.g. {name}:{fail_on.max_worse_pct:g}%:higher), or use one of: {known}"
        )
    return Threshold(Figure(column, column, fail_on.better), fail_on.max_worse_pct)


def apply_thresholds(rows: pd.DataFrame, thresholds: Sequence[Threshold]) -> pd.DataFrame:
    """``rows`` plus ``crossed_limit_pct``: the smallest limit a row's worsening exceeds, else NaN."""
    limits = pd.Series(math.nan, index=rows.index, dtype=float)
    for t in thresholds:
        # Rounded so that a change of exactly N % (in decimal) does not fail through float error.
        over = (
            (rows["column"] == t.figure.column)
            & (rows["direction"] == "worse")
            & ((rows["change_frac"].abs() * 100).round(9) > t.max_worse_pct)
        )
        limits[over] = limits[over].fillna(math.inf).clip(upper=t.max_worse_pct)
    return rows.assign(crossed_limit_pct=limits)
