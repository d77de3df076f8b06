"""Physics plot kinds: the L0 models' pT resolution Pareto fronts, turn-on curves, L_r resolution.

The figures come from each record's ``accuracy.task_metrics`` (and, for the Pareto fronts, its FPGA
figures or measured batch-1 p50); of each workload and runner the latest ok record is drawn.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.lines import Line2D

from triggerbench.models.metrics import TURNON_POINT_PREFIX, binned_points, turnon_points
from triggerbench.reports import format as fmt
from triggerbench.reports.frame import column, latest, measured_speed, ok, value
from triggerbench.reports.plots.common import (
    _MARKERS,
    _RUNNER_KEYS,
    MAX_FACETS,
    Plot,
    _count,
    _figure,
    _finish,
    _left_out,
    _legend,
    _log_axis,
    _pick,
    _reason,
    _rows,
    _Runners,
    _slim,
    _styled,
)

_TM = "accuracy.task_metrics."
# l0_metrics' default threshold, the one the stored turn-on points were computed for.
_TURNON_THRESHOLD_GEV = 10.0
_FPGA_LATENCY_SOURCES = ("vivado-synth", "hls-cosim", "hls-csynth", "rtl-testbench", "estimate")
_FPGA_LUT_SOURCES = ("vivado-synth", "hls-csynth", "open-synthesis", "estimate")
_FPGA_KIND, _P50_KIND = "FPGA figure", "measured p50, batch 1"


# --- reading the frame ------------------------------------------------------------------------


def _task_metrics(row: pd.Series) -> dict[str, float]:
    """A record's ``accuracy.task_metrics`` as a dict (the frame holds one column per key)."""
    return {
        name[len(_TM) :]: float(v)
        for name, v in row.items()
        if isinstance(name, str) and name.startswith(_TM) and value(row, name) is not None
    }


def _task(frame: pd.DataFrame, prefix: str) -> pd.Series:
    return column(frame, "workload.task").fillna("").astype(str).str.startswith(prefix)


def _n_samples(n_samples: pd.Series) -> str:
    n = pd.to_numeric(n_samples, errors="coerce").dropna().astype(int)
    if n.empty:
        return "n unknown"
    return f"n = {n.min()} events" if n.min() == n.max() else f"n = {n.min()}-{n.max()} events"


# --- the plot kinds ---------------------------------------------------------------------------


def _variant_labels(data: pd.DataFrame) -> dict[str, str]:
    variants = column(data, "workload.variant").groupby(column(data, "workload.name")).first()
    counts = variants.value_counts()
    out = {}
    for workload in sorted(set(column(data, "workload.name").dropna())):
        variant = variants.get(workload)
        unique = isinstance(variant, str) and counts.get(variant, 0) == 1
        out[workload] = variant if unique else workload.removeprefix("muon-l0-")
    return out


def _pareto_points(data: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per L0 workload: (latency, resolution) and (LUTs, resolution), each with where x came from."""
    resolution = pd.to_numeric(column(data, _TM + "pt_resolution_frac"), errors="coerce")
    workloads = column(data, "workload.name")
    fallback = resolution.groupby(workloads).median()
    labels = _variant_labels(data)
    fpga: dict[str, list] = {}
    for index, entries in column(data, "fpga").items():
        for entry in entries if isinstance(entries, list) else []:
            fpga.setdefault(workloads[index], []).append((index, entry))
    speed = measured_speed(data)
    p50 = pd.to_numeric(column(speed, "performance.latency_p50_s"), errors="coerce")
    p50 = p50[(column(speed, "runner.batch_size") == 1) & (p50 > 0)]

    def point(workload: str, index, x: float, kind: str, source: str) -> dict:
        y = resolution[index] if pd.notna(resolution[index]) else fallback.get(workload)
        n = column(data, "accuracy.n_samples")[index]
        return dict(workload=workload, label=labels[workload], x=x, y=y, kind=kind, source=source, n=n)

    latency, luts = [], []
    for workload in sorted(labels):
        entries = fpga.get(workload, [])
        timed = [
            (_FPGA_LATENCY_SOURCES.index(e["source"]), e["latency_s"], i, e)
            for i, e in entries
            if e.get("source") in _FPGA_LATENCY_SOURCES and e.get("latency_s")
        ]
        if timed:
            _, x, index, entry = min(timed, key=lambda t: t[:3])
            latency.append(point(workload, index, x, _FPGA_KIND, entry["source"]))
        elif not (mine := p50[column(speed, "workload.name")[p50.index] == workload]).empty:
            index = mine.idxmin()
            runner = f"{data.at[index, 'runner.name']} p50"
            latency.append(point(workload, index, float(mine[index]), _P50_KIND, runner))
        sized = [
            (_FPGA_LUT_SOURCES.index(e["source"]), e["lut"], i, e)
            for i, e in entries
            if e.get("source") in _FPGA_LUT_SOURCES and e.get("lut")
        ]
        if sized:
            _, x, index, entry = min(sized, key=lambda t: t[:3])
            luts.append(point(workload, index, float(x), _FPGA_KIND, entry["source"]))
    columns = ["workload", "label", "x", "y", "kind", "source", "n"]
    return tuple(pd.DataFrame(rows, columns=columns) for rows in (latency, luts))


def _sources(points: pd.DataFrame) -> str:
    return ", ".join(f"{r.label} {r.source}" for r in points.sort_values("label").itertuples()) or "none"


def _pareto_panel(ax: Axes, points: pd.DataFrame, what: str, xlabel: str, label: Callable) -> None:
    if points.empty:
        ax.text(0.5, 0.5, f"no {what} in the records", ha="center", va="center", transform=ax.transAxes)
        ax.set_xticks([])
    else:
        colours = sns.color_palette("colorblind")
        for kind, group in points.groupby("kind", sort=True):
            i = (_FPGA_KIND, _P50_KIND).index(kind)
            style = dict(linestyle="none", marker=_MARKERS[i], markersize=10, color=colours[i])
            ax.plot(group["x"], group["y"], label=kind, **style)
        for row in points.itertuples(index=False):
            ax.annotate(row.label, (row.x, row.y), xytext=(6, 4), textcoords="offset points", fontsize=12)
        ordered = points.sort_values(["x", "y"])
        front = ordered[ordered["y"] < ordered["y"].cummin().shift(fill_value=np.inf)]
        style = dict(drawstyle="steps-post", color="0.4", linestyle="--", lw=1.5)
        ax.plot(front["x"], front["y"], label="Pareto front", **style)
        _log_axis(ax, "x", points["x"], label)
        ax.margins(y=0.12)  # room for the labels of the highest and lowest points
    _finish(ax, what, xlabel, "pT resolution (fraction)")


@_styled
def pareto(frame: pd.DataFrame) -> Plot | str:
    """The pT resolution of the L0 model variants versus latency and versus LUTs, with the Pareto fronts.

    Latency is the FPGA figure (vivado-synth, hls-cosim, hls-csynth, rtl-testbench, estimate, in
    that preference) where a variant has one, else its best measured batch-1 p50; LUTs come from
    vivado-synth, hls-csynth, open-synthesis or an estimate.

    Args:
        frame: The records (``triggerbench.results.load``).

    Returns:
        The plot, or why the records do not allow it.
    """
    need = "pT resolution versus latency and LUTs: needs ok L0 records (task muon-l0-*) with "
    need += "pt_resolution_frac and FPGA figures or a measured batch-1 p50"
    records = ok(_slim(frame))
    records = records[_task(records, "muon-l0")]
    if records.empty:
        return _reason(need, frame)
    latency, luts = _pareto_points(_rows(frame, latest(records)))
    no_y = sorted(set(latency[latency["y"].isna()]["label"]) | set(luts[luts["y"].isna()]["label"]))
    latency, luts = latency.dropna(subset=["y"]), luts.dropna(subset=["y"])
    if latency.empty and luts.empty:
        return _reason(need, frame)
    title = "L0 models: pT resolution versus latency and LUTs"
    figure, axes = _figure(title, 2, ncols=2)
    _pareto_panel(axes[0], latency, "latency", "latency (s)", fmt.seconds)
    _pareto_panel(axes[1], luts, "LUTs", "LUTs (count)", _count)
    handles, seen = [], set()
    for ax in axes:
        for handle in ax.get_lines():
            if handle.get_label() not in seen:
                seen.add(handle.get_label())
                handles.append(handle)
    _legend(figure, sorted(handles, key=lambda h: h.get_label()))
    caption = (
        f"pT resolution (68 % half-width of (pT_pred - pT)/pT, lower is better; "
        f"{_n_samples(pd.concat([latency, luts])['n'])} per record; the figure of the record giving x, else "
        f"the median over the variant's records) of each L0 model variant versus latency (the FPGA figure "
        f"where there is one, else the lowest measured batch-1 p50) and versus LUTs; dashed: the Pareto "
        f"front. Latency from: {_sources(latency)}. LUTs from: {_sources(luts)}."
        + _left_out(frame, extra=(f"{', '.join(no_y)}: no pt_resolution_frac",) if no_y else ())
    )
    return Plot("pareto", title, caption, figure)


def _curves(frame: pd.DataFrame, task: str, prefixes: tuple[str, ...]) -> tuple[pd.DataFrame, _Runners]:
    """The latest ok record per workload and runner of ``task`` that holds a curve (any ``prefixes`` key)."""
    runners = _Runners(frame)
    cols = [c for c in frame.columns if c.startswith(tuple(_TM + p for p in prefixes))]
    if not cols:
        return frame.iloc[:0], runners
    records = ok(_slim(frame)[frame[cols].notna().any(axis=1)])
    keys = ("workload.name", *_RUNNER_KEYS)  # the curve depends on the model and runner only
    reduced = _rows(frame, latest(records[_task(records, task)], keys))
    return reduced.assign(_label=runners.labels(reduced)), runners


@_styled
def turnon_curves(frame: pd.DataFrame) -> Plot | str:
    """Trigger efficiency versus true pT, one line per runner, one facet per L0 workload.

    Args:
        frame: The records (``triggerbench.results.load``).

    Returns:
        The plot, or why the records do not allow it.
    """
    data, runners = _curves(frame, "muon-l0", (TURNON_POINT_PREFIX,))
    if data.empty:
        need = "turn-on curves: needs ok L0 records (task muon-l0-*) whose task metrics hold the turn-on "
        return _reason(need + "curve (turnon_eff_frac_at_*)", frame)
    shown, hidden_note = _pick(column(data, "workload.name"))
    title = f"Trigger turn-on (threshold {_TURNON_THRESHOLD_GEV:g} GeV)"
    figure, axes = _figure(title, len(shown))
    for ax, workload in zip(axes, shown, strict=True):
        records = data[data["workload.name"] == workload].sort_values("_label")
        for rank, (_, row) in enumerate(records.iterrows()):
            pt, eff = zip(*turnon_points(_task_metrics(row)), strict=True)
            ax.plot(pt, eff, **runners.style(row["_label"], rank, len(records)))
        ax.axvline(_TURNON_THRESHOLD_GEV, color="0.3", linestyle="--", lw=1.5, label="threshold")
        ax.set_ylim(0.0, 1.05)
        _finish(ax, workload, "true pT (GeV)", "efficiency (fraction)")
    handles = runners.handles(data[data["workload.name"].isin(shown)]["_label"])
    _legend(figure, handles + [Line2D([], [], color="0.3", linestyle="--", label="threshold")])
    n_text = _n_samples(column(data, "accuracy.n_samples"))
    caption = (
        f"Efficiency of 'predicted pT > {_TURNON_THRESHOLD_GEV:g} GeV' versus true pT for signal windows "
        f"({n_text} per record, {len(data)} records: the latest per workload and runner). Runners "
        f"of one model must give the same curve; a difference comes from reduced precision (int8, "
        f"quantized firmware) or is a bug." + _left_out(frame) + hidden_note
    )
    return Plot("turnon-curves", title, caption, figure)


@_styled
def lr_resolution(frame: pd.DataFrame) -> Plot | str:
    """L_r bias and resolution versus true L_r, one line per runner, one row of two panels per LLP workload.

    Args:
        frame: The records (``triggerbench.results.load``).

    Returns:
        The plot, or why the records do not allow it.
    """
    data, runners = _curves(frame, "llp", ("lr_bias_m_", "lr_resolution_m_"))
    if data.empty:
        need = "L_r bias and resolution: needs ok LLP records (task llp-*) whose task metrics hold "
        return _reason(need + "per-bin lr_bias_m_* / lr_resolution_m_*", frame)
    shown, hidden_note = _pick(column(data, "workload.name"), MAX_FACETS // 2)
    title = "LLP decay radius: bias and resolution"
    figure, axes = _figure(title, 2 * len(shown), ncols=2)
    panels = (("lr_bias_m", "L_r bias (m)"), ("lr_resolution_m", "L_r resolution (m)"))
    for row_index, workload in enumerate(shown):
        records = data[data["workload.name"] == workload].sort_values("_label")
        for (prefix, ylabel), ax in zip(panels, axes[2 * row_index : 2 * row_index + 2], strict=True):
            for rank, (_, row) in enumerate(records.iterrows()):
                points = binned_points(_task_metrics(row), prefix, "m")
                if points:
                    centres = [0.5 * (lo + hi) for lo, hi, _ in points]
                    ax.plot(
                        centres, [v for *_, v in points], **runners.style(row["_label"], rank, len(records))
                    )
            if prefix == "lr_bias_m":
                ax.axhline(0.0, color="0.3", linestyle=":", lw=1.2, label="no bias")
            _finish(ax, workload, "true L_r (m)", ylabel)
    _legend(figure, runners.handles(data[data["workload.name"].isin(shown)]["_label"]))
    n_text = _n_samples(column(data, "accuracy.n_samples"))
    caption = (
        f"Bias (median of L_r pred - true) and resolution (68 % half-width) of the regressed LLP decay "
        f"radius per true-L_r bin, drawn at the bin centres ({n_text} per record, {len(data)} "
        f"records: the latest per workload and runner)." + _left_out(frame) + hidden_note
    )
    return Plot("lr-resolution", title, caption, figure)
