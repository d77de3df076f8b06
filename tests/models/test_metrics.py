import subprocess
import sys

import numpy as np
import pytest

from triggerbench.errors import UserInputError
from triggerbench.models.metrics import crossing_gev, l0_metrics, llp_metrics, turnon_curve


def l0_labels(n: int, seed: int = 0, noise: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    pt = rng.uniform(3.0, 30.0, n)
    eta = rng.uniform(-0.05, 0.05, n)
    charge = rng.choice([-1.0, 1.0], n)
    labels = np.stack([pt, eta, charge, np.ones(n)], axis=1)
    if noise:
        labels = np.concatenate([labels, np.zeros((noise, 4))])
    return labels.astype(np.float32)


def test_perfect_predictor():
    labels = l0_labels(20_000)
    m = l0_metrics(labels, labels[:, :2], threshold_gev=10.0)
    assert m["pt_resolution_frac"] == pytest.approx(0.0, abs=1e-6)
    assert m["eta_residual_rms"] == pytest.approx(0.0, abs=1e-7)
    assert m["pt_resolution_frac_3to6gev"] == pytest.approx(0.0, abs=1e-6)
    assert m["pt_resolution_calibrated_frac"] == pytest.approx(0.0, abs=1e-6)
    assert m["pt_bias_frac_3to6gev"] == pytest.approx(0.0, abs=1e-6)
    # A step at the threshold: 0 in the 9-10 GeV bin, 1 in 10-11, so 50 % at 10 GeV.
    assert m["turnon_50_gev"] == pytest.approx(10.0, abs=0.05)
    assert 10.0 <= m["turnon_90_gev"] <= 10.5
    assert m["plateau_eff_frac"] == 1.0
    assert "fake_rate_frac" not in m


def test_gaussian_smearing_gives_its_resolution():
    labels = l0_labels(40_000, seed=1)
    rng = np.random.default_rng(2)
    out = labels[:, :2] * np.stack([1.0 + 0.10 * rng.standard_normal(len(labels)), np.ones(len(labels))], 1)
    m = l0_metrics(labels, out)
    assert m["pt_resolution_frac"] == pytest.approx(0.10, abs=0.005)
    for key in ("3to6gev", "6to10gev", "10to15gev", "15to20gev", "20to30gev"):
        assert m[f"pt_resolution_frac_{key}"] == pytest.approx(0.10, abs=0.01)
    assert m["pt_bias_frac"] == pytest.approx(0.0, abs=0.005)
    # Smearing makes the turn-on gradual and symmetric around ~threshold / (1 + ...) ~ 10 GeV.
    assert 9.0 < m["turnon_50_gev"] < 10.5 < m["turnon_90_gev"] < 13.0
    assert m["plateau_eff_frac"] == pytest.approx(1.0, abs=1e-3)


def test_a_pt_dependent_response_widens_the_raw_resolution_but_not_the_calibrated_one():
    labels = l0_labels(40_000, seed=5)
    pt = labels[:, 0].astype(np.float64)
    rng = np.random.default_rng(6)
    response = 1.3 - 0.02 * pt  # +24 % at 3 GeV, -30 % at 30 GeV: regression towards the middle
    out = labels[:, :2].astype(np.float64)
    out[:, 0] = pt * response * (1.0 + 0.05 * rng.standard_normal(len(pt)))
    m = l0_metrics(labels, out)
    assert m["pt_resolution_frac"] > 0.15
    assert m["pt_resolution_calibrated_frac"] == pytest.approx(0.05 * np.median(response), rel=0.15)
    assert m["pt_bias_frac_3to6gev"] == pytest.approx(1.3 - 0.02 * 4.5 - 1.0, abs=0.01)
    assert m["pt_bias_frac_20to30gev"] == pytest.approx(1.3 - 0.02 * 25 - 1.0, abs=0.02)
    # The per-bin widths keep only the response's spread inside each bin.
    assert m["pt_resolution_frac_3to6gev"] < 0.07


def test_fake_rate_counted_on_noise_windows_only():
    labels = l0_labels(1000, noise=10)
    out = labels[:, :2].copy()
    out[-10:, 0] = [0, 0, 20, 0, 11, 0, 0, 10.5, 0, 9.9]  # three noise windows above 10 GeV
    m = l0_metrics(labels, out)
    assert m["fake_rate_frac"] == pytest.approx(0.3)


def test_turnon_curve_errors_are_binomial():
    labels = l0_labels(5000, seed=3)
    rng = np.random.default_rng(4)
    out = labels[:, :2].copy()
    out[:, 0] = np.where(rng.random(len(out)) < 0.7, 50.0, 0.0)  # 70 % efficiency everywhere
    centres, eff, err = turnon_curve(labels, out, edges_gev=(3.0, 16.5, 30.0))
    np.testing.assert_allclose(centres, [9.75, 23.25])
    np.testing.assert_allclose(eff, 0.7, atol=0.03)
    n = np.histogram(labels[:, 0], bins=[3.0, 16.5, 30.0])[0]
    np.testing.assert_allclose(err, np.sqrt(eff * (1 - eff) / n))


def test_crossing_interpolates_and_refuses_missing_crossings():
    x = np.array([1.0, 2.0, 3.0])
    assert crossing_gev(x, np.array([0.0, 0.4, 0.8]), 0.6) == pytest.approx(2.5)
    assert crossing_gev(x, np.array([0.0, np.nan, 1.0]), 0.5) == pytest.approx(2.0)
    assert crossing_gev(x, np.array([0.0, 0.1, 0.2]), 0.5) is None
    assert crossing_gev(x, np.array([0.6, 0.9, 1.0]), 0.5) is None


def test_bad_shapes_rejected():
    with pytest.raises(UserInputError):
        l0_metrics(np.zeros((5, 3)), np.zeros((5, 2)))
    with pytest.raises(UserInputError):
        l0_metrics(np.zeros((5, 4)), np.zeros((4, 2)))
    with pytest.raises(UserInputError):
        l0_metrics(np.zeros((5, 4)), np.zeros((5, 2)))  # no signal window
    with pytest.raises(UserInputError):
        llp_metrics(np.zeros(3), np.zeros(4))


def test_llp_metrics_known_bias_and_resolution():
    rng = np.random.default_rng(5)
    true = rng.uniform(0.5, 9.5, 50_000)
    m = llp_metrics(true, true + 0.5)
    assert m["lr_bias_m"] == pytest.approx(0.5)
    assert m["lr_resolution_m"] == pytest.approx(0.0, abs=1e-9)
    m = llp_metrics(true.reshape(-1, 1), (true + 0.3 * rng.standard_normal(len(true))).reshape(-1, 1))
    assert m["lr_resolution_m"] == pytest.approx(0.3, abs=0.01)
    assert m["lr_bias_m"] == pytest.approx(0.0, abs=0.01)
    for key in ("0to2m", "2to4m", "4to6m", "6to8m", "8to10m"):
        assert m[f"lr_resolution_m_{key}"] == pytest.approx(0.3, abs=0.02)
        assert f"lr_bias_m_{key}" in m


def test_every_key_names_its_unit():
    labels = l0_labels(2000, noise=50)
    keys = list(l0_metrics(labels, labels[:, :2])) + list(
        llp_metrics(np.arange(20.0) / 2, np.arange(20.0) / 2)
    )
    for key in keys:
        if key == "eta_residual_rms":  # eta is dimensionless
            continue
        assert key.endswith(("_frac", "gev", "_m", "m")), key


def test_metrics_module_does_not_import_tensorflow():
    code = "import sys, triggerbench.models.metrics; sys.exit('tensorflow' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_turnon_curve_points_are_stored_and_read_back():
    from triggerbench.models.metrics import binned_points, turnon_points

    labels = l0_labels(20_000, noise=50)
    m = l0_metrics(labels, labels[:, :2], threshold_gev=10.0)
    points = turnon_points(m)
    centres, eff, _ = turnon_curve(labels, labels[:, :2])
    assert [p for p, _ in points] == pytest.approx(list(centres))
    assert [e for _, e in points] == pytest.approx(list(eff))
    assert points[0] == (3.5, 0.0) and points[-1] == (29.5, 1.0)
    lr = llp_metrics(np.arange(100.0) / 10, np.arange(100.0) / 10 + 0.25)
    bias = binned_points(lr, "lr_bias_m", "m")
    assert [(lo, hi) for lo, hi, _ in bias] == [(0, 2), (2, 4), (4, 6), (6, 8), (8, 10)]
    assert all(v == pytest.approx(0.25) for *_, v in bias)
