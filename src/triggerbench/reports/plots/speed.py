"""Speed plot kinds: throughput versus batch size, latency percentiles, energy per inference.

Speeds are the device's only (``measured_speed``): C-simulation or RTL-simulation timing is the
emulator's. Of each configuration the latest ok record is drawn.
"""

from __future__ import annotations

import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

from triggerbench.reports import format as fmt
from triggerbench.reports.frame import column, latest, measured_speed
from triggerbench.reports.plots.common import (
    Plot,
    _count,
    _figure,
    _finish,
    _left_out,
    _legend,
    _log_axis,
    _pick,
    _plural,
    _reason,
    _rows,
    _Runners,
    _slim,
    _styled,
)

_PERCENTILES = (("p50", "latency_p50_s"), ("p99", "latency_p99_s"), ("p99.9", "latency_p999_s"))
_POWER_SHORT = {
    "measured-rapl": "RAPL",
    "measured-nvml": "NVML",
    "measured-xrt": "XRT",
    "nominal-tdp": "nominal",
}
_LINESTYLES = ("-", "--", ":", "-.")


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
