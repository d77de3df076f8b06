"""``triggerbench history`` and ``triggerbench farm check``: trends and regressions over nights."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from triggerbench.cli.app import app, split
from triggerbench.cli.display import console, err_console
from triggerbench.cli.farm import farm_app
from triggerbench.errors import UserInputError

if TYPE_CHECKING:
    from triggerbench.farm.history import History
    from triggerbench.farm.regressions import Regression

_CACHE_HELP = "Use the per-night cache in ROOT/.triggerbench-cache (--no-cache: validate every file)."


def _load(root: Path, cache: bool) -> History:
    """The nights under ``root``; skipped files and nights are warnings, no night at all an error."""
    from triggerbench.farm.history import load_history

    def skipped(s) -> None:
        err_console.print(f"[yellow]warning[/] skipped {escape(str(s))}", highlight=False, soft_wrap=True)

    history = load_history(root, cache=cache, on_skip=skipped)
    if not history.nights:
        loose = any(root.glob("*.json"))
        hint = (
            ": its record files must sit in one sub-folder per night"
            if loose
            else " (a history root holds one sub-folder of record files per night)"
        )
        raise UserInputError(f"no readable night in {root}{hint}")
    return history


def _only(history: History, workloads: list[str], runners: list[str]) -> History:
    """``history`` with only the records of ``workloads`` and ``runners`` (all when empty)."""
    frame = history.records
    wanted_by_column = (("workload.name", workloads, "--workload"), ("runner.name", runners, "--runner"))
    for column, wanted, flag in wanted_by_column:
        if not wanted:
            continue
        known = sorted(frame[column].dropna().unique())
        unknown = [w for w in wanted if w not in known]
        if unknown:
            raise UserInputError(f"{flag} {unknown[0]!r}: not in this history; it has {', '.join(known)}")
        frame = frame[frame[column].isin(wanted)]
    return dataclasses.replace(history, records=frame)


def _change(frac: float) -> str:
    from triggerbench.reports import format as fmt

    if abs(frac) == float("inf"):
        return "from 0"
    return ("+" if frac > 0 else "") + fmt.significant(frac * 100) + " %"


@app.command()
def history(
    root: Annotated[Path, typer.Argument(help="History root: one sub-folder of records per night.")],
    workload: Annotated[list[str] | None, typer.Option(help="Only these workloads (comma-separated).")] = (
        None
    ),
    runner: Annotated[list[str] | None, typer.Option(help="Only these runners (comma-separated).")] = None,
    figure: Annotated[
        list[str] | None,
        typer.Option(help="Figures to show, e.g. throughput, latency-p99 (default: both)."),
    ] = None,
    last: Annotated[int, typer.Option(help="Nights shown in the table (the latest N).")] = 10,
    out: Annotated[Path | None, typer.Option(help="Write a trend plot per series here (PNG, PDF).")] = None,
    cache: Annotated[bool, typer.Option(help=_CACHE_HELP)] = True,
) -> None:
    """Show each series' latest nights as a table; --out also writes a trend plot per series.

    A series is one (workload, runner, device, precision, scenario, batch) and figure; its value
    on a night is the median of that night's ok records. Regression nights (as ``farm check``
    finds them with its default limits) are shown in red.
    """
    import pandas as pd

    from triggerbench.farm.history import SERIES_KEYS
    from triggerbench.farm.history_plot import display, series_label, trend_plot
    from triggerbench.farm.regressions import (
        DEFAULT_THRESHOLDS_PCT,
        figure_named,
        find_regressions,
        threshold_for,
    )
    from triggerbench.files import ensure_writable

    figures = [figure_named(f) for f in split(figure) or list(DEFAULT_THRESHOLDS_PCT)]
    if last < 1:
        raise UserInputError(f"--last {last}: use 1 or more")
    if out is not None:
        ensure_writable(out)
    loaded = _only(_load(root, cache), split(workload), split(runner))
    shown = loaded.nights[-last:]
    first = len(loaded.nights) - len(shown)
    written = 0
    for fig in figures:
        nightly = loaded.nightly(fig)
        if nightly.empty:
            console.print(f"{fig.name}: measured on no night", highlight=False)
            continue
        found = find_regressions(loaded, [threshold_for(fig)])
        flagged = {(r.key, loaded.nights.index(r.night)) for r in found}
        title = f"{fig.name} ({fig.better} is better), last {len(shown)} of {len(loaded.nights)} nights"
        table = Table(title=title)
        table.add_column("series", overflow="fold")
        for night in shown:
            table.add_column(f"{night.time_utc:%Y-%m-%d}\n{(night.commit or '?')[:8]}", justify="right")
        for key, series in nightly.groupby(list(SERIES_KEYS), dropna=False, sort=False):
            key = tuple(None if pd.isna(v) else v for v in key)  # a missing key part -> None
            by_night = dict(zip(series["night_index"], series["value"], strict=True))
            cells = []
            for i in range(first, len(loaded.nights)):
                text = display(by_night[i], fig) if i in by_night else "—"
                cells.append(f"[bold red]{text}[/]" if (key, i) in flagged else text)
            table.add_row(escape(series_label(key)), *cells)
            if out is not None:
                from triggerbench.reports.plots import save

                mine = [r for r in found if r.key == key]
                save(trend_plot(loaded, fig, key, series, mine), out)
                written += 1
        console.print(table)
    if out is not None:
        console.print(f"{written} trend plot(s) -> {out}", highlight=False)


def _print_regressions(title: str, found: list[Regression], style: str) -> None:
    from triggerbench.farm.history_plot import display, series_label

    table = Table(title=title, title_style=style)
    for column in ("figure", "series", "night", "commit", "before -> after", "change", "note"):
        table.add_column(column, overflow="fold", justify="right" if column == "change" else "left")
    for r in found:
        notes = [f"{r.nights_after} night(s) after"]
        if r.recovered:
            notes.append(f"latest {display(r.latest, r.figure)}")
        if r.host_note:
            notes.append(r.host_note)
        table.add_row(
            r.figure.name,
            escape(series_label(r.key)),
            r.night.name,
            r.night.commit or "?",
            f"{display(r.before, r.figure)} -> {display(r.after, r.figure)}",
            _change(r.change_frac),
            "; ".join(notes),
        )
    console.print(table)


@farm_app.command("check")
def check(
    root: Annotated[Path, typer.Argument(help="History root: one sub-folder of records per night.")],
    threshold: Annotated[
        list[str] | None,
        typer.Option(
            help="FIGURE:N%: flag a lasting step worse by more than N % (default throughput:5%, "
            "latency-p99:10%; repeatable, replaces the default of that figure)."
        ),
    ] = None,
    min_nights: Annotated[int, typer.Option(help="Nights a step must last to count.")] = 2,
    last: Annotated[
        int | None, typer.Option(help="Only steps onto one of the latest N nights (default: all).")
    ] = None,
    cache: Annotated[bool, typer.Option(help=_CACHE_HELP)] = True,
) -> None:
    """Find lasting regressions in the nightly history; exit 1 when one is still present.

    A regression is a change point (ruptures) after which the series' median stays worse than
    before by more than the figure's threshold for at least --min-nights nights; one noisy night
    is not one. A regression whose series has since come back within the threshold is listed as
    recovered and does not fail the check.
    """
    from triggerbench.farm.regressions import find_regressions, parse_threshold, thresholds

    limits = thresholds([parse_threshold(t) for t in threshold or []])  # bad text: exit 2 first
    loaded = _load(root, cache)
    found = find_regressions(loaded, limits, min_nights=min_nights, last_nights=last)
    open_, recovered = [r for r in found if not r.recovered], [r for r in found if r.recovered]
    nights = loaded.nights
    checked = ", ".join(f"{t.figure.name} {t.max_worse_pct:g} %" for t in limits)
    console.print(
        f"{len(nights)} night(s), {nights[0].label} .. {nights[-1].label}; limits: {checked}",
        highlight=False,
    )
    if recovered:
        _print_regressions(f"{len(recovered)} recovered regression(s)", recovered, "dim")
    if open_:
        _print_regressions(f"{len(open_)} regression(s)", open_, "bold red")
        raise typer.Exit(1)
    console.print("no regression", highlight=False)
