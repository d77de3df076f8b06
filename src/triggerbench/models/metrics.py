"""Task metrics of the reference models, in pure numpy (no TensorFlow import).

L0 muon trigger (``l0_metrics``): relative pT resolution overall and per true-pT bin, the
response (median relative residual) per bin, the resolution left after correcting that
response in narrow true-pT bins, the eta residual RMS, the trigger turn-on ("predicted pT >
threshold" versus true pT) with its 50 % and 90 % points and plateau, and the fake rate on
noise-only windows.

LLP trigger (``llp_metrics``): bias and resolution of the regressed decay radius L_r,
overall and per true-L_r bin.

Resolutions are robust: the half-width of the central 68 % interval (16th to 84th
percentile), which equals the standard deviation for a gaussian and ignores the tails
that a handful of badly reconstructed events would otherwise dominate. Every key names its
unit (``_frac``, ``_gev``, ``_m``); a figure that cannot be computed (an empty bin, a curve
that never crosses the level) is left out of the dict rather than reported as a number.
"""

from __future__ import annotations

import numpy as np

from triggerbench.errors import UserInputError

PT_BIN_EDGES_GEV = (3.0, 6.0, 10.0, 15.0, 20.0, 30.0)
TURNON_EDGES_GEV = tuple(float(v) for v in np.arange(3.0, 30.5, 1.0))
LR_BIN_EDGES_M = (0.0, 2.0, 4.0, 6.0, 8.0, 10.0)
# Fewer events than this in a bin give a meaningless percentile width.
MIN_EVENTS_PER_BIN = 5


def robust_halfwidth(values: np.ndarray) -> float:
    """Half-width of the central 68 % interval: (p84 - p16) / 2 (the sigma of a gaussian)."""
    lo, hi = np.percentile(np.asarray(values, np.float64), [15.865, 84.135])
    return float(0.5 * (hi - lo))


def _value_label(value: float) -> str:
    # 2.5 -> "2p5", -1 -> "m1": dots and signs do not belong in keys (read back by _parse_label).
    return f"{value:g}".replace(".", "p").replace("-", "m")


def _bin_label(lo: float, hi: float, unit: str) -> str:
    return f"{_value_label(lo)}to{_value_label(hi)}{unit}"  # "3to6gev", "2p5to5gev"


def _parse_label(text: str) -> float:
    return float(text.replace("m", "-").replace("p", "."))


TURNON_POINT_PREFIX = "turnon_eff_frac_at_"


def turnon_points(task_metrics: dict[str, float]) -> list[tuple[float, float]]:
    """The stored turn-on curve of a record's task metrics: ``[(true_pt_gev, efficiency_frac)]``.

    ``l0_metrics`` stores each bin's efficiency as ``turnon_eff_frac_at_{centre}gev`` (a record's
    task metrics are a flat dict of floats); this reads them back, sorted by pT.
    """
    points = []
    for key, value in task_metrics.items():
        if key.startswith(TURNON_POINT_PREFIX) and key.endswith("gev"):
            points.append((_parse_label(key[len(TURNON_POINT_PREFIX) : -3]), float(value)))
    return sorted(points)


def binned_points(task_metrics: dict[str, float], prefix: str, unit: str) -> list[tuple[float, float, float]]:
    """Per-bin figures stored as ``{prefix}_{lo}to{hi}{unit}``: ``[(lo, hi, value)]`` sorted by ``lo``.

    E.g. ``binned_points(m, "lr_bias_m", "m")`` gives the L_r bias per true-L_r bin.
    """
    points = []
    head = f"{prefix}_"
    for key, value in task_metrics.items():
        if not (key.startswith(head) and key.endswith(unit)):
            continue
        lo, sep, hi = key[len(head) : -len(unit)].partition("to")
        if not sep:
            continue
        try:
            points.append((_parse_label(lo), _parse_label(hi), float(value)))
        except ValueError:
            continue
    return sorted(points)


def _check_l0(labels: np.ndarray, outputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(labels, np.float64)
    outputs = np.asarray(outputs, np.float64)
    if labels.ndim != 2 or labels.shape[1] != 4:
        raise UserInputError(f"labels must be (n, 4) [pt_gev, eta, charge, is_signal], got {labels.shape}")
    if outputs.ndim != 2 or outputs.shape[1] != 2:
        raise UserInputError(f"outputs must be (n, 2) [pt_gev, eta], got {outputs.shape}")
    if len(labels) != len(outputs):
        raise UserInputError(f"labels and outputs differ in length: {len(labels)} vs {len(outputs)}")
    return labels, outputs


def turnon_curve(
    labels: np.ndarray,
    outputs: np.ndarray,
    threshold_gev: float = 10.0,
    edges_gev: tuple[float, ...] | np.ndarray = TURNON_EDGES_GEV,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Trigger efficiency of "predicted pT > threshold" versus true pT, for signal windows.

    Args:
        labels: Truth, (n, 4) [pt_gev, eta, charge, is_signal].
        outputs: Model outputs, (n, 2) [pt_gev, eta].
        threshold_gev: Trigger threshold on the predicted pT.
        edges_gev: Bin edges in true pT.

    Returns:
        ``(centres_gev, efficiency_frac, error_frac)``, one entry per bin; empty bins give
        NaN efficiency and error. The error is binomial, ``sqrt(eff (1 - eff) / n)``.
    """
    labels, outputs = _check_l0(labels, outputs)
    edges = np.asarray(edges_gev, np.float64)
    signal = labels[:, 3] > 0.5
    pt_true = labels[signal, 0]
    passed = outputs[signal, 0] > threshold_gev
    idx = np.digitize(pt_true, edges) - 1
    inside = (idx >= 0) & (idx < len(edges) - 1)
    n_bins = len(edges) - 1
    total = np.bincount(idx[inside], minlength=n_bins).astype(np.float64)
    n_pass = np.bincount(idx[inside], weights=passed[inside].astype(np.float64), minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        eff = n_pass / total
        err = np.sqrt(eff * (1.0 - eff) / total)
    return 0.5 * (edges[1:] + edges[:-1]), eff, err


def crossing_gev(centres_gev: np.ndarray, efficiency: np.ndarray, level: float) -> float | None:
    """True pT where the efficiency first rises through ``level``, interpolated between bins.

    Returns None when the curve never reaches ``level`` or already starts at or above it (the
    crossing then lies outside the binned range). Empty (NaN) bins are skipped.
    """
    ok = np.isfinite(efficiency)
    x, y = np.asarray(centres_gev)[ok], np.asarray(efficiency)[ok]
    if len(y) == 0 or y[0] >= level:
        return None
    above = np.nonzero(y >= level)[0]
    if len(above) == 0:
        return None
    i = int(above[0])
    # Linear interpolation between the last bin below the level and the first at or above it.
    frac = (level - y[i - 1]) / (y[i] - y[i - 1])
    return float(x[i - 1] + frac * (x[i] - x[i - 1]))


def _response_corrected(rel: np.ndarray, pt_true: np.ndarray, edges_gev: np.ndarray) -> np.ndarray | None:
    """``rel`` minus the median of ``rel`` in its true-pT bin; events outside the bins are dropped.

    Returns None when fewer than half of the events fall in bins with enough events.
    """
    idx = np.digitize(pt_true, edges_gev) - 1
    keep = np.zeros(len(rel), bool)
    corrected = np.zeros(len(rel))
    for b in range(len(edges_gev) - 1):
        in_bin = idx == b
        if in_bin.sum() >= MIN_EVENTS_PER_BIN:
            corrected[in_bin] = rel[in_bin] - np.median(rel[in_bin])
            keep |= in_bin
    return corrected[keep] if keep.sum() * 2 >= len(rel) else None


def l0_metrics(
    labels: np.ndarray,
    outputs: np.ndarray,
    threshold_gev: float = 10.0,
    pt_edges_gev: tuple[float, ...] = PT_BIN_EDGES_GEV,
    turnon_edges_gev: tuple[float, ...] | np.ndarray = TURNON_EDGES_GEV,
) -> dict[str, float]:
    """L0 trigger metrics from truth labels and model outputs.

    Args:
        labels: Truth, (n, 4) [pt_gev, eta, charge, is_signal] (``L0Sample.labels()``).
        outputs: Model outputs, (n, 2) [pt_gev, eta].
        threshold_gev: Trigger threshold on the predicted pT.
        pt_edges_gev: True-pT bins of the per-bin resolution.
        turnon_edges_gev: True-pT bins of the turn-on curve.

    Returns:
        ``pt_resolution_frac`` (robust width of (pT_pred - pT_true) / pT_true), one
        ``pt_resolution_frac_{lo}to{hi}gev`` and ``pt_bias_frac_{lo}to{hi}gev`` per pT bin,
        ``pt_bias_frac`` (median relative residual), ``pt_resolution_calibrated_frac`` (the
        overall width after subtracting the median relative residual of each turn-on bin: what
        is left once the pT-dependent response is corrected; the overall figure contains both, and
        a model can trade one for the other), ``eta_residual_rms``, ``turnon_50_gev`` and ``turnon_90_gev``,
        ``plateau_eff_frac`` (efficiency for true pT > 2 x threshold), ``fake_rate_frac``
        (noise-only windows passing the threshold) and the turn-on curve itself, one
        ``turnon_eff_frac_at_{centre}gev`` per non-empty bin (read back with ``turnon_points``).
        Figures that cannot be computed are left out.

    Raises:
        UserInputError: For arrays of the wrong shape or no signal window.
    """
    labels, outputs = _check_l0(labels, outputs)
    signal = labels[:, 3] > 0.5
    if not signal.any():
        raise UserInputError("no signal window (is_signal == 1) in the labels: nothing to measure")
    pt_true, eta_true = labels[signal, 0], labels[signal, 1]
    pt_pred, eta_pred = outputs[signal, 0], outputs[signal, 1]
    rel = (pt_pred - pt_true) / pt_true

    out: dict[str, float] = {
        "pt_resolution_frac": robust_halfwidth(rel),
        "pt_bias_frac": float(np.median(rel)),
        "eta_residual_rms": float(np.sqrt(np.mean((eta_pred - eta_true) ** 2))),
    }
    for lo, hi in zip(pt_edges_gev[:-1], pt_edges_gev[1:], strict=True):
        in_bin = (pt_true >= lo) & (pt_true < hi)
        if in_bin.sum() >= MIN_EVENTS_PER_BIN:
            out[f"pt_resolution_frac_{_bin_label(lo, hi, 'gev')}"] = robust_halfwidth(rel[in_bin])
            out[f"pt_bias_frac_{_bin_label(lo, hi, 'gev')}"] = float(np.median(rel[in_bin]))
    calibrated = _response_corrected(rel, pt_true, np.asarray(turnon_edges_gev, np.float64))
    if calibrated is not None:
        out["pt_resolution_calibrated_frac"] = robust_halfwidth(calibrated)

    centres, eff, _ = turnon_curve(labels, outputs, threshold_gev, turnon_edges_gev)
    for centre, value in zip(centres, eff, strict=True):
        if np.isfinite(value):  # the curve itself, so that reports can draw it per backend
            out[f"{TURNON_POINT_PREFIX}{_value_label(centre)}gev"] = float(value)
    for level, key in ((0.5, "turnon_50_gev"), (0.9, "turnon_90_gev")):
        value = crossing_gev(centres, eff, level)
        if value is not None:
            out[key] = value
    plateau = pt_true > 2.0 * threshold_gev
    if plateau.any():
        out["plateau_eff_frac"] = float(np.mean(pt_pred[plateau] > threshold_gev))
    noise = ~signal
    if noise.any():
        out["fake_rate_frac"] = float(np.mean(outputs[noise, 0] > threshold_gev))
    return out


def llp_metrics(
    lr_true_m: np.ndarray,
    lr_pred_m: np.ndarray,
    edges_m: tuple[float, ...] = LR_BIN_EDGES_M,
) -> dict[str, float]:
    """Bias and resolution of the regressed LLP decay radius, overall and per true-L_r bin.

    Args:
        lr_true_m: True L_r in metres, shape (n,) or (n, 1).
        lr_pred_m: Predicted L_r in metres, same length.
        edges_m: True-L_r bins.

    Returns:
        ``lr_bias_m`` (median residual), ``lr_resolution_m`` (robust width of the residual),
        ``lr_rmse_m``, and per bin ``lr_bias_m_{lo}to{hi}m`` and ``lr_resolution_m_{lo}to{hi}m``.

    Raises:
        UserInputError: For arrays of different lengths or empty ones.
    """
    true = np.asarray(lr_true_m, np.float64).reshape(-1)
    pred = np.asarray(lr_pred_m, np.float64).reshape(-1)
    if len(true) != len(pred) or len(true) == 0:
        raise UserInputError(
            f"lr_true_m and lr_pred_m must be non-empty and equally long: {len(true)}, {len(pred)}"
        )
    res = pred - true
    out = {
        "lr_bias_m": float(np.median(res)),
        "lr_resolution_m": robust_halfwidth(res),
        "lr_rmse_m": float(np.sqrt(np.mean(res**2))),
    }
    for lo, hi in zip(edges_m[:-1], edges_m[1:], strict=True):
        in_bin = (true >= lo) & (true < hi)
        if in_bin.sum() >= MIN_EVENTS_PER_BIN:
            label = _bin_label(lo, hi, "m")
            out[f"lr_bias_m_{label}"] = float(np.median(res[in_bin]))
            out[f"lr_resolution_m_{label}"] = robust_halfwidth(res[in_bin])
    return out
