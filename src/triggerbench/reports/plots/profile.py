"""Profile plot kinds, one figure per workload: layer shares stacked per backend, numerical ranges.

``layer_bars``: one horizontal bar per backend stacked by the source model's layers in order, each
layer the same colour in every bar; a panel of shares (every backend, time or cycles), then one
of time per call in µs and one of clock cycles where backends have them. ``numerical_ranges``:
hls4ml's convention (``hls4ml.model.profiling``: |x| on a log2 axis, the chosen type's range as a
grey band from its LSB to its largest value), drawn from the min and max a record keeps (hls4ml's
helpers need the raw values and pyplot's global figure). Each kind takes one workload's profile
records and returns None when they hold nothing of its kind.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import FuncFormatter, PercentFormatter

from triggerbench.reports.frame import column, not_ok
from triggerbench.reports.plots.common import Plot, _figure, _finish, _legend, _plural, _styled
from triggerbench.reports.profile import busy_layers, labelled, layer_rows, numerical_rows, source_order
from triggerbench.reports.table import slug

#: Segments at least this part of the axis (the longest bar) carry the layer's name.
LABEL_SHARE = 0.10
#: With more layers than this, those under ``MINOR_SHARE`` in every bar are drawn as one grey "other".
MAX_LEGEND_LAYERS = 16
MINOR_SHARE = 0.02
OTHER = "other layers"
_TENSOR_COLOURS = dict(zip(("weight", "bias", "activation"), sns.color_palette("colorblind", 3), strict=True))
_OVERFLOW = "#d62728"


def _workload(frame: pd.DataFrame) -> str:
    return str(column(frame, "workload.name").dropna().iloc[0])


def _skipped(frame: pd.DataFrame) -> str:
    n = len(not_ok(frame))
    return f" Left out: {_plural(n, 'backend')} without a profile (listed under the table)." if n else ""


def _colours(rows: pd.DataFrame) -> tuple[dict[str, tuple], pd.DataFrame]:
    """A colour per layer in model order (grey for the minor ones merged), and the rows merged."""
    layers = list(dict.fromkeys(rows.sort_values("order", kind="stable")["layer"]))
    if len(layers) > MAX_LEGEND_LAYERS:
        largest = rows.groupby("layer")["share"].max().fillna(0.0)
        minor = set(largest[largest < MINOR_SHARE].index)
        rows = rows.assign(layer=rows["layer"].where(~rows["layer"].isin(minor), OTHER))
        layers = [name for name in layers if name not in minor] + ([OTHER] if minor else [])
    palette = sns.color_palette("colorblind" if len(layers) <= 10 else "husl", len(layers))
    colours = {name: palette[i] for i, name in enumerate(layers)}
    if OTHER in colours:
        colours[OTHER] = (0.75, 0.75, 0.75)
    return colours, rows


def _text_colour(rgb: tuple) -> str:
    return "black" if 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2] > 0.5 else "white"


def _stack(
    ax: Axes, rows: pd.DataFrame, backends: list[str], field: str, scale: float, colours: dict
) -> None:
    """One bar per backend (top to bottom), its rows stacked left to right in layer order."""
    rows = rows[rows["backend"].isin(backends) & rows[field].notna()]
    axis_total = float(rows.groupby("backend")[field].sum().max()) * scale  # the longest bar
    for y, backend in enumerate(backends):
        mine = rows[rows["backend"] == backend].sort_values("order", kind="stable")
        left = 0.0
        for _, row in mine.iterrows():
            width = float(row[field]) * scale
            colour = colours[row["layer"]]
            ax.barh(
                y,
                width,
                left=left,
                height=0.7,
                color=colour,
                edgecolor="white",
                linewidth=0.6,
                hatch="//" if not row["mapped"] else None,
            )
            if axis_total and width / axis_total >= LABEL_SHARE and row["layer"] != OTHER:
                name = str(row["layer"])
                name = name if len(name) <= 14 else name[:13] + "…"
                ax.text(
                    left + width / 2,
                    y,
                    name,
                    ha="center",
                    va="center",
                    fontsize=10,
                    color=_text_colour(colour),
                    clip_on=True,
                )
            left += width
    ax.set_yticks(range(len(backends)), backends)
    ax.set_ylim(len(backends) - 0.5, -0.5)
    ax.grid(axis="y", visible=False)


@_styled
def layer_bars(frame: pd.DataFrame) -> Plot | None:
    """Each backend's call split into the source model's layers (one workload's profile records)."""
    rows = busy_layers(layer_rows(frame))[0]
    if rows.empty:
        return None
    name = _workload(frame)
    backends = list(dict.fromkeys(rows["backend"]))
    colours, rows = _colours(rows)
    panels = [("share", 1.0, backends, "share of the summed rows", "all backends")]
    timed = [b for b in backends if (rows.loc[rows["backend"] == b, "unit"] == "s").all()]
    clocked = [b for b in backends if b not in timed]
    if timed:
        panels.append(("time_s", 1e6, timed, "time per call (µs)", "profiler on"))
    if clocked:
        panels.append(("cycles", 1.0, clocked, "clock cycles", "firmware"))
    heights = [0.55 * len(p[2]) + 1.0 for p in panels]
    legend_in = 0.3 * math.ceil(len(colours) / 4)
    figure = Figure(figsize=(10.0, sum(heights) + 1.8 + legend_in), layout="constrained")
    figure.suptitle(f"Per-layer profile: {name}")
    axes = figure.subplots(len(panels), 1, squeeze=False, height_ratios=heights).ravel()
    for ax, (field, scale, shown, label, what) in zip(axes, panels, strict=True):
        _stack(ax, rows, shown, field, scale, colours)
        _finish(ax, what, label, "")
        if field == "share":
            ax.set_xlim(0, 1)
            ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    handles = [Patch(facecolor=c, edgecolor="0.3", label=layer) for layer, c in colours.items()]
    if not rows["mapped"].all():
        handles.append(Patch(facecolor="white", edgecolor="0.3", hatch="//", label="backend's own node"))
    _legend(figure, handles)
    caption = (
        "One bar per backend, stacked by the source model's layers in order (a layer has the same "
        f"colour in every bar); layers of {LABEL_SHARE:.0%} of the axis or more are named. Top: each "
        "layer's share of the backend's summed rows; below: time per call with the profiler on (µs) "
        "and firmware clock cycles. A fused layer is counted on the first layer of its fusion; hatched "
        f"rows are backend nodes with no source layer.{_skipped(frame)}"
    )
    return Plot(f"profile-{slug(name)}", f"Per-layer profile: {name}", caption, figure)


# --- numerical ranges -------------------------------------------------------------------------


def _band(row: pd.Series) -> tuple[float, float] | None:
    """The type's range of |x| as (LSB, largest value): hls4ml's (-F, I - S) in powers of two."""
    width, integer, signed = row.get("width_bits"), row.get("integer_bits"), row.get("signed")
    if width is not None and integer is not None:
        top = integer - (1 if signed in (True, None) else 0)
        return 2.0 ** -(width - integer), 2.0**top
    lo, hi = row.get("range_min"), row.get("range_max")
    if lo is None or hi is None:
        return None
    return None if max(abs(lo), abs(hi)) == 0 else (math.nan, max(abs(lo), abs(hi)))


def _magnitudes(row: pd.Series) -> tuple[float | None, float] | None:
    """(smallest, largest) |x| in [min, max]; smallest None when the range crosses zero."""
    lo, hi = row.get("min"), row.get("max")
    if lo is None or hi is None or max(abs(lo), abs(hi)) == 0:
        return None
    largest = max(abs(lo), abs(hi))
    return (min(abs(lo), abs(hi)) if lo * hi > 0 else None), largest


def _limits(rows: pd.DataFrame) -> tuple[float, float]:
    values = []
    for _, row in rows.iterrows():
        band, mags = _band(row), _magnitudes(row)
        values += [v for v in (band or ()) if v and not math.isnan(v)]
        values += [v for v in (mags or ()) if v]
    if not values:
        return 2.0**-8, 2.0**8
    return 2.0 ** (math.floor(math.log2(min(values))) - 1), 2.0 ** (math.ceil(math.log2(max(values))) + 1)


def _ranges(ax: Axes, rows: pd.DataFrame) -> None:
    left, right = _limits(rows)
    labels = []
    for y, (_, row) in enumerate(rows.iterrows()):
        band = _band(row)
        if band is not None:
            lsb = left if math.isnan(band[0]) else band[0]
            ax.add_patch(Rectangle((lsb, y - 0.4), band[1] - lsb, 0.8, color="grey", alpha=0.2, lw=0))
        overflows = row.get("verdict") == "overflows"
        mags = _magnitudes(row)
        if mags is not None:
            start = left if mags[0] is None else mags[0]  # crossing zero: |x| reaches down to 0
            colour = _OVERFLOW if overflows else _TENSOR_COLOURS[row["tensor"]]
            ax.add_patch(Rectangle((start, y - 0.25), mags[1] - start, 0.5, color=colour, alpha=0.85, lw=0))
            ax.plot(
                [mags[1]],
                [y],
                marker="|",
                markersize=14,
                mew=2.5,
                color="black" if not overflows else _OVERFLOW,
            )
        labels.append(f"{row['layer']}/{str(row['tensor'])[0]}")
    ax.axvline(1.0, color="gray", linestyle="--", linewidth=1, zorder=0)
    ax.set_xscale("log", base=2)
    ax.set_xlim(left, right)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"$2^{{{int(round(np.log2(x)))}}}$"))
    ax.set_yticks(range(len(rows)), labels)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    for tick, (_, row) in zip(ax.get_yticklabels(), rows.iterrows(), strict=True):
        if row.get("verdict") == "overflows":
            tick.set_color(_OVERFLOW)
            tick.set_fontweight("bold")
    ax.grid(axis="y", visible=False)


@_styled
def numerical_ranges(frame: pd.DataFrame) -> Plot | None:
    """|min| .. |max| of each layer's tensors against the chosen precision's range (one workload)."""
    backends = labelled(frame, "profile.numerical")
    if backends.empty:
        return None
    timed = labelled(frame)
    rows = numerical_rows(backends, source_order(timed) if not timed.empty else [])
    if rows.empty:
        return None
    rows = rows.sort_values(["backend", "_order", "_tensor"], kind="stable")  # model order, as hls4ml
    name = _workload(frame)
    shown = list(dict.fromkeys(rows["backend"]))
    figure, axes = _figure(f"Numerical profile: {name}", len(shown), ncols=min(len(shown), 3))
    figure.set_size_inches(figure.get_figwidth(), max(4.5, 0.38 * rows.groupby("backend").size().max() + 2.2))
    for ax, backend in zip(axes, shown, strict=True):
        _ranges(ax, rows[rows["backend"] == backend])
        _finish(ax, backend, "|x|", "")
    tensors = [t for t in _TENSOR_COLOURS if t in set(rows["tensor"])]
    handles = [Patch(color=_TENSOR_COLOURS[t], label=t) for t in tensors]
    handles += [
        Patch(color=_OVERFLOW, label="overflows"),
        Patch(color="grey", alpha=0.3, label="type's range"),
    ]
    _legend(figure, handles)
    n_over = int((rows["verdict"] == "overflows").sum())
    caption = (
        "Per layer (/w weights, /b biases, /a activations), the magnitudes |x| its values take, from "
        "the smaller of |min| and |max| (from the left edge where the values cross zero) to the "
        "largest (the bar's end), on a log2 axis, against the range of the fixed-point type chosen "
        f"(grey: from its LSB to its largest value), hls4ml's convention. {_plural(n_over, 'tensor')} "
        f"overflow{'s' if n_over == 1 else ''} (red).{_skipped(frame)}"
    )
    return Plot(f"numerical-{slug(name)}", f"Numerical profile: {name}", caption, figure)


PROFILE_KINDS = (layer_bars, numerical_ranges)
