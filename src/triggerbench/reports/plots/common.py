"""What the plot kinds share: the ``Plot``, the style, runner colours and markers, facets, captions, saving.

The style (seaborn's "whitegrid" and "colorblind" palette, fonts of 12 pt and more at the saved
size) is applied in an ``rc_context`` around drawing (``_styled``) and saving (``save``); figures are
``matplotlib.figure.Figure`` objects, no pyplot and no global state.
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
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from triggerbench.reports import format as fmt
from triggerbench.reports.frame import CONFIG_KEYS, FIRMWARE_SCENARIO, column, device_short, emulated, ok

#: At most this many facets per figure; the workloads with the most records are kept.
MAX_FACETS = 12
PNG_DPI = 120  # 1,000-1,900 px wide: sharp on a projector, a third cheaper to render than 150
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")
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


def slide_style() -> dict:
    """Matplotlib settings of every triggerbench plot: sizes for slides, colour-blind palette."""
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
            # Type 3 fonts: half the time of embedding TrueType subsets (42); LaTeX and beamer take
            # either, only editing the text of the PDF in a drawing program needs 42.
            "pdf.fonttype": 3,
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
        with mpl.rc_context(slide_style()):
            plot = plot_kind(frame if frame.index.is_unique else frame.reset_index(drop=True))
            if isinstance(plot, Plot):
                # Lay out once and keep it: constrained layout starts from the last state, so a
                # second save (PNG, then PDF, then again) would otherwise move axes by 1e-6.
                plot.figure.get_layout_engine().execute(plot.figure)
                plot.figure.set_layout_engine("none")
            return plot

    return draw


# --- reading the frame ------------------------------------------------------------------------


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


# --- saving -----------------------------------------------------------------------------------


def save(plot: Plot, folder: Path) -> dict[str, Path]:
    """Write ``folder/<name>.png`` (``PNG_DPI``) and ``.pdf``, byte-identical for the same records.

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
    with mpl.rc_context(slide_style()):
        plot.figure.savefig(paths["png"], dpi=PNG_DPI, metadata={"Software": None})
        plot.figure.savefig(
            paths["pdf"], metadata={"CreationDate": None, "ModDate": None, "Producer": None, "Creator": None}
        )
    return paths
