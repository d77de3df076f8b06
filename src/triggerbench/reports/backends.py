"""Layout (a): the backend comparison, the seed talk's CPU / GPU / FPGA table, for one workload.

One row per backend (runner + device + precision) at one batch size: events/s, p99 latency,
power with its source, events per joule, model memory and the gain over a baseline runner.
Published figures follow as their own rows, labelled, never mixed into the gains.
"""

from __future__ import annotations

import pandas as pd

from triggerbench import precision
from triggerbench.errors import UserInputError
from triggerbench.reports import format as fmt
from triggerbench.reports.frame import (
    column,
    device_label,
    emulated,
    latest,
    measured_speed,
    not_ok,
    null_note,
    value,
)
from triggerbench.reports.provenance import caption_context
from triggerbench.reports.published import PublishedFigure, for_workload
from triggerbench.reports.table import Notes, Table, excluded_lines, slug

DEFAULT_BASELINE = "keras"
COLUMNS = ["backend", "device", "precision", "events/s", "p99 latency", "power", "events/J", "model (MB)"]
NOMINAL = "nominal TDP of the device, not measured"
_FAILURE_COLUMNS = (
    "workload.name",
    "runner.name",
    "scenario.name",
    "status",
    "error.message",
    "runner.batch_size",
)


def choose_batch(rows: pd.DataFrame) -> tuple[int, str]:
    """The batch size measured by the most backends; among those, the one with the best throughput."""
    batch = column(rows, "runner.batch_size")
    per_batch = (
        rows.assign(_batch=batch)
        .groupby("_batch")
        .agg(n=("runner.name", "nunique"), best=("performance.throughput_samples_per_s", "max"))
    )
    chosen = per_batch.sort_values(["n", "best"], ascending=False, kind="stable").index[0]
    return int(chosen), "the batch size most backends ran, best throughput among those"


def _power_cells(row: pd.Series, notes: Notes):
    section = "power"
    if value(row, "power.power_mean_w") is None and value(row, "power_nominal.power_mean_w") is not None:
        section = "power_nominal"  # no measured figure: show the nominal TDP, footnoted as such
    source = value(row, f"{section}.source") or "unavailable"
    watts = value(row, f"{section}.power_mean_w")
    per_event = value(row, f"{section}.energy_per_inference_j")
    if watts is None:
        reason = value(row, "power.null_reasons.power_mean_w") or "no power figure recorded"
        dash = notes.cell(fmt.MISSING, f"no power figure: {reason}")
        return dash, dash
    scope = value(row, f"{section}.scope")
    note = NOMINAL if source == "nominal-tdp" else f"{source}" + (f": {scope}" if scope else "")
    events_per_j = (
        notes.cell(fmt.rate(1.0 / per_event, ""), note) if per_event else notes.cell(fmt.MISSING, note)
    )
    return notes.cell(fmt.si(watts, "W"), note), events_per_j


def _memory_cell(row: pd.Series, notes: Notes):
    size = value(row, "workload.artifact_size_bytes")
    if size is None:
        return notes.cell(fmt.MISSING, "model size not recorded for this runner's artifact")
    kind = value(row, "workload.artifact_format") or "artifact"
    return notes.cell(fmt.significant(size / 1e6), f"size of the {kind} file the runner loads")


def _measured_row(row: pd.Series, notes: Notes, base_throughput: float | None, gain_note: str | None):
    throughput = value(row, "performance.throughput_samples_per_s")
    warnings = row["warnings"] if "warnings" in row.index and isinstance(row["warnings"], list) else []
    power, per_j = _power_cells(row, notes)
    gain = (
        notes.cell(f"{fmt.significant(throughput / base_throughput)}x")
        if base_throughput
        else notes.cell(fmt.MISSING, gain_note)
    )
    return [
        notes.cell(str(value(row, "runner.name"))),
        notes.cell(device_label(row)),
        notes.cell(precision.label(value(row, "runner.precision"), value(row, "workload.quantization"))),
        notes.cell(fmt.rate(throughput, ""), *(f"unstable: {w}" for w in warnings if "unstable" in w)),
        notes.cell(
            fmt.seconds(value(row, "performance.latency_p99_s")),
            null_note(row, "performance.latency_p99_s", "p99"),
        ),
        power,
        per_j,
        _memory_cell(row, notes),
        gain,
    ]


def _published_row(figure: PublishedFigure, notes: Notes) -> list:
    cite = f"published: {figure.source}"
    power_note = NOMINAL if figure.power_source == "nominal-tdp" else "published measurement"
    if figure.power_w and figure.throughput_events_per_s:
        per_j = notes.cell(fmt.rate(figure.throughput_events_per_s / figure.power_w, ""), power_note)
    else:
        per_j = notes.cell(fmt.MISSING, "not published")
    memory = figure.model_memory_bytes
    return [
        notes.cell(figure.label, cite),
        notes.cell(figure.device),
        notes.cell(figure.precision or fmt.MISSING),
        notes.cell(
            fmt.rate(figure.throughput_events_per_s, "") if figure.throughput_events_per_s else fmt.MISSING
        ),
        notes.cell(fmt.seconds(figure.latency_s), None if figure.latency_s else "not published"),
        notes.cell(fmt.si(figure.power_w, "W"), power_note if figure.power_w else "not published"),
        per_j,
        notes.cell(
            fmt.significant(memory / 1e6) if memory else fmt.MISSING, None if memory else "not published"
        ),
        notes.cell(fmt.MISSING, "published figure: no gain computed against this host's baseline"),
    ]


def _baseline_row(rows: pd.DataFrame, baseline: str | None) -> pd.Series | None:
    name = baseline or DEFAULT_BASELINE
    matches = rows[column(rows, "runner.name") == name]
    if matches.empty:
        return None if baseline else (rows.iloc[0] if not rows.empty else None)
    by_precision = matches.assign(_f32=column(matches, "runner.precision") != "f32")
    return by_precision.sort_values("_f32", kind="stable").iloc[0]


def backend_tables(
    frame: pd.DataFrame,
    workload: str | None = None,
    baseline: str | None = None,
    batch: int | None = None,
    published: list[PublishedFigure] | None = None,
) -> list[Table]:
    """One backend-comparison table per (workload, scenario) with measured speed."""
    speed = latest(measured_speed(frame))
    if workload is not None:
        speed = speed[speed["workload.name"] == workload]
    if speed.empty:
        return []
    if baseline is not None and baseline not in set(speed["runner.name"]):
        present = ", ".join(sorted(set(speed["runner.name"])))
        raise UserInputError(
            f"baseline runner {baseline!r} has no measured records; runners present: {present}"
        )
    if batch is not None and batch not in set(speed["runner.batch_size"].astype(int)):
        present = ", ".join(map(str, sorted(set(speed["runner.batch_size"].astype(int)))))
        raise UserInputError(f"no measured records at batch {batch}; batch sizes present: {present}")
    # Reduced once, not per table: a results set may hold 100k records.
    failures = not_ok(frame)
    failures = failures[[c for c in _FAILURE_COLUMNS if c in failures.columns]]
    emulators = emulated(frame)[["workload.name", "runner.name"]].drop_duplicates()
    tables = []
    for (name, scenario), group in speed.groupby(["workload.name", "scenario.name"], sort=True):
        if batch is not None:
            chosen, why = batch, "chosen with --batch"
            if batch not in set(group["runner.batch_size"].astype(int)):
                continue
        else:
            chosen, why = choose_batch(group)
        excluded = excluded_lines(failures[failures["workload.name"] == name]) if len(failures) else []
        excluded += [
            f"{r}: emulation speed on the host CPU, not the device's (FPGA latency: see the FPGA tables)"
            for r in sorted(set(emulators[emulators["workload.name"] == name]["runner.name"]))
        ]
        tables.append(
            _table(group, str(name), str(scenario), chosen, why, baseline, published or [], excluded)
        )
    return tables


def _table(group, name, scenario, batch, why, baseline, published, excluded) -> Table:
    rows = group[group["runner.batch_size"].astype(int) == batch]
    rows = rows.assign(_precision=column(rows, "runner.precision").fillna(""))
    rows = rows.sort_values(["runner.name", "_precision"], kind="stable")
    notes = Notes()
    base = _baseline_row(rows, baseline)
    base_name = value(base, "runner.name") if base is not None else baseline
    base_throughput = value(base, "performance.throughput_samples_per_s") if base is not None else None
    gain_note = f"baseline {base_name} not measured at batch {batch}"
    body = [_measured_row(r, notes, base_throughput, gain_note) for _, r in rows.iterrows()]
    extra = for_workload(published, name)
    body += [_published_row(f, notes) for f in extra if f.throughput_events_per_s or f.power_w]
    tidy = pd.DataFrame(
        {
            "workload": name,
            "scenario": scenario,
            "batch": batch,
            "runner": rows["runner.name"].to_numpy(),
            "device": column(rows, "runner.device").to_numpy(),
            "precision": column(rows, "runner.precision").to_numpy(),
            "throughput_samples_per_s": column(rows, "performance.throughput_samples_per_s").to_numpy(),
            "latency_p99_s": column(rows, "performance.latency_p99_s").to_numpy(),
            "power_mean_w": column(rows, "power.power_mean_w").to_numpy(),
            "power_source": column(rows, "power.source").to_numpy(),
            "energy_per_inference_j": column(rows, "power.energy_per_inference_j").to_numpy(),
            "model_size_bytes": column(rows, "workload.artifact_size_bytes").to_numpy(),
        }
    )
    caption = (
        f"{name}, {scenario}, batch {batch} ({why}); latency per query of {batch} event(s); "
        f"gain = events/s over {base_name}; {caption_context(rows)}"
    )
    return Table(
        name=slug(f"backends-{name}-{scenario}"),
        title=f"Backends: {name}",
        caption=caption,
        columns=[*COLUMNS, f"gain vs {base_name}"],
        rows=body,
        notes=notes.texts,
        excluded=excluded,
        tidy=tidy,
        numeric=(3, 4, 5, 6, 7, 8),
    )
