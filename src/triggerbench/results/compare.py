"""Compare two result sets figure by figure, as pytest-benchmark's ``--benchmark-compare-fail`` does.

Pure functions on the DataFrames of ``triggerbench.results.load``: records are matched by
``KEY_COLUMNS``, each figure of ``FIGURES`` is compared where both sides measured it, and
``--fail-on FIELD:N%`` thresholds pick the pairs that got worse by more than N %. The figures and
the thresholds are defined in ``triggerbench.results.compare_figures`` (re-exported here).
Rendering is the command line's business (``triggerbench compare``); ``to_json`` is its JSON.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pandas as pd

from triggerbench.errors import UserInputError
from triggerbench.results.compare_figures import (
    DEFAULT_FIGURES,
    FIGURES,
    FailOn,
    Figure,
    Sense,
    Threshold,
    apply_thresholds,
    parse_fail_on,
    resolve,
    unit_of,
)
from triggerbench.results.select import KEY_COLUMNS, latest, runs_per_key
from triggerbench.results.store import OnSkip, load

__all__ = [
    "DEFAULT_FIGURES",
    "FIGURES",
    "Comparison",
    "FailOn",
    "Figure",
    "Threshold",
    "apply_thresholds",
    "compare",
    "key_label",
    "latest_per_key",
    "load_side",
    "parse_fail_on",
    "resolve",
    "row_key",
    "split_side",
    "to_json",
    "unit_of",
]

#: Differences here make a change suspect (style rule 10: warn when a comparison spans environments).
_ENVIRONMENT_COLUMNS = ("environment.hostname", "environment.cpu_model", "runner.backend_version")

Direction = Literal["better", "worse", "same"]


def split_side(argument: str | Path) -> list[Path]:
    """Paths of one side: a file or folder, or several joined by commas (``a.json,b/``)."""
    if Path(argument).exists() or "," not in str(argument):
        return [Path(argument)]
    return [Path(p) for p in str(argument).split(",") if p]


def load_side(
    label: str, paths: Sequence[Path | str], *, strict: bool = False, on_skip: OnSkip | None = None
) -> pd.DataFrame:
    """Load one side's records; its errors and an empty side name the side (``BASE: ...``).

    Unreadable files are skipped as ``triggerbench.results.store.load_records`` describes
    (``strict``: refused instead; ``on_skip``: told each one).

    Raises:
        UserInputError: a path is missing, holds no records, or only unreadable files; with
            ``strict``, a file is unreadable.
    """
    try:
        frame = load(paths, strict=strict, on_skip=on_skip)
    except UserInputError as exc:
        raise UserInputError(f"{label}: {exc}") from None
    if frame.empty:
        raise UserInputError(f"{label}: no records in {', '.join(map(str, paths))}")
    return frame


@dataclass
class Comparison:
    """The outcome of ``compare``: tidy rows plus what could not be compared, and why.

    Attributes:
        rows: one row per (key, figure) measured on both sides: the ``KEY_COLUMNS``, ``figure``,
            ``column``, ``unit``, ``better``, ``base``, ``new``, ``change_frac`` ((new - base) /
            |base|; +-inf from a zero base), ``direction`` (better / worse / same) and
            ``crossed_limit_pct`` (the ``--fail-on`` limit this change exceeds, else NaN).
        only_in_base: ``KEY_COLUMNS`` and ``status`` of records with no counterpart in new.
        only_in_new: the same for records with no counterpart in base.
        status_changes: keys on both sides that are not ok on both: ``KEY_COLUMNS``,
            ``base_status``, ``new_status``, ``note`` (e.g. ``now failed: device lost``).
        notes: why a figure or record was left out, repeated runs, differing environments.
    """

    rows: pd.DataFrame
    only_in_base: pd.DataFrame
    only_in_new: pd.DataFrame
    status_changes: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    @property
    def crossed(self) -> pd.DataFrame:
        """The rows that got worse by more than a threshold on their figure."""
        return self.rows[self.rows["crossed_limit_pct"].notna()]

    @property
    def newly_failed(self) -> pd.DataFrame:
        """Keys ok in base whose new record failed: a regression gate must not pass over a crash."""
        changes = self.status_changes
        if changes.empty:
            return changes
        return changes[(changes["base_status"] == "ok") & (changes["new_status"] == "failed")]

    def uncompared(self) -> list[str]:
        """One line per record left out: one-sided (``only in base: ...``) or not ok on a side."""
        lines = [
            f"{title}: {key_label(row_key(r))} ({r['status']})"
            for title, frame in (("only in base", self.only_in_base), ("only in new", self.only_in_new))
            for _, r in frame.iterrows()
        ]
        return lines + [f"{key_label(row_key(r))}: {r['note']}" for _, r in self.status_changes.iterrows()]


def _plain(value: object) -> object:
    """A cell as a plain Python value; NaN and None become None."""
    if isinstance(value, list | dict):
        return value
    if value is None or pd.isna(value):
        return None
    return value.item() if hasattr(value, "item") else value


def _cell(row: pd.Series, column: str) -> object:
    return _plain(row[column]) if column in row.index else None


def _number(row: pd.Series, column: str) -> float | None:
    value = _cell(row, column)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def key_label(key: tuple) -> str:
    """A readable key: ``standin-cnn onnxruntime (cpu, f32) single-stream b1``."""
    workload, runner, device, precision, scenario, batch = key
    extra = ", ".join(str(v) for v in (device, precision) if v is not None)
    return f"{workload} {runner}{f' ({extra})' if extra else ''} {scenario} b{batch}"


def row_key(row: pd.Series) -> tuple:
    """The ``KEY_COLUMNS`` values of a record or comparison row, missing ones as None."""
    return tuple(_cell(row, c) for c in KEY_COLUMNS)


def _sort_key(key: tuple) -> tuple:
    return tuple((v is None, v) for v in key)


def latest_per_key(frame: pd.DataFrame, label: str) -> tuple[dict[tuple, pd.Series], list[str]]:
    """One record per key: the latest by ``timestamp_utc``; a note names the keys run repeatedly."""
    chosen = {row_key(row): row for _, row in latest(frame).iterrows()}
    counts = {tuple(None if pd.isna(v) else v for v in k): int(n) for k, n in runs_per_key(frame).items()}
    repeated = sorted((k for k, n in counts.items() if n > 1), key=_sort_key)
    notes = []
    if repeated:
        examples = "; ".join(f"{key_label(k)} x{counts[k]}" for k in repeated[:3])
        more = f"; and {len(repeated) - 3} more" if len(repeated) > 3 else ""
        notes.append(
            f"{label}: repeated runs for {len(repeated)} key(s), the latest of each is compared "
            f"({examples}{more})"
        )
    return chosen, notes


def _direction(base: float, new: float, better: Sense) -> Direction:
    if new == base:
        return "same"
    return "better" if (new > base) == (better == "higher") else "worse"


def _change_frac(base: float, new: float) -> float:
    if base == 0:
        return 0.0 if new == 0 else math.copysign(math.inf, new)
    return (new - base) / abs(base)


def _first_line(text: object) -> str:
    lines = str(text or "").strip().splitlines()
    return lines[0] if lines else ""


def _status_note(base: pd.Series, new: pd.Series) -> str:
    b, n = _cell(base, "status"), _cell(new, "status")
    new_msg = _first_line(_cell(new, "error.message"))
    if b == "ok":
        return f"now {n}: {new_msg}"
    base_msg = _first_line(_cell(base, "error.message"))
    if n == "ok":
        return f"now ok (was {b}: {base_msg})"
    if b == n:
        return f"{n} on both sides: {new_msg}"
    return f"was {b}, now {n}: {new_msg}"


def _keys_frame(keys: list[tuple], extra: dict[str, list] | None = None) -> pd.DataFrame:
    frame = pd.DataFrame(keys, columns=list(KEY_COLUMNS)) if keys else pd.DataFrame(columns=list(KEY_COLUMNS))
    for column, values in (extra or {}).items():
        frame[column] = values
    return frame


def compare(
    base: pd.DataFrame,
    new: pd.DataFrame,
    thresholds: Sequence[Threshold] = (),
    figures: Sequence[Figure] = FIGURES,
) -> Comparison:
    """Match records by ``KEY_COLUMNS`` and compare the figures of the pairs ok on both sides.

    ``figures`` plus those of ``thresholds`` are compared. A figure null (or absent) on either side
    is not compared, never read as 0; a note counts the pairs where only one side measured it.
    """
    figures = list(dict.fromkeys([*figures, *(t.figure for t in thresholds)]))
    base_by_key, notes = latest_per_key(base, "base")
    new_by_key, new_notes = latest_per_key(new, "new")
    notes += new_notes
    common = sorted(base_by_key.keys() & new_by_key.keys(), key=_sort_key)
    only_base = sorted(base_by_key.keys() - new_by_key.keys(), key=_sort_key)
    only_new = sorted(new_by_key.keys() - base_by_key.keys(), key=_sort_key)

    rows, changes, one_sided, env_diffs, warned = [], [], {}, [], []
    for key in common:
        b, n = base_by_key[key], new_by_key[key]
        if not (_cell(b, "status") == "ok" and _cell(n, "status") == "ok"):
            changes.append((key, _cell(b, "status"), _cell(n, "status"), _status_note(b, n)))
            continue
        differ = [c for c in _ENVIRONMENT_COLUMNS if _cell(b, c) != _cell(n, c)]
        if differ:
            c = differ[0]
            env_diffs.append((differ, f"{key_label(key)}: {c} {_cell(b, c)} -> {_cell(n, c)}"))
        if _cell(b, "warnings") or _cell(n, "warnings"):
            warned.append(key)
        for fig in figures:
            bv, nv = _number(b, fig.column), _number(n, fig.column)
            if bv is None or nv is None:
                if (bv, nv) != (None, None):
                    side = "base" if bv is None else "new"
                    one_sided.setdefault((fig.name, side), []).append(key)
                continue
            change, direction = _change_frac(bv, nv), _direction(bv, nv, fig.better)
            rows.append((*key, fig.name, fig.column, fig.unit, fig.better, bv, nv, change, direction))

    for (name, side), keys in one_sided.items():
        example = key_label(keys[0])
        notes.append(f"{name}: null in {side} for {len(keys)} pair(s), not compared (e.g. {example})")
    if env_diffs:
        fields = sorted({c for differ, _ in env_diffs for c in differ})
        notes.append(
            f"{len(env_diffs)} pair(s) ran in different environments ({', '.join(fields)}; e.g. "
            f"{env_diffs[0][1]}): a change may come from the machine, not the code"
        )
    compared = {r[len(KEY_COLUMNS) + 1] for r in rows}
    notes += [
        f"--fail-on {t.figure.name}: no pair has it on both sides, so it checks nothing"
        for t in thresholds
        if t.figure.column not in compared
    ]
    if warned:
        notes.append(
            f"{len(warned)} compared pair(s) carry measurement warnings (unstable?), "
            f"e.g. {key_label(warned[0])}"
        )

    columns = [*KEY_COLUMNS, "figure", "column", "unit", "better", "base", "new", "change_frac", "direction"]
    return Comparison(
        rows=apply_thresholds(pd.DataFrame(rows, columns=columns), thresholds),
        only_in_base=_keys_frame(only_base, {"status": [_cell(base_by_key[k], "status") for k in only_base]}),
        only_in_new=_keys_frame(only_new, {"status": [_cell(new_by_key[k], "status") for k in only_new]}),
        status_changes=_keys_frame(
            [c[0] for c in changes],
            {
                "base_status": [c[1] for c in changes],
                "new_status": [c[2] for c in changes],
                "note": [c[3] for c in changes],
            },
        ),
        notes=notes,
    )


def _records(frame: pd.DataFrame) -> list[dict]:
    out = []
    for record in frame.to_dict("records"):
        clean = {}
        for k, v in record.items():
            v = _plain(v)
            clean[k] = None if isinstance(v, float) and not math.isfinite(v) else v
        out.append(clean)
    return out


def to_json(comparison: Comparison, base: Sequence[Path], new: Sequence[Path]) -> str:
    """The comparison as JSON, raw SI numbers; a change from a zero base is ``null``."""
    document = {
        "base": [str(p) for p in base],
        "new": [str(p) for p in new],
        "rows": _records(comparison.rows),
        "only_in_base": _records(comparison.only_in_base),
        "only_in_new": _records(comparison.only_in_new),
        "status_changes": _records(comparison.status_changes),
        "notes": comparison.notes,
    }
    return json.dumps(document, indent=2, allow_nan=False) + "\n"
