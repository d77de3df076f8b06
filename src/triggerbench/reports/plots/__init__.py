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
"""

from __future__ import annotations

import pandas as pd

from triggerbench.reports.frame import column
from triggerbench.reports.plots.common import MAX_FACETS, PNG_DPI, Plot, save
from triggerbench.reports.plots.physics import lr_resolution, pareto, turnon_curves
from triggerbench.reports.plots.speed import energy_per_inference, latency_percentiles, throughput_vs_batch

__all__ = [
    "MAX_FACETS",
    "PLOT_KINDS",
    "PNG_DPI",
    "Plot",
    "all_plots",
    "energy_per_inference",
    "latency_percentiles",
    "lr_resolution",
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
    plots, reasons = [], []
    for kind in PLOT_KINDS:
        result = kind(frame)
        if isinstance(result, Plot):
            plots.append(result)
        else:
            reasons.append(result)
    return plots, reasons
