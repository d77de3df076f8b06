"""Layout (c): inference time per event, per model variant (rows) and backend (columns).

CPU/GPU backends show p50 (p99) of single events (batch 1; the smallest batch measured
otherwise, footnoted); FPGA columns show firmware latency from cycles x clock with its source
in the cell (RTL simulation, HLS report, estimate); published latencies are their own columns.
"""

from __future__ import annotations

import pandas as pd

from triggerbench.reports import format as fmt
from triggerbench.reports.fpga import (
    LATENCY_SOURCES,
    SOURCE_NOTES,
    SOURCE_TAGS,
    fpga_entries,
    pick,
    short_part,
)
from triggerbench.reports.frame import column, latest, measured_speed, null_note, value
from triggerbench.reports.provenance import caption_context
from triggerbench.reports.published import PublishedFigure
from triggerbench.reports.table import Cell, Notes, Table

NOT_RUN = "not run for this model"


def _backend(row: pd.Series) -> str:
    precision = value(row, "runner.precision")
    name = str(value(row, "runner.name"))
    return name if precision in (None, "f32") else f"{name} {precision}"


def _speed_cells(speed: pd.DataFrame, notes: Notes) -> dict[tuple[str, str], tuple[Cell, dict]]:
    cells = {}
    speed = speed.assign(_backend=speed.apply(_backend, axis=1) if not speed.empty else [])
    for (name, backend), group in speed.groupby(["workload.name", "_backend"], sort=True):
        smallest = group.sort_values("runner.batch_size", kind="stable").iloc[0]
        batch = int(smallest["runner.batch_size"])
        p50, p99 = value(smallest, "performance.latency_p50_s"), value(smallest, "performance.latency_p99_s")
        note = (
            None if batch == 1 else f"batch {batch}: latency of a query of {batch} events (no batch-1 record)"
        )
        text = f"{fmt.seconds(p50)} ({fmt.seconds(p99)})"
        tidy = {"latency_p50_s": p50, "latency_p99_s": p99, "batch": batch, "kind": "measured"}
        p99_note = null_note(smallest, "performance.latency_p99_s", "p99")
        cells[(str(name), str(backend))] = (notes.cell(text, note, p99_note), tidy)
    return cells


def _fpga_cells(frame: pd.DataFrame, notes: Notes) -> dict[tuple[str, str], tuple[Cell, dict]]:
    entries = fpga_entries(frame)
    cells = {}
    if entries.empty or "latency_s" not in entries.columns:
        return cells
    for (name, runner), group in entries.groupby(["workload.name", "runner.name"], sort=True):
        entry = pick(group, "latency_s", LATENCY_SOURCES)
        if entry is None:
            continue
        cycles = entry.get("latency_cycles")
        clock = entry.get("clock_period_ns")
        detail = f"{int(cycles)} cycles" if cycles is not None and not pd.isna(cycles) else "cycles unknown"
        clock_note = f"{SOURCE_NOTES[entry['source']]}; {short_part(entry.get('part'))}"
        if clock is not None and not pd.isna(clock):
            clock_note += f", clock {fmt.significant(float(clock))} ns"
        text = f"{fmt.seconds(float(entry['latency_s']))} = {detail} {SOURCE_TAGS[entry['source']]}"
        tidy = {
            "latency_s": float(entry["latency_s"]),
            "latency_cycles": cycles,
            "source": entry["source"],
            "kind": "fpga",
        }
        cells[(str(name), f"{runner} (FPGA)")] = (notes.cell(text, clock_note), tidy)
    return cells


def latency_table(
    frame: pd.DataFrame, workload: str | None = None, published: list[PublishedFigure] | None = None
) -> Table | None:
    """The per-event latency matrix, or None when no record has latency figures."""
    if workload is not None:
        frame = frame[column(frame, "workload.name") == workload]
    notes = Notes()
    speed = latest(measured_speed(frame))
    cells = {**_speed_cells(speed, notes), **_fpga_cells(frame, notes)}
    if not cells:
        return None
    models = sorted({model for model, _ in cells})
    for figure in published or []:  # beside the models measured here, never on their own
        if figure.latency_s is not None and figure.workload in models:
            cite = f"published: {figure.source}"
            tidy = {"latency_s": figure.latency_s, "kind": "published"}
            cells[(figure.workload, figure.label)] = (notes.cell(fmt.seconds(figure.latency_s), cite), tidy)
    backends = sorted(
        {c for _, c in cells}, key=lambda c: (c.endswith("(published)"), c.endswith("(FPGA)"), c)
    )
    body, tidy_rows = [], []
    for model in models:
        row = [notes.cell(model)]
        for backend in backends:
            if (model, backend) in cells:
                cell, tidy = cells[(model, backend)]
                row.append(cell)
                tidy_rows.append({"workload": model, "backend": backend, **tidy})
            else:
                row.append(notes.cell(fmt.MISSING, NOT_RUN))
        body.append(row)
    caption = (
        "time per event: CPU/GPU p50 (p99) per query at batch 1; FPGA columns: firmware latency "
        f"(cycles x clock, source in the cell); {caption_context(frame)}"
    )
    return Table(
        name="latency-per-event",
        title="Inference time per event",
        caption=caption,
        columns=["model", *backends],
        rows=body,
        notes=notes.texts,
        tidy=pd.DataFrame(tidy_rows),
        numeric=tuple(range(1, len(backends) + 1)),
    )
