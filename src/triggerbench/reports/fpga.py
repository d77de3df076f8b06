"""Layout (b): FPGA resource occupancy, the seed talk's Table 3 — BRAM / DSP / FF / LUT as % of a part.

One row per model variant and part; each cell takes the most trustworthy source that has the
figure (Vivado synthesis > HLS C-synthesis > open synthesis > analytic estimate), says which in
the cell, footnotes the method, and flags a figure that does not fit its part.
"""

from __future__ import annotations

import pandas as pd

from triggerbench.errors import UserInputError
from triggerbench.fpga.parts import PART_TOTALS, part_totals
from triggerbench.reports import format as fmt
from triggerbench.reports.frame import column, latest, ok
from triggerbench.reports.provenance import caption_context
from triggerbench.reports.published import PublishedFigure
from triggerbench.reports.table import Notes, Table

RESOURCES = ("bram", "dsp", "ff", "lut")
#: Most trustworthy first: a figure is taken from the first source that has it.
RESOURCE_SOURCES = ("vivado-synth", "hls-csynth", "open-synthesis", "estimate")
LATENCY_SOURCES = ("hls-cosim", "vivado-synth", "hls-csynth", "rtl-testbench", "estimate")
#: How a cell says where its figure comes from (the method is footnoted).
SOURCE_TAGS = {
    "vivado-synth": "Vivado",
    "hls-csynth": "HLS",
    "hls-cosim": "cosim",
    "open-synthesis": "Yosys",
    "rtl-testbench": "RTL sim",
    "estimate": "est.",
}
SOURCE_NOTES = {
    "vivado-synth": "post-synthesis utilisation (Vivado)",
    "hls-csynth": "HLS C-synthesis report (estimate by the HLS tool, before place and route)",
    "hls-cosim": "C/RTL co-simulation latency",
    "open-synthesis": "open synthesis (Yosys synth_xilinx), no place and route, no timing closure",
    "rtl-testbench": "clock edges counted in an RTL simulation (Verilator); ns = cycles x the assumed "
    "clock, no timing closure",
    "estimate": "analytic estimate (multiplications per layer and reuse factor), not a tool's report",
}


def short_part(part: str | None) -> str:
    """``xcvu13p-fhga2104-2L-e`` -> ``xcvu13p``."""
    return (part or "part unknown").split("-")[0]


def fpga_entries(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per FPGA figure set of every ok record: workload, runner, and the entry's fields."""
    frame = ok(frame)
    if frame.empty or "fpga" not in frame.columns:
        return pd.DataFrame()
    has = frame[frame["fpga"].map(lambda v: isinstance(v, list) and len(v) > 0)]
    if has.empty:
        return pd.DataFrame()
    # The same figures repeat in every batch size's record: the latest record of each runner
    # and model holds them (a sweep over firmware options shows its last point).
    has = latest(has, ("workload.name", "runner.name"))
    exploded = has[["workload.name", "runner.name", "timestamp_utc", "fpga"]].explode("fpga")
    entries = pd.json_normalize(exploded["fpga"].tolist())
    entries.index = range(len(entries))
    return pd.concat([exploded.drop(columns="fpga").reset_index(drop=True), entries], axis=1)


def pick(entries: pd.DataFrame, figure: str, order: tuple[str, ...]) -> pd.Series | None:
    """The entry of the first source in ``order`` that has ``figure``; None if none has it."""
    if figure not in entries.columns:
        return None
    for source in order:
        found = entries[(entries["source"] == source) & entries[figure].notna()]
        if not found.empty:
            return found.iloc[-1]
    return None


def _null_reason(entries: pd.DataFrame, figure: str, order: tuple[str, ...] = RESOURCE_SOURCES) -> str:
    """Why the most trustworthy source that ran has no ``figure``."""
    reasons = column(entries, f"null_reasons.{figure}")
    for source in order:
        found = reasons[(entries["source"] == source) & reasons.notna()]
        if not found.empty:
            return str(found.iloc[-1])
    return "no source reports it"


def _resource_cell(entries: pd.DataFrame, resource: str, totals: dict | None, notes: Notes):
    entry = pick(entries, resource, RESOURCE_SOURCES)
    if entry is None:
        return notes.cell(fmt.MISSING, _null_reason(entries, resource)), None
    used = float(entry[resource])
    available = (totals or {}).get(resource) if totals else entry.get(f"{resource}_available")
    tag, source_note = SOURCE_TAGS[entry["source"]], SOURCE_NOTES[entry["source"]]
    if available is None or pd.isna(available) or not available:
        text = f"{fmt.significant(used)} {tag}"
        return notes.cell(text, source_note, f"{resource.upper()}: part total unknown, count shown"), None
    frac = used / float(available)
    text = f"{fmt.percent(frac)} {tag}" + (" does not fit" if frac > 1 else "")
    return notes.cell(text, source_note), frac


def _published_cell(frac: float | None, notes: Notes):
    if frac is None:
        return notes.cell(fmt.MISSING, "not published")
    return notes.cell(fmt.percent(frac) + (" does not fit" if frac > 1 else ""))


def _totals_for(part: str) -> dict:
    totals = part_totals(part)
    if totals is None:
        known = ", ".join(PART_TOTALS)
        raise UserInputError(f"--part {part!r}: no resource totals for it; parts with totals: {known}")
    return totals


def fpga_resource_table(
    frame: pd.DataFrame,
    part: str | None = None,
    workload: str | None = None,
    published: list[PublishedFigure] | None = None,
) -> Table | None:
    """The resource-occupancy table, or None when no record has FPGA resource figures."""
    totals = _totals_for(part) if part else None
    entries = fpga_entries(frame)
    if workload is not None and not entries.empty:
        entries = entries[entries["workload.name"] == workload]
    if entries.empty or not any(r in entries.columns and entries[r].notna().any() for r in RESOURCES):
        return None
    notes = Notes()
    body, tidy = [], []
    # With --part every count is shown against that part; otherwise each row keeps its own part.
    part_of = (lambda _e: short_part(part)) if part else (lambda e: short_part(e.get("part")))
    keyed = entries.assign(_part=entries.apply(part_of, axis=1))
    for (name, row_part), group in keyed.groupby(["workload.name", "_part"], sort=True):
        if not any(r in group.columns and group[r].notna().any() for r in RESOURCES):
            continue
        cells = [notes.cell(str(name)), notes.cell(str(row_part))]
        fracs = {}
        for resource in RESOURCES:
            cell, frac = _resource_cell(group, resource, totals, notes)
            cells.append(cell)
            fracs[f"{resource}_frac"] = frac
        body.append(cells)
        tidy.append({"workload": name, "part": row_part, "kind": "measured", **fracs})
    for figure in published or []:
        if workload is not None and figure.workload != workload:
            continue
        values = [getattr(figure, f"{r}_frac") for r in RESOURCES]
        if all(v is None for v in values):
            continue
        cite = f"published: {figure.source}"
        cells = [notes.cell(figure.label, cite), notes.cell(short_part(figure.part))]
        cells += [_published_cell(v, notes) for v in values]
        body.append(cells)
        tidy.append(
            {
                "workload": figure.workload,
                "part": short_part(figure.part),
                "kind": "published",
                **{f"{r}_frac": v for r, v in zip(RESOURCES, values, strict=True)},
            }
        )
    of = f"% of {short_part(part)} (--part)" if part else "% of each row's part"
    caption = (
        f"{of}; BRAM in 18K blocks; the tag in each cell names the source (Vivado, HLS, Yosys, est.); "
        f"{caption_context(ok(frame))}"
    )
    return Table(
        name="fpga-resources",
        title="FPGA resource occupancy",
        caption=caption,
        columns=["model", "part", "BRAM", "DSP", "FF", "LUT"],
        rows=body,
        notes=notes.texts,
        tidy=pd.DataFrame(tidy),
        numeric=(2, 3, 4, 5),
    )
