"""Figures of the records for slides: one figure per plot kind, one facet per workload.

Every plot kind is a function of the records' DataFrame that returns a ``Plot`` or, when the
records do not allow it, one line saying which records it needs. Figures are
``matplotlib.figure.Figure`` objects (no pyplot, no global state); the style (seaborn's
"whitegrid" and "colorblind" palette, fonts of 12 pt and more at the saved size) is applied in
an ``rc_context`` around drawing and saving. Speeds are the device's only (``measured_speed``):
C-simulation or RTL-simulation timing is the emulator's. Missing figures are dropped, never
drawn as 0, and each caption says how many records were left out and why.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import matplotlib as mpl
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter, NullLocator

from triggerbench.models.metrics import TURNON_POINT_PREFIX, binned_points, turnon_points
from triggerbench.reports import format as fmt
from triggerbench.reports.frame import (
    CONFIG_KEYS,
    FIRMWARE_SCENARIO,
    column,
    device_short,
    emulated,
    latest,
    measured_speed,
    ok,
    value,
)

#: At most this many facets per figure; the workloads with the most records are kept.
MAX_FACETS = 12
PNG_DPI = 150
_TM = "accuracy.task_metrics."
# l0_metrics' default threshold, the one the stored turn-on points were computed for.
_TURNON_THRESHOLD_GEV = 10.0
_FPGA_LATENCY_SOURCES = ("vivado-synth", "hls-cosim", "hls-csynth", "rtl-testbench", "estimate")
_FPGA_LUT_SOURCES = ("vivado-synth", "hls-csynth", "open-synthesis", "estimate")
_FPGA_KIND, _P50_KIND = "FPGA figure", "measured p50, batch 1"
_PERCENTILES = (("p50", "latency_p50_s"), ("p99", "latency_p99_s"), ("p99.9", "latency_p999_s"))
_POWER_SHORT = {
    "measured-rapl": "RAPL",
    "measured-nvml": "NVML",
    "measured-xrt": "XRT",
    "nominal-tdp": "nominal",
}
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")
_LINESTYLES = ("-", "--", ":", "-.")
_RUNNER_KEYS = ("runner.name", "runner.precision", "runner.device")
_SELECT_COLUMNS = (
    *CONFIG_KEYS, "timestamp_utc", "status", "workload.task", "performance.emulated",
    "performance.throughput_samples_per_s",
)  # fmt: skip


@dataclass(frozen=True)
class Plot:
    """One figure and what a slide needs to say about it."""

    name: str
    title: str
    caption: str
    figure: Figure


def _rc() -> dict:
    rc = dict(sns.axes_style("whitegrid"))
    rc.update(
        {
            "font.size": 12,
            "axes.labelsize": 13,
            "axes.titlesize": 13,
            "xtick.labelsize": 12,
            "ytick.labelsize": 12,
            "legend.fontsize": 12,
            "figure.titlesize": 15,
            "xtick.bottom": True,
            "ytick.left": True,
            "axes.prop_cycle": mpl.cycler(color=sns.color_palette("colorblind")),
            "pdf.fonttype": 42,  # TrueType: the text stays text when the PDF goes into a slide
            "svg.hashsalt": "triggerbench",
        }
    )
    return rc


def _slim(frame: pd.DataFrame) -> pd.DataFrame:
    """The few columns that select records: a selection of rows out of 100k records then copies little."""
    return frame[[c for c in _SELECT_COLUMNS if c in frame.columns]]


def _rows(frame: pd.DataFrame, selected: pd.DataFrame) -> pd.DataFrame:
    """The whole records of a selection made on ``_slim(frame)``."""
    return frame.loc[selected.index]


def _styled(plot_kind: Callable[[pd.DataFrame], Plot | str]) -> Callable[[pd.DataFrame], Plot | str]:
    @functools.wraps(plot_kind)
    def draw(frame: pd.DataFrame) -> Plot | str:
        with mpl.rc_context(_rc()):
            plot = plot_kind(frame if frame.index.is_unique else frame.reset_index(drop=True))
            if isinstance(plot, Plot):
                # Lay out once and keep it: constrained layout starts from the last state, so a
                # second save (PNG, then PDF, then again) would otherwise move axes by 1e-6.
                plot.figure.get_layout_engine().execute(plot.figure)
                plot.figure.set_layout_engine("none")
            return plot

    return draw


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


def _runner_key(frame: pd.DataFrame) -> pd.Series:
    parts = [column(frame, k).fillna("").astype(str) for k in _RUNNER_KEYS]
    return parts[0] + "|" + parts[1] + "|" + parts[2]


class _Runners:
    """Label, colour and marker of each runner (name, precision, device): the same in every plot."""

    def __init__(self, frame: pd.DataFrame):
        records = ok(_slim(frame))
        combos = pd.DataFrame({k: column(records, k) for k in _RUNNER_KEYS}).drop_duplicates()
        combos = [
            tuple(None if pd.isna(v) else str(v) for v in row) for row in combos.itertuples(index=False)
        ]
        base = {c: c[0] if c[1] in (None, "f32") else f"{c[0]} {c[1]}" for c in combos}
        devices = {label: {c[2] for c in combos if base[c] == label} for label in base.values()}
        self.label = {}
        for combo, label in base.items():
            if len(devices[label]) > 1 and combo[2]:  # one runner on two devices: say which is which
                label = f"{label} @ {device_short(combo[2])}"
            self.label["|".join(v or "" for v in combo)] = label
        labels = sorted(set(self.label.values()))
        colours = sns.color_palette("colorblind")
        self.colour = {lab: colours[i % len(colours)] for i, lab in enumerate(labels)}
        self.marker = {lab: _MARKERS[i % len(_MARKERS)] for i, lab in enumerate(labels)}

    def labels(self, frame: pd.DataFrame) -> pd.Series:
        """The label of each record's runner."""
        return _runner_key(frame).map(self.label)

    def style(self, label: str, rank: int = 0, count: int = 1) -> dict:
        """Line keywords; of ``count`` curves that may coincide the first is the widest: all stay visible."""
        wider = (count - 1 - rank) / max(count - 1, 1)
        size = dict(lw=2.0 + 2.0 * wider, markersize=5.5 + 3.5 * wider)
        return dict(color=self.colour[label], marker=self.marker[label], label=label, **size)

    def handles(self, labels: Iterable[str]) -> list[Line2D]:
        """Legend entries for lines."""
        return [
            Line2D([], [], color=self.colour[lab], marker=self.marker[lab], markersize=8, lw=2, label=lab)
            for lab in sorted(set(labels))
        ]

    def patches(self, labels: Iterable[str]) -> list[Patch]:
        """Legend entries for bars."""
        return [Patch(facecolor=self.colour[lab], edgecolor="0.15", label=lab) for lab in sorted(set(labels))]


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _ignored(frame: pd.DataFrame) -> int:
    return int((column(frame, "status") != "ok").sum())


def _reason(text: str, frame: pd.DataFrame) -> str:
    n = _ignored(frame)
    return f"{text} ({_plural(n, 'skipped or failed record')} ignored)" if n else text


def _left_out(frame: pd.DataFrame, speed: bool = False, extra: tuple[str, ...] = ()) -> str:
    """Caption sentence: which records were not drawn and why."""
    parts = list(extra)
    if speed:
        n_emulated = len(emulated(_slim(frame)))
        if n_emulated:
            parts.append(
                f"{_plural(n_emulated, 'emulated record')} (C- or RTL-simulation speed: the emulator's)"
            )
        n_firmware = int((column(ok(_slim(frame)), "scenario.name") == FIRMWARE_SCENARIO).sum())
        if n_firmware:
            parts.append(f"{_plural(n_firmware, 'firmware report')} (no measured speed)")
    if n := _ignored(frame):
        parts.append(_plural(n, "skipped or failed record"))
    return f" Left out: {'; '.join(parts)}." if parts else ""


def _pick(names: pd.Series, limit: int = MAX_FACETS) -> tuple[list[str], str]:
    """The workloads with the most records first, at most ``limit``, and a caption note on the rest."""
    counts = names.dropna().astype(str).value_counts()
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    shown = [name for name, _ in ordered[:limit]]
    hidden = [name for name, _ in ordered[limit:]]
    if not hidden:
        return shown, ""
    listed = ", ".join(hidden[:5]) + (", ..." if len(hidden) > 5 else "")
    return shown, f" {_plural(len(hidden), 'workload')} with fewer records not shown ({listed})."


def _n_samples(n_samples: pd.Series) -> str:
    n = pd.to_numeric(n_samples, errors="coerce").dropna().astype(int)
    if n.empty:
        return "n unknown"
    return f"n = {n.min()} events" if n.min() == n.max() else f"n = {n.min()}-{n.max()} events"


# --- drawing ----------------------------------------------------------------------------------


def _figure(title: str, n_panels: int, ncols: int | None = None) -> tuple[Figure, list[Axes]]:
    if n_panels == 1:
        nrows, ncols, size = 1, 1, (8.0, 4.5)
    else:
        ncols = ncols or (2 if n_panels <= 4 else 3)
        nrows = math.ceil(n_panels / ncols)
        size = (5.2 * ncols, 3.8 * nrows + 1.2)  # one facet per 5.2 x 3.8 in: 12 pt stays readable
    figure = Figure(figsize=size, layout="constrained")
    axes = figure.subplots(nrows, ncols, squeeze=False).ravel().tolist()
    for ax in axes[n_panels:]:
        figure.delaxes(ax)
    figure.suptitle(title)
    return figure, axes[:n_panels]


def _legend(figure: Figure, handles: list) -> None:
    # As many columns as fit the figure's width: about 6.5 pt per character at 12 pt, plus the handle.
    widest_pt = max(6.5 * len(h.get_label()) + 45 for h in handles)
    ncols = max(1, min(len(handles), int(0.97 * 72 * figure.get_figwidth() // widest_pt)))
    figure.legend(handles=handles, loc="outside lower center", ncols=ncols, frameon=False)


def _finish(ax: Axes, title: str, xlabel: str, ylabel: str) -> None:
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    # Explicit, so that ticks made at save time outside the style context keep the size.
    ax.tick_params(which="both", labelsize=12)


def _log_axis(ax: Axes, which: str, values: Iterable[float], label: Callable[[float], str]) -> None:
    """Log scale over whole decades around ``values`` (so major ticks exist), ticks named by ``label``."""
    v = np.asarray([x for x in values if x > 0 and math.isfinite(x)], dtype=float)
    lo = 10.0 ** math.floor(math.log10(v.min() / 1.5)) if v.size else 1e-1
    hi = 10.0 ** math.ceil(math.log10(v.max() * 1.5)) if v.size else 1e1
    axis = ax.yaxis if which == "y" else ax.xaxis
    (ax.set_yscale if which == "y" else ax.set_xscale)("log")
    (ax.set_ylim if which == "y" else ax.set_xlim)(lo, hi)
    axis.set_major_locator(LogLocator(base=10, numticks=6))
    axis.set_major_formatter(FuncFormatter(lambda x, _: label(x)))
    axis.set_minor_locator(LogLocator(base=10, subs=(2.0, 5.0)))  # fewer ticks to lay out than 2..9
    axis.set_minor_formatter(NullFormatter())


def _count(value: float) -> str:
    return fmt.rate(value, "")


# --- the plot kinds ---------------------------------------------------------------------------


def _speed_table(frame: pd.DataFrame, runners: _Runners, **fields: str) -> pd.DataFrame:
    """One row per configuration measured on a device (the latest record): who, what, and ``fields``."""
    reduced = _rows(frame, latest(measured_speed(_slim(frame))))
    table = pd.DataFrame(
        {
            "workload": column(reduced, "workload.name"),
            "label": runners.labels(reduced),
            "scenario": column(reduced, "scenario.name").fillna("?"),
            "batch": pd.to_numeric(column(reduced, "runner.batch_size"), errors="coerce"),
            "source": column(reduced, "power.source").fillna("unavailable"),
        }
    )
    for name, field in fields.items():
        table[name] = pd.to_numeric(column(reduced, field), errors="coerce")
    return table.dropna(subset=["workload", "label", "batch"])


def _one_scenario(data: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Per workload, single-stream if measured (a query's latency without queueing), else one scenario."""
    if data.empty:
        return data, ""
    pick = data.groupby("workload")["scenario"].agg(
        lambda s: "single-stream" if "single-stream" in set(s) else min(s)
    )
    others = [f"{w} ({s})" for w, s in pick.items() if s != "single-stream"]
    note = f" Scenario single-stream except {', '.join(others)}." if others else " Scenario: single-stream."
    return data[data["scenario"] == data["workload"].map(pick)], note


@_styled
def throughput_vs_batch(frame: pd.DataFrame) -> Plot | str:
    """Throughput (events/s, log) versus batch size (log2), one line per runner, one facet per workload.

    Args:
        frame: The records (``triggerbench.results.load``).

    Returns:
        The plot, or why the records do not allow it.
    """
    need = "throughput versus batch size: needs ok records of one runner at two or more batch sizes, "
    need += "measured on a device (not emulated)"
    runners = _Runners(frame)
    data = _speed_table(frame, runners, value="performance.throughput_samples_per_s")
    data = data[data["value"] > 0]
    if data.empty or data.groupby(["workload", "label", "scenario"])["batch"].nunique().max() < 2:
        return _reason(need, frame)
    shown, hidden_note = _pick(column(measured_speed(_slim(frame)), "workload.name"))
    shown = [w for w in shown if w in set(data["workload"])]
    scenarios = sorted(data["scenario"].unique())
    styles = {s: _LINESTYLES[i % len(_LINESTYLES)] for i, s in enumerate(scenarios)}
    title = "Throughput versus batch size"
    figure, axes = _figure(title, len(shown))
    for ax, workload in zip(axes, shown, strict=True):
        facet = data[data["workload"] == workload]
        for (label, scenario), line in facet.groupby(["label", "scenario"], sort=True):
            line = line.sort_values("batch")
            style = dict(
                color=runners.colour[label], marker=runners.marker[label], linestyle=styles[scenario]
            )
            name = label if len(scenarios) == 1 else f"{label} ({scenario})"
            ax.plot(line["batch"], line["value"], lw=2, markersize=8, label=name, **style)
        ax.set_xscale("log", base=2)
        ax.set_xlim(facet["batch"].min() / 1.5, facet["batch"].max() * 1.5)
        ax.xaxis.set_major_locator(LogLocator(base=2, numticks=7))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))
        ax.xaxis.set_minor_locator(NullLocator())
        _log_axis(ax, "y", facet["value"], _count)
        _finish(ax, workload, "batch size (samples/query)", "throughput (events/s)")
    handles = runners.handles(data[data["workload"].isin(shown)]["label"])
    if len(scenarios) > 1:
        handles += [Line2D([], [], color="0.3", linestyle=styles[s], lw=2, label=s) for s in scenarios]
    _legend(figure, handles)
    caption = (
        f"Throughput (samples/s; a sample is one event) versus batch size, one line per runner, from the "
        f"latest ok record of each of {len(data)} configurations measured on the device. Scenarios: "
        f"{', '.join(scenarios)}." + _left_out(frame, speed=True) + hidden_note
    )
    return Plot("throughput-vs-batch", title, caption, figure)


@_styled
def latency_percentiles(frame: pd.DataFrame) -> Plot | str:
    """Latency p50 / p99 / p99.9 per runner at batch 1 (else the smallest batch), one facet per workload.

    Args:
        frame: The records (``triggerbench.results.load``).

    Returns:
        The plot, or why the records do not allow it.
    """
    need = (
        "latency percentiles: needs ok records with latency percentiles measured on a device (not emulated)"
    )
    runners = _Runners(frame)
    wide = _speed_table(frame, runners, **{name: f"performance.{field}" for name, field in _PERCENTILES})
    names = [name for name, _ in _PERCENTILES]
    data = wide.melt(["workload", "label", "scenario", "batch"], names, "percentile", "latency_s")
    data, scenario_note = _one_scenario(data[data["latency_s"] > 0])
    if data.empty:
        return _reason(need, frame)
    batch = data.groupby("workload")["batch"].min()  # 1 where any runner ran batch 1
    data = data[data["batch"] == data["workload"].map(batch)]
    shown, hidden_note = _pick(column(measured_speed(_slim(frame)), "workload.name"))
    shown = [w for w in shown if w in batch.index]
    title = "Latency percentiles per query"
    figure, axes = _figure(title, len(shown))
    for ax, workload in zip(axes, shown, strict=True):
        facet = data[data["workload"] == workload]
        hue_order = sorted(facet["label"].unique())
        sns.barplot(
            facet, x="percentile", y="latency_s", hue="label", order=names, hue_order=hue_order,
            palette=runners.colour, errorbar=None, saturation=1.0, legend=False, ax=ax,
            edgecolor="0.15", linewidth=1.0,
        )  # fmt: skip
        _log_axis(ax, "y", facet["latency_s"], fmt.seconds)
        b = int(batch[workload])
        _finish(ax, workload if b == 1 else f"{workload} (batch {b})", "percentile", "latency per query (s)")
    _legend(figure, runners.patches(data[data["workload"].isin(shown)]["label"]))
    not_one = [f"{w} (batch {int(batch[w])})" for w in shown if batch[w] != 1]
    caption = (
        f"Latency per query (one batch) at batch 1: {len(data)} percentiles from the latest ok record of "
        f"each configuration measured on the device; a bar is missing where a run had too few queries for "
        f"that percentile." + scenario_note
        + (f" No batch-1 record, smallest batch shown: {', '.join(not_one)}." if not_one else "")
        + _left_out(frame, speed=True)
        + hidden_note
    )  # fmt: skip
    return Plot("latency-percentiles", title, caption, figure)


def _energy_bars(ax: Axes, facet: pd.DataFrame, runners: _Runners) -> None:
    """Bars grouped by batch size, one per runner, nominal figures hatched, each labelled by its source."""
    batches = sorted(facet["batch"].unique())
    labels = sorted(facet["label"].unique())
    width = 0.8 / len(labels)
    for row in facet.itertuples(index=False):
        x = batches.index(row.batch) + (labels.index(row.label) - (len(labels) - 1) / 2) * width
        nominal = row.source == "nominal-tdp"
        ax.bar(
            x, row.energy_j, width=width * 0.9, color=runners.colour[row.label],
            alpha=0.45 if nominal else 1.0, hatch="///" if nominal else None, edgecolor="0.15", linewidth=1.0,
        )  # fmt: skip
        ax.annotate(
            _POWER_SHORT.get(row.source, row.source), (x, row.energy_j), xytext=(0, 3),
            textcoords="offset points", ha="center", va="bottom", rotation=90, fontsize=12,
        )  # fmt: skip
    ax.set_xticks(range(len(batches)), [f"{int(b)}" for b in batches])
    ax.set_xlim(-0.6, len(batches) - 0.4)
    ax.grid(False, axis="x")
    # Room above the highest bar for its label: two decades more.
    _log_axis(ax, "y", [*facet["energy_j"], facet["energy_j"].max() * 100], lambda v: fmt.si(v, "J"))


@_styled
def energy_per_inference(frame: pd.DataFrame) -> Plot | str:
    """Energy per inference (J, log) per runner at its smallest and largest batch, one facet per workload.

    Nominal figures (TDP x time) are hatched and labelled "nominal"; records whose power source is
    unavailable are left out and counted in the caption.

    Args:
        frame: The records (``triggerbench.results.load``).

    Returns:
        The plot, or why the records do not allow it.
    """
    runners = _Runners(frame)
    data = _speed_table(frame, runners, energy_j="power.energy_per_inference_j")
    if data.empty:
        return _reason(
            "energy per inference: needs ok records measured on a device with a power figure", frame
        )
    has_energy = (data["source"] != "unavailable") & (data["energy_j"] > 0)
    without = _plural(int((~has_energy).sum()), "configuration")
    without += " without energy figure (power source unavailable)"
    data, scenario_note = _one_scenario(data[has_energy])
    if data.empty:
        return "energy per inference: no record has a power figure (every power source is unavailable)"
    # The two ends of each runner's batch range: the latency-bound and the throughput-bound cost.
    ends = data.groupby(["workload", "label"])["batch"]
    data = data[(data["batch"] == ends.transform("min")) | (data["batch"] == ends.transform("max"))]
    shown, hidden_note = _pick(column(measured_speed(_slim(frame)), "workload.name"))
    shown = [w for w in shown if w in set(data["workload"])]
    title = "Energy per inference"
    figure, axes = _figure(title, len(shown))
    for ax, workload in zip(axes, shown, strict=True):
        _energy_bars(ax, data[data["workload"] == workload], runners)
        _finish(ax, workload, "batch size (samples/query)", "energy per inference (J)")
    sources = [
        Patch(facecolor="0.6", edgecolor="0.15", label="measured (RAPL / NVML / XRT meter)"),
        Patch(facecolor="0.85", edgecolor="0.15", hatch="///", label="nominal: TDP x time, not measured"),
    ]
    _legend(figure, runners.patches(data[data["workload"].isin(shown)]["label"]) + sources)
    counts = data["source"].value_counts().sort_index()
    caption = (
        f"Energy per inference (mean power x time / samples) at each runner's smallest and largest batch: "
        f"{len(data)} figures from the latest ok record of each configuration measured on the device. Power "
        f"sources: {', '.join(f'{s} {n}' for s, n in counts.items())}; nominal figures (TDP, not a "
        f"measurement) are hatched." + scenario_note
        + _left_out(frame, True, (without,) if (~has_energy).any() else ())
        + hidden_note
    )  # fmt: skip
    return Plot("energy-per-inference", title, caption, figure)


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


PLOT_KINDS = (
    throughput_vs_batch,
    latency_percentiles,
    energy_per_inference,
    pareto,
    turnon_curves,
    lr_resolution,
)


def all_plots(frame: pd.DataFrame, workload: str | None = None) -> tuple[list[Plot], list[str]]:
    """Every plot the records allow (restricted to one workload if given).

    Args:
        frame: The records (``triggerbench.results.load``).
        workload: Only this ``workload.name``; None for all.

    Returns:
        The plots, and one line per plot kind not drawn saying which records it needs.
    """
    if workload is not None:
        frame = frame[column(frame, "workload.name") == workload]
    plots, reasons = [], []
    for kind in PLOT_KINDS:
        result = kind(frame)
        if isinstance(result, Plot):
            plots.append(result)
        else:
            reasons.append(result)
    return plots, reasons


def save(plot: Plot, folder: Path) -> dict[str, Path]:
    """Write ``folder/<name>.png`` (150 dpi) and ``.pdf``, byte-identical for the same records.

    Args:
        plot: What to write.
        folder: Where; created if needed.

    Returns:
        ``{"png": path, "pdf": path}``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"png": folder / f"{plot.name}.png", "pdf": folder / f"{plot.name}.pdf"}
    # No software version or date in the files: the same records give the same bytes.
    with mpl.rc_context(_rc()):
        plot.figure.savefig(paths["png"], dpi=PNG_DPI, metadata={"Software": None})
        plot.figure.savefig(
            paths["pdf"], metadata={"CreationDate": None, "ModDate": None, "Producer": None, "Creator": None}
        )
    return paths
