"""The L0 window simulator and the shared detector response."""

from __future__ import annotations

import numpy as np
import pytest

from triggerbench.errors import UserInputError
from triggerbench.physics import (
    L0_TARGET_NAMES,
    L0_WINDOW_SHAPE,
    DetectorResponse,
    simulate_l0,
)
from triggerbench.physics import detector as det

QUIET = DetectorResponse(efficiency=1.0, noise_per_strip=0.0, multiple_scattering=False)


def _mean_column(x: np.ndarray) -> np.ndarray:
    """Mean hit column per (event, layer); NaN where the layer has no hit."""
    hits = x[..., 0]
    count = hits.sum(axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (hits * np.arange(hits.shape[2])).sum(axis=2) / count


def test_shapes_dtypes_and_binary():
    s = simulate_l0(500, 1, noise_only_frac=0.2)
    assert s.x.shape == (500, *L0_WINDOW_SHAPE) == (500, 9, 16, 1)
    assert s.x.dtype == np.float32
    assert set(np.unique(s.x)) <= {0.0, 1.0}
    assert s.labels().shape == (500, 4) and s.labels().dtype == np.float32
    assert s.targets().shape == (500, len(L0_TARGET_NAMES)) and s.targets().dtype == np.float32
    assert s.is_signal.dtype == bool
    assert np.array_equal(s.labels()[:, 1], s.eta_local)


def test_reproducible_with_seed_and_different_with_another():
    a, b, c = simulate_l0(300, 7), simulate_l0(300, 7), simulate_l0(300, 8)
    assert np.array_equal(a.x, b.x) and np.array_equal(a.labels(), b.labels())
    assert not np.array_equal(a.x, c.x)
    assert not np.array_equal(a.pt_gev, c.pt_gev)


def test_kinematics_ranges():
    s = simulate_l0(5000, 2, pt_range_gev=(3.0, 30.0), eta_max=0.8)
    assert s.pt_gev.min() >= 3.0 and s.pt_gev.max() <= 30.0
    assert np.abs(s.eta).max() <= 0.8
    assert set(np.unique(s.charge)) == {-1.0, 1.0}
    falling = simulate_l0(5000, 2, spectrum="falling")
    assert np.median(falling.pt_gev) < 0.6 * np.median(s.pt_gev)


def test_layer_efficiency():
    r = DetectorResponse(efficiency=0.9, noise_per_strip=0.0, multiple_scattering=False)
    s = simulate_l0(20_000, 3, pt_range_gev=(20.0, 30.0), eta_max=0.5, response=r)
    layer_hit = s.x.sum(axis=(2, 3)) > 0
    assert layer_hit.mean() == pytest.approx(0.9, abs=0.01)


def test_cluster_size_mean():
    s = simulate_l0(20_000, 4, pt_range_gev=(20.0, 30.0), eta_max=0.5, response=QUIET)
    per_layer = s.x.sum(axis=(2, 3))
    assert (per_layer > 0).all()
    assert per_layer.mean() == pytest.approx(1.3, abs=0.02)
    assert per_layer.max() == 2
    single = simulate_l0(2000, 4, response=DetectorResponse(cluster_size_mean=1.0, noise_per_strip=0.0))
    assert single.x.sum(axis=2).max() == 1


@pytest.mark.parametrize("noise", [1e-3, 3e-3, 1e-2])
def test_noise_occupancy_on_noise_only_windows(noise):
    s = simulate_l0(20_000, 5, noise_only_frac=1.0, response=DetectorResponse(noise_per_strip=noise))
    assert not s.is_signal.any()
    assert not s.labels().any()
    assert s.x.mean() == pytest.approx(noise, rel=0.1)


def test_noise_only_fraction():
    s = simulate_l0(10_000, 6, noise_only_frac=0.3, response=QUIET)
    assert (~s.is_signal).mean() == pytest.approx(0.3, abs=0.02)
    assert not s.x[~s.is_signal].any()
    assert (s.pt_gev[~s.is_signal] == 0).all() and (s.charge[~s.is_signal] == 0).all()


def test_high_pt_is_straighter_than_low_pt():
    def spread(pt_gev):
        s = simulate_l0(3000, 9, pt_range_gev=(pt_gev, pt_gev), eta_max=0.5, response=QUIET)
        return np.nanstd(_mean_column(s.x), axis=1).mean()

    assert spread(30.0) < 0.3 * spread(3.0)


@pytest.mark.parametrize("eta", [-0.8, 0.0, 0.8])
def test_bending_flips_with_charge(eta):
    s = simulate_l0(4000, 10, pt_range_gev=(4.0, 4.0), eta_max=1.0, response=QUIET)
    near = np.abs(s.eta - eta) < 0.2
    col = _mean_column(s.x)
    bend = col[:, 7] - col[:, 1]  # BOa minus BI2, in strips
    assert np.nanmean(bend[near & (s.charge > 0)]) > 2.0
    assert np.nanmean(bend[near & (s.charge < 0)]) < -2.0


def test_eta_local_is_recoverable_from_the_window():
    s = simulate_l0(5000, 11, pt_range_gev=(20.0, 30.0), response=QUIET)
    bi_column = np.nanmean(_mean_column(s.x)[:, :3], axis=1)
    assert np.corrcoef(bi_column, s.eta_local)[0, 1] > 0.95


def test_window_position_varies():
    s = simulate_l0(2000, 12, pt_range_gev=(30.0, 30.0), response=QUIET)
    assert len(np.unique(np.round(_mean_column(s.x)[:, 1]))) >= 5


def test_eta_beyond_sector_is_allowed():
    s = simulate_l0(1000, 13, eta_max=2.5, response=QUIET)
    assert np.abs(s.eta).max() > 2.0
    # Low-pT tracks at large |eta| bend across more than 16 projective strips, so some windows miss them.
    assert s.x.any(axis=(1, 2, 3)).mean() > 0.8


def test_propagation_without_field_is_straight():
    eta = np.array([-1.0, 0.0, 0.5])
    z_m, reached = det.propagate_z(0.0, np.zeros(3), np.arctan(np.sinh(eta)), np.zeros(3), 9.8)
    assert reached.all()
    np.testing.assert_allclose(z_m, 9.8 * np.sinh(eta))
    np.testing.assert_allclose(det.eta_of_strip_coordinate(det.strip_coordinate(z_m, 9.8)), eta)


def test_sector_covers_eta_one_with_384_strips():
    assert det.strip_coordinate(np.array([-np.sinh(1.0), np.sinh(1.0)]) * 7.5, 7.5) == pytest.approx([0, 384])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n": 0}, "n must be an integer >= 1"),
        ({"n": 2.5}, "n must be an integer >= 1"),
        ({"pt_range_gev": (-3.0, 30.0)}, "pT must be positive"),
        ({"pt_range_gev": (0.0, 30.0)}, "pT must be positive"),
        ({"pt_range_gev": (30.0, 3.0)}, "ordered"),
        ({"pt_range_gev": "high"}, "two numbers"),
        ({"spectrum": "flat"}, "known: uniform, falling"),
        ({"eta_max": 0.0}, r"eta_max must be in \(0, 2.5\]"),
        ({"eta_max": 3.0}, r"eta_max must be in \(0, 2.5\]"),
        ({"noise_only_frac": 1.5}, r"noise_only_frac must be in \[0, 1\]"),
        ({"noise_only_frac": -0.1}, r"noise_only_frac must be in \[0, 1\]"),
    ],
)
def test_bad_arguments(kwargs, message):
    args = {"n": 10, "seed": 0, **kwargs}
    with pytest.raises(UserInputError, match=message):
        simulate_l0(**args)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"efficiency": 1.2}, r"efficiency must be in \[0, 1\]"),
        ({"efficiency": float("nan")}, r"efficiency must be in \[0, 1\]"),
        ({"cluster_size_mean": 0.9}, r"cluster_size_mean must be in \[1, 2\]"),
        ({"cluster_size_mean": 2.5}, r"cluster_size_mean must be in \[1, 2\]"),
        ({"noise_per_strip": -1e-3}, r"noise_per_strip must be in \[0, 0.5\)"),
        ({"noise_per_strip": 0.5}, r"noise_per_strip must be in \[0, 0.5\)"),
        ({"multiple_scattering": "yes"}, "multiple_scattering must be True or False"),
    ],
)
def test_bad_detector_response(kwargs, message):
    with pytest.raises(UserInputError, match=message):
        DetectorResponse(**kwargs)


def test_add_noise_is_exact_bernoulli():
    rng = np.random.default_rng(0)
    flat = np.zeros(1_000_000, dtype=np.float32)
    det.add_noise(rng, flat, 0.01)
    assert set(np.unique(flat)) == {0.0, 1.0}
    assert flat.mean() == pytest.approx(0.01, rel=0.05)
