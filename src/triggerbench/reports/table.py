"""A report table as every format renders it: display cells with footnote marks, a caption, notes.

Layouts build a ``Table`` from the records' DataFrame; ``reports.render`` turns it into Markdown,
LaTeX or HTML. Cells hold plain text (renderers escape it), so one table gives the same content
in every format. ``tidy`` keeps the numbers behind the cells, in SI base units.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pandas as pd

from triggerbench.results.select import column


def slug(text: str) -> str:
    """A file-name-safe stem of ``text`` (a table's name comes from record strings)."""
    return re.sub(r"[^A-Za-z0-9.+-]+", "-", text).strip("-.")[:120] or "table"


@dataclass(frozen=True)
class Cell:
    """One display cell: plain text and the numbers of the footnotes that qualify it."""

    text: str
    notes: tuple[int, ...] = ()


class Notes:
    """Footnotes numbered in order of first use; the same text always gets the same number."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def mark(self, text: str) -> int:
        """The number of footnote ``text`` (added if new)."""
        if text not in self.texts:
            self.texts.append(text)
        return self.texts.index(text) + 1

    def cell(self, text: str, *notes: str | None) -> Cell:
        """A cell whose footnotes are ``notes`` (None entries are ignored)."""
        return Cell(text, tuple(self.mark(n) for n in notes if n))


@dataclass
class Table:
    """One slide-ready table."""

    name: str  # file stem, e.g. "backends-llp-vgg"
    title: str
    caption: str
    columns: list[str]
    rows: list[list[Cell]]
    notes: list[str] = field(default_factory=list)
    #: Records that belong to this table but have no figures (skipped, failed), one line each.
    excluded: list[str] = field(default_factory=list)
    tidy: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: Column indexes whose cells are numbers (right-aligned).
    numeric: tuple[int, ...] = ()


def _shorten(text: str, limit: int = 240) -> str:
    """``text`` cut at a word boundary with an ellipsis when longer than ``limit``."""
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0] + " …"


def excluded_lines(frame: pd.DataFrame) -> list[str]:
    """One line per skipped or failed runner and reason, with the batch sizes it covers."""
    if frame.empty:
        return []
    message = column(frame, "error.message").fillna("no reason recorded").astype(str)
    slim = pd.DataFrame(
        {
            "runner": column(frame, "runner.name").astype(str),
            "scenario": column(frame, "scenario.name").astype(str),
            "status": column(frame, "status").astype(str),
            "message": message.str.strip().str.split("\n").str[0].map(_shorten),
            "batch": pd.to_numeric(column(frame, "runner.batch_size"), errors="coerce").fillna(0).astype(int),
        }
    ).drop_duplicates()
    lines = []
    for (runner, scenario, status, text), group in slim.groupby(["runner", "scenario", "status", "message"]):
        sizes = ", ".join(map(str, sorted(set(group["batch"]))))
        lines.append(f"{runner} ({scenario}, batch {sizes}): {status} — {text}")
    return sorted(lines)
