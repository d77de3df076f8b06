"""Regressions in nightly series: lasting steps found by change-point detection, not single nights.

The rule, per series (``SERIES_KEYS`` and one figure) in night order:

1. Work on log values, so noise and steps are relative (a 20 % step is the same at 10/s and 10M/s).
2. A median filter of width ``2 * min_nights - 1`` removes every excursion shorter than
   ``min_nights`` nights and keeps steps sharp; asv gets the same robustness from an L1 cost, but
   ruptures' L1 Pelt is pure Python (~5 s for a year-long series), its linear-kernel Pelt is C (<1 ms).
3. ``ruptures.KernelCPD(kernel="linear")`` (Pelt on the least-squares cost) segments the filtered
   series, each segment at least ``min_nights`` long, with the penalty
   ``PENALTY_FACTOR * sigma**2 * log(n)`` (a BIC-like penalty): ``sigma`` is the series' own
   night-to-night noise (MAD of successive differences, floored at ``MIN_NOISE_FRAC``), so a
   noisy series needs a larger step to be cut.
4. A change point is a regression when the median of the raw values after it (its segment, at
   least ``min_nights`` nights) is worse than the median before it by more than the figure's
   threshold, in the figure's bad direction (``compare``'s ``FIGURES`` and ``apply_thresholds``).

A regression is *recovered* when the latest segment is no longer worse than the level before the
step by more than the threshold (as asv lists only regressions still present); ``farm check`` fails
only on those not recovered.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import ruptures
from scipy.ndimage import median_filter

from triggerbench.errors import UserInputError
from triggerbench.farm.history import SERIES_KEYS, History, Night, most_common
from triggerbench.results.compare_figures import FIGURES, Figure, Threshold, apply_thresholds

#: Default relative thresholds by figure name: throughput 5 %, p99 latency 10 %.
DEFAULT_THRESHOLDS_PCT: dict[str, float] = {"throughput": 5.0, "latency_p99": 10.0}
#: The limit of a figure that has no default of its own (``farm check --threshold`` adds one).
OTHER_THRESHOLD_PCT = 5.0
#: A step must last this many nights to count; shorter excursions are noise.
MIN_NIGHTS = 2
#: Penalty per change point in sigma**2 * log(n) (BIC: 2). 5 (simulated, 365 nights): a 2-night 10 % step
#: is found at 2 % noise, not at 3 %; noise with t-distributed tails is cut in under 3 % of series.
PENALTY_FACTOR = 5.0
#: Least relative night-to-night noise assumed (0.1 %): a noise-free series must not cut on rounding.
MIN_NOISE_FRAC = 1e-3

_THRESHOLD = re.compile(r"^(?P<figure>[\w.-]+):(?P<pct>\d+(?:\.\d*)?|\.\d+)\s*%?$")


def figure_named(name: str) -> Figure:
    """The known figure called ``name`` (``latency-p99`` and ``latency_p99`` alike, or its column).

    Raises:
        UserInputError: no known figure has that name.
    """
    wanted = name.strip().replace("-", "_")
    for f in FIGURES:
        if wanted in (f.name, f.column, f.column.rsplit(".", 1)[-1]):
            return f
    known = ", ".join(f.name.replace("_", "-") for f in FIGURES)
    raise UserInputError(f"unknown figure {name!r}; known figures: {known}")


def parse_threshold(text: str) -> Threshold:
    """Parse ``--threshold FIGURE:N%`` (``%`` optional), e.g. ``throughput:3%``, ``latency-p99:15``.

    Raises:
        UserInputError: the text has another shape or names no known figure.
    """
    match = _THRESHOLD.match(text.strip())
    if match is None:
        raise UserInputError(f"--threshold {text!r}: use FIGURE:N%, e.g. throughput:5%")
    try:
        figure = figure_named(match["figure"])
    except UserInputError as exc:
        raise UserInputError(f"--threshold {text!r}: {exc}") from None
    return Threshold(figure, float(match["pct"]))


def thresholds(overrides: Sequence[Threshold] = ()) -> list[Threshold]:
    """The defaults (``DEFAULT_THRESHOLDS_PCT``) with ``overrides`` replacing or adding per figure."""
    by_figure = {
        figure_named(name): Threshold(figure_named(name), pct) for name, pct in DEFAULT_THRESHOLDS_PCT.items()
    }
    by_figure.update({t.figure: t for t in overrides})
    return list(by_figure.values())


def threshold_for(figure: Figure) -> Threshold:
    """The default limit of ``figure``: its own (``DEFAULT_THRESHOLDS_PCT``) or ``OTHER_THRESHOLD_PCT``."""
    return Threshold(figure, DEFAULT_THRESHOLDS_PCT.get(figure.name, OTHER_THRESHOLD_PCT))


def _signal(values: np.ndarray) -> np.ndarray:
    """Log values (relative changes); a figure that can be 0 is scaled by its median instead."""
    if (values > 0).all():
        return np.log(values)
    scale = abs(float(np.median(values))) or 1.0
    return values / scale


def change_points(values: Sequence[float], min_nights: int = MIN_NIGHTS) -> list[int]:
    """Positions where a new level starts (``0 < i < n``), each segment at least ``min_nights`` long.

    Raises:
        UserInputError: ``min_nights`` is below 1.
    """
    if min_nights < 1:
        raise UserInputError(f"--min-nights {min_nights}: use 1 or more")
    y = _signal(np.asarray(values, dtype=float))
    n = len(y)
    if n < 2 * min_nights:
        return []
    sigma = 1.4826 * float(np.median(np.abs(np.diff(y)))) / math.sqrt(2)  # MAD of steps -> sd
    sigma = max(sigma, MIN_NOISE_FRAC)
    # mode="mirror": an outlier on the last night is filtered like one inside the series.
    smooth = median_filter(y, size=2 * min_nights - 1, mode="mirror")
    algo = ruptures.KernelCPD(kernel="linear", min_size=min_nights, jump=1).fit(smooth.reshape(-1, 1))
    return [int(b) for b in algo.predict(pen=PENALTY_FACTOR * sigma**2 * math.log(n))[:-1]]


@dataclass(frozen=True)
class Regression:
    """A lasting step for the worse in one series.

    Attributes:
        figure: The figure that got worse.
        key: The series' ``SERIES_KEYS`` values.
        night: The first night at the new level (its ``commit`` is the suspect).
        previous_night: The night before it (the last good one).
        before: Median of the segment before the step (the figure's unit).
        after: Median of the segment after it.
        change_frac: ``(after - before) / |before|``.
        threshold_pct: The limit the change crossed.
        nights_after: Nights in the segment after the step.
        latest: Median of the series' latest segment.
        recovered: The latest segment is no longer worse than ``before`` by more than the threshold.
        host_note: Set when the series' host changed at the step (the machine may be the cause).
    """

    figure: Figure
    key: tuple
    night: Night
    previous_night: Night
    before: float
    after: float
    change_frac: float
    threshold_pct: float
    nights_after: int
    latest: float
    recovered: bool
    host_note: str | None = None


def _worse(figure: Figure, base: np.ndarray, new: np.ndarray) -> pd.DataFrame:
    """Rows for ``apply_thresholds``: ``compare``'s direction and relative change, base -> new."""
    with np.errstate(divide="ignore", invalid="ignore"):
        change = np.where(base == 0, np.sign(new) * np.inf, (new - base) / np.abs(base))  # as compare does
    change = np.nan_to_num(change, nan=0.0, posinf=np.inf, neginf=-np.inf)  # 0 -> 0 is no change
    worse = new < base if figure.better == "higher" else new > base
    return pd.DataFrame(
        {"column": figure.column, "direction": np.where(worse, "worse", "better"), "change_frac": change}
    )


def _steps(key: tuple, series: pd.DataFrame, min_nights: int) -> list[dict]:
    """Every change point of one series as a candidate step (levels, nights, hosts)."""
    values = series["value"].to_numpy(dtype=float)
    nights = series["night_index"].to_numpy()
    hosts = series["hostname"].tolist()
    bounds = [0, *change_points(values, min_nights), len(values)]
    latest = float(np.median(values[bounds[-2] :]))
    steps = []
    for start, cut, end in zip(bounds, bounds[1:-1], bounds[2:], strict=False):
        host_before, host_after = most_common(hosts[start:cut]), most_common(hosts[cut:end])
        steps.append(
            {
                "key": key,
                "night_index": int(nights[cut]),
                "previous_index": int(nights[cut - 1]),
                "before": float(np.median(values[start:cut])),
                "after": float(np.median(values[cut:end])),
                "latest": latest,
                "nights_after": end - cut,
                "host_note": None if host_before == host_after else f"host {host_before} -> {host_after}",
            }
        )
    return steps


def find_regressions(
    history: History,
    limits: Sequence[Threshold] | None = None,
    *,
    min_nights: int = MIN_NIGHTS,
    last_nights: int | None = None,
) -> list[Regression]:
    """Every lasting step for the worse in every series of ``history``, oldest first.

    Args:
        history: The loaded nights.
        limits: One threshold per figure to check; default ``thresholds()``.
        min_nights: Least length of a step (and of any segment).
        last_nights: Only steps onto one of the latest ``last_nights`` nights (the whole series
            still sets the noise and the levels).

    Raises:
        UserInputError: ``min_nights`` or ``last_nights`` below 1.
    """
    if min_nights < 1:
        raise UserInputError(f"--min-nights {min_nights}: use 1 or more")
    if last_nights is not None and last_nights < 1:
        raise UserInputError(f"--last {last_nights}: use 1 or more")
    first_index = 0 if last_nights is None else len(history.nights) - last_nights
    found: list[Regression] = []
    for threshold in thresholds() if limits is None else limits:
        figure = threshold.figure
        nightly = history.nightly(figure)
        steps = [
            step
            for key, series in nightly.groupby(list(SERIES_KEYS), dropna=False, sort=False)
            for step in _steps(tuple(None if pd.isna(v) else v for v in key), series, min_nights)
        ]
        steps = [s for s in steps if s["night_index"] >= first_index]
        if not steps:
            continue
        table = pd.DataFrame(steps)
        before = table["before"].to_numpy()
        # One vectorized pass of compare's threshold rule over every step, not one per step.
        crossed = apply_thresholds(_worse(figure, before, table["after"].to_numpy()), [threshold])
        still = apply_thresholds(_worse(figure, before, table["latest"].to_numpy()), [threshold])
        for i in np.flatnonzero(crossed["crossed_limit_pct"].notna().to_numpy()):
            s = steps[i]
            found.append(
                Regression(
                    figure=figure,
                    key=s["key"],
                    night=history.nights[s["night_index"]],
                    previous_night=history.nights[s["previous_index"]],
                    before=s["before"],
                    after=s["after"],
                    change_frac=float(crossed["change_frac"].iloc[i]),
                    threshold_pct=threshold.max_worse_pct,
                    nights_after=s["nights_after"],
                    latest=s["latest"],
                    recovered=bool(pd.isna(still["crossed_limit_pct"].iloc[i])),
                    host_note=s["host_note"],
                )
            )
    return sorted(found, key=lambda r: (r.night.time_utc, r.figure.name, str(r.key)))
