"""Per-layer profiles (scenario ``profile``): where each backend spends a call, layer by layer.

Per workload, three tables: the layers of the source model (rows, in the model's order, the
union over backends) against each backend's time per call (µs, or clock cycles for firmware)
and share of its summed rows, the top layer of each backend starred; a summary per backend
(rows summed against the plain whole call, the profiler's own cost, caveats); and the numerical
profile of the firmware's weights and activations against the fixed-point precision chosen,
overflowing layers first. A backend without a profiler is one line under the first table.

``layer_rows`` is the long form the tables and the plots (``reports.plots.profile``) share.
"""

from __future__ import annotations

import pandas as pd

from triggerbench.reports import format as fmt
from triggerbench.reports.frame import column, ok, profiles, value
from triggerbench.reports.provenance import dates, hosts
from triggerbench.reports.table import Cell, Notes, Table, slug

NEEDS = "profile records (triggerbench profile)"
TOP = "★"
UNAVAILABLE = "ProfileUnavailable"  # the error type's stem: a backend without a usable profiler
_TENSORS = ("weight", "bias", "activation")
#: Keys that tell two profiles of one runner apart, added to its label where they differ.
_LABEL_KEYS = (("runner.device", "@ {}"), ("runner.precision", "{}"), ("runner.batch_size", "b{}"))


def _workloads(frame: pd.DataFrame, workload: str | None) -> list[str]:
    names = column(profiles(frame), "workload.name").dropna().astype(str)
    return sorted(set(names) if workload is None else set(names) & {workload})


def labelled(records: pd.DataFrame, rows: str = "profile.layers") -> pd.DataFrame:
    """Ok profile records with ``rows`` (per-layer rows, or ``profile.numerical``), each labelled.

    ``_label`` is the runner, plus what tells repeats apart. Ordered by label: the backends'
    columns and bars.
    """
    records = ok(records)
    records = records[column(records, rows).map(lambda entries: isinstance(entries, list) and bool(entries))]
    if records.empty:
        return records.assign(_label=pd.Series(dtype=object), _mapped=pd.Series(dtype=int))
    labels = column(records, "runner.name").astype(str)
    for key, pattern in _LABEL_KEYS:
        values = column(records, key).astype(str)
        varies = values.groupby(labels).transform("nunique") > 1
        if key == "runner.batch_size":  # a batch differing anywhere is named everywhere
            varies = varies | (values.nunique() > 1)
        labels = labels.where(~varies, labels + " " + values.map(pattern.format))
    mapped = column(records, "profile.layers").map(
        lambda rows: sum(bool(r.get("mapped", True)) for r in rows)
    )
    records = records.assign(_label=labels, _mapped=mapped)
    return records.sort_values("_label", kind="stable")


def layer_order(sequences: list[list[str]]) -> list[str]:
    """The union of the layer sequences, each layer after its predecessor in the first sequence having it."""
    order: list[str] = []
    for sequence in sequences:
        previous = None
        for name in sequence:
            if name not in order:
                order.insert(order.index(previous) + 1 if previous is not None else 0, name)
            previous = name
    return order


def _sequence(rows: list[dict]) -> list[str]:
    """A record's layers in its order, each fused layer right after the row it was counted on."""
    return [name for row in rows for name in (row["layer"], *row.get("fused_with", []))]


def source_order(backends: pd.DataFrame) -> list[str]:
    """The layers of ``labelled`` records in the source model's order, as far as the profiles show it.

    The most complete profile (most mapped source layers) sets the order; the others' layers are
    merged in after their predecessors.
    """
    complete_first = backends.sort_values("_mapped", ascending=False, kind="stable")
    return layer_order([_sequence(rows) for rows in complete_first["profile.layers"]])


def layer_rows(records: pd.DataFrame) -> pd.DataFrame:
    """Long form of one workload's profiles: one row per (backend, layer row), in layer order.

    Columns: ``backend``, ``layer``, ``order`` (position in the merged layer order), ``unit``,
    ``time_s``, ``cycles``, ``share``, ``mapped``, ``fused_with``, ``status``, ``top`` (the
    backend's largest share).
    """
    backends = labelled(records)
    order = source_order(backends)
    position = {name: i for i, name in enumerate(order)}
    out = []
    for _, record in backends.iterrows():
        rows = record["profile.layers"]
        shares = [r.get("share") for r in rows]
        top = max(range(len(rows)), key=lambda i: shares[i] if shares[i] is not None else -1.0)
        for i, row in enumerate(rows):
            out.append(
                {
                    "backend": record["_label"],
                    "runner": record["runner.name"],
                    "layer": row["layer"],
                    "order": position[row["layer"]],
                    "unit": value(record, "profile.unit"),
                    "time_s": row.get("time_s"),
                    "cycles": row.get("cycles"),
                    "share": row.get("share"),
                    "mapped": bool(row.get("mapped", True)),
                    "fused_with": list(row.get("fused_with", [])),
                    "status": row.get("status"),
                    "top": i == top and shares[i] is not None,
                }
            )
    columns = ["backend", "runner", "layer", "order", "unit", "time_s", "cycles", "share", "mapped"]
    return pd.DataFrame(out, columns=[*columns, "fused_with", "status", "top"])


def busy_layers(rows: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """The rows of layers some backend spent time or cycles on, and how many layers had none.

    A layer with no time anywhere is an input, or nodes a backend did not run (OpenVINO's
    constants); ``triggerbench profile`` leaves them out of its table too, the records keep them.
    """
    amount = pd.to_numeric(rows["time_s"], errors="coerce").fillna(0.0)
    amount += pd.to_numeric(rows["cycles"], errors="coerce").fillna(0.0)
    busy = amount.groupby(rows["layer"]).transform("sum") > 0
    return rows[busy], int(rows.loc[~busy, "layer"].nunique())


def unavailable_lines(records: pd.DataFrame) -> list[str]:
    """One line per profile record that holds no profile: skipped (no profiler) or failed."""
    lines = []
    for _, record in records[column(records, "status") != "ok"].iterrows():
        runner = value(record, "runner.name")
        message = str(value(record, "error.message") or "no reason recorded").strip().split("\n")[0]
        if str(value(record, "error.type") or "").startswith(UNAVAILABLE):
            lines.append(f"{runner}: not available for this backend: {message}")
        else:
            lines.append(f"{runner}: {value(record, 'status')} — {message}")
    return sorted(set(lines))


# --- the per-layer table ----------------------------------------------------------------------


def _amount(row: pd.Series) -> str:
    if row["unit"] == "cycles":
        return fmt.MISSING if pd.isna(row["cycles"]) else f"{int(row['cycles']):,}"
    return fmt.MISSING if pd.isna(row["time_s"]) else fmt.significant(row["time_s"] * 1e6)


def _row_notes(row: pd.Series) -> list[str]:
    notes = []
    if row["fused_with"]:
        fused = ", ".join(row["fused_with"])
        notes.append(
            f"{row['backend']} fused {row['layer']} with {fused}: one row, counted on {row['layer']}"
        )
    status = row["status"]
    # Only a status that says the row did not run as such (NOT_RUN, OPTIMIZED_OUT) is worth a note;
    # a row without one is a missing value in the frame (NaN), not a status.
    if isinstance(status, str) and status and status != "EXECUTED":
        notes.append(f"{row['backend']}: backend status {status}")
    return notes


def _layer_table(name: str, records: pd.DataFrame, rows: pd.DataFrame) -> Table:
    notes = Notes()
    excluded = unavailable_lines(records)
    rows, idle = busy_layers(rows)
    if idle:
        excluded.append(
            f"{idle} layer(s) or node(s) with no time on any backend (inputs, not run); the records keep them"
        )
    backends = list(dict.fromkeys(rows["backend"]))
    units = dict(zip(rows["backend"], rows["unit"], strict=False))
    columns = ["layer"]
    for backend in backends:
        columns += [f"{backend} ({'cycles' if units[backend] == 'cycles' else 'µs'})", f"{backend} share"]
    fused_into = {
        (row["backend"], other): row["layer"] for _, row in rows.iterrows() for other in row["fused_with"]
    }
    body = []
    for layer, group in rows.sort_values("order", kind="stable").groupby("order", sort=True):
        group = group.set_index("backend")
        group = group[~group.index.duplicated()]  # one row per backend and layer name
        first = group.iloc[0]
        layer = str(first["layer"])
        own = None if first["mapped"] else f"not a layer of the source model: {group.index[0]}'s own node"
        cells: list[Cell] = [notes.cell(layer, own)]
        for backend in backends:
            if backend in group.index:
                row = group.loc[backend].copy()
                row["backend"] = backend
                share = fmt.percent(row["share"]) + (f" {TOP}" if row["top"] else "")
                cells += [notes.cell(_amount(row), *_row_notes(row)), Cell(share)]
            elif (backend, layer) in fused_into:
                cells += [Cell(f"in {fused_into[(backend, layer)]}"), Cell(fmt.MISSING)]
            elif not first["mapped"]:
                cells += [Cell(""), Cell("")]  # another backend's own node: nothing missing here
            else:
                missing = notes.cell(fmt.MISSING, f"{backend} has no row for this layer")
                cells += [missing, missing]
        body.append(cells)
    batch = ", ".join(sorted({str(b) for b in column(records, "runner.batch_size").dropna()}))
    caption = (
        f"Time per call of each layer of the source model (median over the profiled calls, profiler on; "
        f"clock cycles for firmware) and its share of the backend's summed rows; {TOP} the backend's "
        f"largest share. Batch {batch}; host {hosts(records)}, {dates(records)}."
    )
    tidy = rows.drop(columns=["fused_with"]).assign(workload=name)
    return Table(
        name=f"profile-{slug(name)}",
        title=f"Per-layer profile: {name}",
        caption=caption,
        columns=columns,
        rows=body,
        notes=notes.texts,
        excluded=excluded,
        tidy=tidy,
        numeric=tuple(range(1, len(columns))),
    )


# --- the per-backend summary ------------------------------------------------------------------


def _null(notes: Notes, record: pd.Series, field: str, label: str) -> Cell:
    reason = value(record, f"profile.null_reasons.{field}") or "not recorded"
    return notes.cell(fmt.MISSING, f"no {label}: {reason}")


def _ratio_cell(top: float | None, bottom: float | None, text) -> Cell:
    return Cell(text(top / bottom) if top is not None and bottom else fmt.MISSING)


def _summary_table(name: str, backends: pd.DataFrame) -> Table:
    notes = Notes()
    body, tidy = [], []
    for _, record in backends.iterrows():
        unit = value(record, "profile.unit")
        total = value(record, "profile.total_cycles" if unit == "cycles" else "profile.total_s")
        whole, profiled = value(record, "profile.whole_call_s"), value(record, "profile.profiled_call_s")
        caveats = value(record, "profile.caveats") or []
        calls = value(record, "profile.n_calls")
        if total is None:
            summed = _null(notes, record, "total_cycles" if unit == "cycles" else "total_s", "sum")
        else:
            summed = Cell(f"{int(total):,} cycles" if unit == "cycles" else fmt.seconds(total))
        body.append(
            [
                notes.cell(record["_label"], *caveats),
                Cell(str(value(record, "profile.source") or fmt.MISSING)),
                Cell(f"{int(calls):,}")
                if calls is not None
                else _null(notes, record, "n_calls", "call count"),
                summed,
                Cell(fmt.seconds(whole))
                if whole is not None
                else _null(notes, record, "whole_call_s", "whole call"),
                _ratio_cell(total if unit == "s" else None, whole, fmt.percent),
                Cell(fmt.seconds(profiled))
                if profiled is not None
                else _null(notes, record, "profiled_call_s", "profiled call"),
                _ratio_cell(profiled, whole, lambda r: f"{fmt.significant(r)}×"),
            ]
        )
        tidy.append(
            {
                "backend": record["_label"],
                "unit": unit,
                "total": total,
                "whole_call_s": whole,
                "profiled_call_s": profiled,
                "n_calls": calls,
            }
        )
    return Table(
        name=f"profile-summary-{slug(name)}",
        title=f"Profile cost per backend: {name}",
        caption=(
            "The layer rows summed against a plain call with the profiler off (what the rows miss or "
            "add: time between nodes, layers that cannot fuse when run one by one), and a call with "
            "the profiler on against it (the profiler's overhead)."
        ),
        columns=[
            "backend",
            "profiler",
            "calls",
            "sum of layers",
            "whole call",
            "sum / call",
            "profiled call",
            "overhead",
        ],
        rows=body,
        notes=notes.texts,
        tidy=pd.DataFrame(tidy),
        numeric=(2, 3, 4, 5, 6, 7),
    )


# --- the numerical profile --------------------------------------------------------------------


def numerical_rows(backends: pd.DataFrame, order: list[str]) -> pd.DataFrame:
    """One row per (backend, layer, tensor) of the numerical profiles; overflowing layers first."""
    out = []
    for _, record in backends.iterrows():
        for entry in value(record, "profile.numerical") or []:
            out.append({"backend": record["_label"], **entry})
    if not out:
        return pd.DataFrame()
    frame = pd.DataFrame(out)
    # Without timed rows to give the model's order, the profile's own order (hls4ml's) is kept.
    position = {name: i for i, name in enumerate(order or dict.fromkeys(frame["layer"]))}
    overflowing = frame.groupby(["backend", "layer"])["verdict"].transform(lambda v: (v == "overflows").any())
    frame = frame.assign(
        _overflowing=overflowing,
        _order=frame["layer"].map(position).fillna(len(order)),
        _tensor=frame["tensor"].map(_TENSORS.index),
    )
    keys = ["_overflowing", "backend", "_order", "layer", "_tensor"]
    ascending = [False, True, True, True, True]
    frame = frame.sort_values(keys, ascending=ascending, kind="stable").reset_index(drop=True)
    return frame.astype(object).where(frame.notna(), None)  # a missing note is None, never "nan"


def _overflow_cell(row: pd.Series, notes: Notes) -> Cell:
    count = row.get("overflow_count")
    if count is None or pd.isna(count):
        return notes.cell(fmt.MISSING, row.get("note") or "overflows not counted")
    mode = row.get("overflow_mode")
    note = f"values outside the range are {'wrapped' if mode == 'wrap' else 'saturated'}" if count else None
    return notes.cell(f"{int(count):,} ({fmt.percent(row.get('overflow_fraction'))})", note)


def _numerical_table(name: str, rows: pd.DataFrame) -> Table:
    notes = Notes()
    several = rows["backend"].nunique() > 1
    columns = ["backend"] * several + [
        "layer",
        "tensor",
        "min",
        "max",
        "precision",
        "range",
        "overflow",
        "wasted int. bits",
        "verdict",
    ]
    body = []
    for _, row in rows.iterrows():
        verdict = str(row["verdict"])
        wasted = row.get("wasted_integer_bits")
        lo, hi = row.get("range_min"), row.get("range_max")
        cells = [Cell(str(row["backend"]))] * several + [
            Cell(str(row["layer"])),
            Cell(str(row["tensor"])),
            Cell(fmt.number(row.get("min"))),
            Cell(fmt.number(row.get("max"))),
            Cell(str(row.get("precision") or fmt.MISSING)),
            Cell(
                f"{fmt.number(lo, 5)} … {fmt.number(hi, 5)}" if pd.notna(lo) and pd.notna(hi) else fmt.MISSING
            ),
            _overflow_cell(row, notes),
            Cell(fmt.MISSING if wasted is None or pd.isna(wasted) else str(int(wasted))),
            notes.cell(
                verdict.upper() if verdict == "overflows" else verdict.replace("-", " "), row.get("note")
            ),
        ]
        body.append(cells)
    start = int(several) + 2
    return Table(
        name=f"numerical-{slug(name)}",
        title=f"Numerical profile: {name}",
        caption=(
            "The values each layer's weights, biases and activations take (min, max) against the "
            "fixed-point type chosen for them and the range it holds; overflowing layers first, "
            "wasted integer bits are bits above what the largest value needs."
        ),
        columns=columns,
        rows=body,
        notes=notes.texts,
        tidy=rows.drop(columns=[c for c in rows.columns if c.startswith("_")]),
        numeric=(start, start + 1, start + 3, start + 4, start + 5),
    )


def profile_tables(frame: pd.DataFrame, workload: str | None = None) -> tuple[list[Table], list[str]]:
    """The profile tables of each workload, and one line per workload with no profile to show.

    Args:
        frame: The records (only those of scenario ``profile`` are read).
        workload: Only this ``workload.name``; None for all.
    """
    records = profiles(frame)
    tables, not_drawn = [], []
    for name in _workloads(records, workload):
        mine = records[column(records, "workload.name") == name]
        backends, valued = labelled(mine), labelled(mine, "profile.numerical")
        if backends.empty and valued.empty:
            lines = unavailable_lines(mine) or ["no profile with per-layer rows"]
            not_drawn += [f"profile of {name}: {line}" for line in lines]
            continue
        if not backends.empty:
            rows = layer_rows(mine)
            tables += [_layer_table(name, mine, rows), _summary_table(name, backends)]
        # A firmware profile may hold values only (no synthesis report, so no per-layer cycles).
        numeric = numerical_rows(valued, source_order(backends) if not backends.empty else [])
        if not numeric.empty:
            tables.append(_numerical_table(name, numeric))
    return tables, not_drawn
