"""Layout (d): performance versus quantization level, from the bit-width scan workloads.

One row per bit width (``muon-l0-qstudent-{N}bit``, and the float distilled student as 32):
the task metrics with the number of events they were measured on, and the firmware's latency
and LUTs with their sources.
"""

from __future__ import annotations

import pandas as pd

from triggerbench.reports import format as fmt
from triggerbench.reports.fpga import (
    LATENCY_SOURCES,
    RESOURCE_SOURCES,
    SOURCE_NOTES,
    SOURCE_TAGS,
    fpga_entries,
    pick,
)
from triggerbench.reports.frame import bits, column, latest, ok, value
from triggerbench.reports.provenance import caption_context
from triggerbench.reports.table import Notes, Table

#: The float model the quantized students are compared with (same architecture, distilled).
FLOAT_VARIANT = "student-kd"
FLOAT_BITS = 32
#: Task metrics shown, with their headers and formats.
METRICS = (
    ("pt_resolution_frac", "pT resolution", fmt.percent),
    ("turnon_50_gev", "turn-on 50 % (GeV)", lambda v: fmt.significant(v)),
    ("plateau_eff_frac", "plateau eff.", fmt.percent),
)
NEEDS = "records of the bit-width scan workloads (muon-l0-qstudent-2bit ... -8bit)"


def _scan_records(frame: pd.DataFrame) -> pd.DataFrame:
    frame = ok(frame)
    variant = column(frame, "workload.variant")
    width = variant.map(lambda v: FLOAT_BITS if v == FLOAT_VARIANT else bits(v))
    frame = frame.assign(_bits=width)
    return frame[frame["_bits"].notna()]


def _metrics_row(records: pd.DataFrame) -> pd.Series | None:
    """The record whose task metrics represent the model: the Keras reference where it ran."""
    with_metrics = records[column(records, "accuracy.n_samples").notna()]
    if with_metrics.empty:
        return None
    preferred = with_metrics.assign(_ref=column(with_metrics, "runner.name") != "keras")
    return latest(preferred).sort_values(["_ref", "timestamp_utc"], kind="stable").iloc[0]


def quantization_table(frame: pd.DataFrame, workload: str | None = None) -> Table | None:
    """Task metric, latency and LUTs per bit width; None without two or more scan workloads."""
    scan = _scan_records(frame)
    if workload is not None:  # --workload narrows every layout; one bit width is no scan
        scan = scan[scan["workload.name"] == workload]
    if scan["_bits"].nunique() < 2 if not scan.empty else True:
        return None
    entries = fpga_entries(scan)
    notes = Notes()
    body, tidy = [], []
    for width, records in scan.groupby("_bits", sort=True):
        name = str(records["workload.name"].iloc[0])
        label = "32 (float)" if width == FLOAT_BITS else str(int(width))
        cells = [notes.cell(label), notes.cell(name)]
        row = _metrics_row(records)
        n = value(row, "accuracy.n_samples") if row is not None else None
        values = {"bits": int(width), "workload": name, "n_events": n}
        for key, _, show in METRICS:
            metric = value(row, f"accuracy.task_metrics.{key}") if row is not None else None
            values[key] = metric
            if metric is None and row is None:
                cells.append(notes.cell(fmt.MISSING, "no labelled accuracy pass in the records"))
            elif metric is None:  # metrics.py leaves out what these events cannot give
                reason = f"{key}: not defined for these events (e.g. a turn-on that never reaches 50 %)"
                cells.append(notes.cell(fmt.MISSING, reason))
            else:
                cells.append(notes.cell(show(metric)))
        cells.append(notes.cell(str(int(n)) if n is not None else fmt.MISSING))
        mine = entries[entries["workload.name"] == name] if not entries.empty else entries
        for figure, order, display in (
            ("latency_s", LATENCY_SOURCES, lambda e: fmt.seconds(float(e["latency_s"]))),
            ("lut", RESOURCE_SOURCES, lambda e: fmt.significant(float(e["lut"]))),
        ):
            entry = pick(mine, figure, order) if not mine.empty else None
            if entry is None:
                what = "latency" if figure == "latency_s" else figure.upper()
                reason = f"no FPGA {what} figure (run the rtl or hls4ml runner)"
                cells.append(notes.cell(fmt.MISSING, reason))
                values[figure] = None
            else:
                text = f"{display(entry)} {SOURCE_TAGS[entry['source']]}"
                cells.append(notes.cell(text, SOURCE_NOTES[entry["source"]]))
                values[figure] = float(entry[figure])
        body.append(cells)
        tidy.append(values)
    caption = (
        "the quantized student's bit-width scan (HGQ2, distilled; 32 = the float student): task "
        "metrics on the records' validation events (n); firmware latency and LUTs with their sources; "
        f"{caption_context(scan)}"
    )
    return Table(
        name="quantization-scan",
        title="Performance versus quantization level",
        caption=caption,
        columns=["bits", "model", *(header for _, header, _ in METRICS), "n events", "FPGA latency", "LUT"],
        rows=body,
        notes=notes.texts,
        tidy=pd.DataFrame(tidy),
        numeric=(2, 3, 4, 5, 6, 7),
    )
