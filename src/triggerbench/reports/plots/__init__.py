"""Figures of the records for slides: one figure per plot kind, one facet per workload.

Every plot kind is a function of the records' DataFrame that returns a ``Plot`` or, when the
records do not allow it, one line saying which records it needs. Figures are
``matplotlib.figure.Figure`` objects (no pyplot, no global state); the style (seaborn's
"whitegrid" and "colorblind" palette, fonts of 12 pt and more at the saved size) is applied in
an ``rc_context`` around drawing and saving. Speeds are the device's only (``measured_speed``):
C-simulation or RTL-simulation timing is the emulator's. Missing figures are dropped, never
drawn as 0, and each caption says how many records were left out and why.

The kinds live in ``speed`` (throughput, latency, energy) and ``physics`` (Pareto fronts, turn-on
curves, L_r resolution); what they share (``Plot``, the style, facets, captions, ``save``) in ``common``.
Profile records (scenario ``profile``) are never points of these: ``profile`` draws them, one figure
per workload and kind (layer shares per backend, numerical ranges).
"""

from __future__ import annotations

import multiprocessing
import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from triggerbench.reports.frame import column, profiles, without_profiles
from triggerbench.reports.plots.common import MAX_FACETS, PNG_DPI, Plot, save
from triggerbench.reports.plots.physics import lr_resolution, pareto, turnon_curves
from triggerbench.reports.plots.profile import PROFILE_KINDS, layer_bars, numerical_ranges
from triggerbench.reports.plots.speed import energy_per_inference, latency_percentiles, throughput_vs_batch

__all__ = [
    "MAX_FACETS",
    "PLOT_KINDS",
    "PNG_DPI",
    "PROFILE_KINDS",
    "Plot",
    "SavedPlot",
    "all_plots",
    "draw_and_save",
    "energy_per_inference",
    "latency_percentiles",
    "layer_bars",
    "lr_resolution",
    "numerical_ranges",
    "pareto",
    "save",
    "throughput_vs_batch",
    "turnon_curves",
]

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
    frame = without_profiles(frame)
    plots, reasons = [], []
    for kind in PLOT_KINDS:
        result = kind(frame)
        if isinstance(result, Plot):
            plots.append(result)
        else:
            reasons.append(result)
    return plots, reasons


@dataclass(frozen=True)
class SavedPlot:
    """A plot written to disk: what a report needs to show it."""

    name: str
    title: str
    caption: str
    paths: dict[str, Path]
    #: A per-layer profile's figure (the report's profile section), not a performance plot.
    profile: bool = False


def _draw_one(job: tuple[bool, int, pd.DataFrame, Path]) -> SavedPlot | str | None:
    is_profile, index, frame, folder = job
    result = (PROFILE_KINDS if is_profile else PLOT_KINDS)[index](frame)
    if not isinstance(result, Plot):
        return result
    return SavedPlot(result.name, result.title, result.caption, save(result, folder), is_profile)


def _jobs(frame: pd.DataFrame, folder: Path) -> list[tuple[bool, int, pd.DataFrame, Path]]:
    """Every performance kind over the other records (if any); every profile kind per workload profiled."""
    others = without_profiles(frame)
    jobs = [(False, i, others, folder) for i in range(len(PLOT_KINDS)) if not others.empty]
    profiled = profiles(frame)
    for name in sorted(set(column(profiled, "workload.name").dropna().astype(str))):
        mine = profiled[column(profiled, "workload.name") == name]
        jobs += [(True, i, mine, folder) for i in range(len(PROFILE_KINDS))]
    return jobs


def draw_and_save(
    frame: pd.DataFrame, folder: Path, workload: str | None = None, processes: int | None = None
) -> tuple[list[SavedPlot], list[str]]:
    """Draw every plot kind and save it (PNG and PDF), one kind per process where the host allows.

    Drawing and saving cost seconds per figure (layout, text, font subsetting), whatever the number
    of records; forked workers share them out over the host's cores. The files are the same as
    drawn in one process.

    Returns:
        The saved plots in ``PLOT_KINDS`` order, then the profile figures (``SavedPlot.profile``)
        per workload in ``PROFILE_KINDS`` order, and one line per performance kind not drawn (why).
    """
    if workload is not None:
        frame = frame[column(frame, "workload.name") == workload]
    jobs = _jobs(frame, Path(folder))
    processes = processes or min(len(jobs), os.cpu_count() or 1)
    if processes > 1 and "fork" in multiprocessing.get_all_start_methods():
        with multiprocessing.get_context("fork").Pool(processes) as pool:
            results = pool.map(_draw_one, jobs, chunksize=1)
    else:
        results = [_draw_one(job) for job in jobs]
    saved = [r for r in results if isinstance(r, SavedPlot)]
    return saved, [r for r in results if isinstance(r, str)]
