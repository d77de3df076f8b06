"""The LLP image simulator."""

from __future__ import annotations

import numpy as np
import pytest

from triggerbench.errors import UserInputError
from triggerbench.physics import LAYER_RADII_M, LLP_IMAGE_SHAPE, DetectorResponse, simulate_llp

QUIET = DetectorResponse(efficiency=1.0, noise_per_strip=0.0, multiple_scattering=False)


def test_shapes_dtypes_and_binary():
    s = simulate_llp(200, 1)
    assert LLP_IMAGE_SHAPE == (9, 384, 1)
    assert s.x.shape == (200, *LLP_IMAGE_SHAPE) and s.x.dtype == np.float32
    assert set(np.unique(s.x)) <= {0.0, 1.0}
    assert s.lr_m.shape == (200,) and s.lr_m.dtype == np.float32
    assert s.targets().shape == (200, 1)
    assert s.n_muons.shape == (200,) and s.eta.shape == (200,)


def test_reproducible_with_seed_and_different_with_another():
    a, b, c = simulate_llp(100, 3), simulate_llp(100, 3), simulate_llp(100, 4)
    assert np.array_equal(a.x, b.x) and np.array_equal(a.lr_m, b.lr_m)
    assert not np.array_equal(a.x, c.x)


def test_truth_ranges():
    s = simulate_llp(2000, 2, lr_range_m=(1.0, 8.0), n_muons=(2, 4))
    assert s.lr_m.min() >= 1.0 and s.lr_m.max() <= 8.0
    assert set(np.unique(s.n_muons)) == {2, 3, 4}
    assert np.abs(s.eta).max() <= 1.0


@pytest.mark.parametrize("multiple_scattering", [False, True])
def test_no_hits_inside_the_decay_radius(multiple_scattering):
    r = DetectorResponse(noise_per_strip=0.0, multiple_scattering=multiple_scattering)
    s = simulate_llp(3000, 5, lr_range_m=(0.5, 11.5), response=r)
    layer_hit = s.x.any(axis=(2, 3))
    inside = s.lr_m[:, None] >= LAYER_RADII_M[None, :]
    assert inside.any() and (~inside).any()
    assert not layer_hit[inside].any()
    # Outside the decay radius almost every layer sees a muon (efficiency 0.97, a few leave the sector).
    assert layer_hit[~inside].mean() > 0.9


def test_more_layers_hit_for_small_decay_radius():
    near = simulate_llp(1000, 6, lr_range_m=(0.5, 1.0), response=QUIET)
    far = simulate_llp(1000, 6, lr_range_m=(8.0, 9.0), response=QUIET)
    assert near.x.any(axis=(2, 3)).sum(axis=1).mean() > 8.5
    assert far.x.any(axis=(2, 3)).sum(axis=1).mean() < 2.5


def test_muons_are_collimated_and_each_leaves_hits():
    s = simulate_llp(2000, 7, lr_range_m=(0.5, 0.5), n_muons=(1, 1), response=QUIET)
    hits_per_layer = s.x.sum(axis=(2, 3))
    assert hits_per_layer.mean() == pytest.approx(1.3, abs=0.05)
    four = simulate_llp(2000, 7, lr_range_m=(0.5, 0.5), n_muons=(4, 4), response=QUIET)
    assert four.x.sum(axis=(2, 3)).mean() > 2.0 * hits_per_layer.mean()
    columns = np.nonzero(four.x[:, 1, :, 0])
    spread = np.array([np.ptp(columns[1][columns[0] == i]) for i in range(50)])
    assert np.median(spread) < 20


@pytest.mark.parametrize("noise", [1e-3, 1e-2])
def test_noise_occupancy(noise):
    # Decays beyond the last layer leave only noise.
    s = simulate_llp(2000, 8, lr_range_m=(11.0, 11.5), response=DetectorResponse(noise_per_strip=noise))
    assert s.x.mean() == pytest.approx(noise, rel=0.1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n": 0}, "n must be an integer >= 1"),
        ({"lr_range_m": (0.0, 9.5)}, r"lr_range_m must be ordered and within \(0, 12\) m"),
        ({"lr_range_m": (5.0, 12.0)}, r"within \(0, 12\) m"),
        ({"lr_range_m": (9.0, 5.0)}, "ordered"),
        ({"lr_range_m": None}, "two numbers"),
        ({"n_muons": (0, 3)}, r"n_muons must be two ordered integers within \[1, 8\]"),
        ({"n_muons": (3, 2)}, "n_muons must be two ordered integers"),
        ({"n_muons": (2.0, 3)}, "n_muons must be two ordered integers"),
        ({"n_muons": 3}, "n_muons must be two ordered integers"),
        ({"pt_range_gev": (-5.0, 50.0)}, "pT must be positive"),
        ({"eta_max": 1.5}, r"eta_max must be in \(0, 1\]"),
    ],
)
def test_bad_arguments(kwargs, message):
    args = {"n": 10, "seed": 0, **kwargs}
    with pytest.raises(UserInputError, match=message):
        simulate_llp(**args)
