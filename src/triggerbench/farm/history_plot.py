"""The trend plot of one nightly series: its nights, its levels between change points, its regressions.

Drawn as the report plots are (a ``matplotlib.figure.Figure``, no pyplot; saved as PNG and PDF by
``triggerbench.reports.plots.save``), so it can go on the same slides.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import matplotlib as mpl
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure as MplFigure
from matplotlib.ticker import FuncFormatter

from triggerbench.farm.history import History
from triggerbench.farm.regressions import MIN_NIGHTS, Regression, change_points
from triggerbench.reports import format as fmt
from triggerbench.reports.plots import Plot
from triggerbench.reports.plots.common import slide_style
from triggerbench.results.compare import key_label
from triggerbench.results.compare_figures import Figure
from triggerbench.results.select import KEY_COLUMNS

#: Longest plot file stem: the series label is cut so that ``<stem>.png`` fits any file system.
_MAX_STEM = 150


def series_label(key: tuple) -> str:
    """``standin-cnn onnxruntime (cpu, f32) single-stream b1`` plus the device model if known."""
    label, model = key_label(key[: len(KEY_COLUMNS)]), key[len(KEY_COLUMNS)]
    return f"{label} [{model}]" if model else label


def display(value: float, figure: Figure) -> str:
    """A figure's value in its unit with an SI prefix (``812 k/s``, ``2.10 ms``)."""
    if figure.unit == "s":
        return fmt.seconds(value)
    if figure.unit in ("/s", "Hz"):
        return fmt.rate(value, figure.unit)
    return fmt.si(value, figure.unit) if figure.unit else fmt.number(value)


def plot_name(figure: Figure, key: tuple) -> str:
    """A file stem unique per (figure, series): ``trend_throughput_standin-cnn_onnxruntime_...``."""
    stem = re.sub(r"[^A-Za-z0-9.+-]+", "_", f"trend {figure.name} {series_label(key)}").strip("_")
    return stem[:_MAX_STEM]


def trend_plot(
    history: History,
    figure: Figure,
    key: tuple,
    series: pd.DataFrame,
    regressions: Sequence[Regression] = (),
    min_nights: int = MIN_NIGHTS,
) -> Plot:
    """One series over the nights: values, segment medians (the levels) and each regression's night.

    Args:
        history: The nights (for their times and commits).
        figure: The figure plotted.
        key: The series' ``SERIES_KEYS`` values.
        series: Its rows of ``History.nightly`` (``night_index``, ``value``), in night order.
        regressions: This series' regressions, marked at their night with commit and change.
        min_nights: As for ``change_points`` (the levels drawn are the detector's).
    """
    values = series["value"].to_numpy(dtype=float)
    times = np.array([history.nights[i].time_utc.tz_convert(None) for i in series["night_index"]])
    bounds = [0, *change_points(values, min_nights), len(values)]
    with mpl.rc_context(slide_style()):
        mpl_figure = MplFigure(figsize=(9, 4.5), layout="constrained")
        ax = mpl_figure.subplots()
        palette = sns.color_palette("colorblind")
        ax.plot(times, values, "o-", color=palette[0], ms=3.5, lw=1, label="night (median of its runs)")
        for start, end in zip(bounds, bounds[1:], strict=False):
            level = float(np.median(values[start:end]))
            ax.plot(times[[start, end - 1]], [level, level], color=palette[1], lw=2.5)
        ax.plot([], [], color=palette[1], lw=2.5, label="level between change points")
        for r in regressions:
            ax.axvline(r.night.time_utc.tz_convert(None), color=palette[3], ls="--", lw=1.2)
            note = f"{(r.night.commit or '?')[:8]} {r.change_frac * 100:+.1f} %"
            ax.annotate(note, (r.night.time_utc.tz_convert(None), r.after), xytext=(4, 6),
                        textcoords="offset points", color=palette[3], fontsize=11)  # fmt: skip
        locator = AutoDateLocator()
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: display(v, figure)))
        better = "higher" if figure.better == "higher" else "lower"
        ax.set_ylabel(f"{figure.name.replace('_', ' ')} ({better} is better)")
        ax.set_title(series_label(key))
        ax.legend(loc="best", frameon=False)
        mpl_figure.get_layout_engine().execute(mpl_figure)
        mpl_figure.set_layout_engine("none")  # saved twice (PNG, PDF): keep one layout
    caption = (
        f"{figure.name} of {series_label(key)} over {len(values)} night(s); "
        f"{len(regressions)} regression(s) marked with their commit."
    )
    return Plot(plot_name(figure, key), f"{figure.name}: {series_label(key)}", caption, mpl_figure)
