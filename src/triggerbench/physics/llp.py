"""Toy simulator of long-lived-particle (LLP) images for the L_r regression CNN.

A neutral LLP flies from the interaction point with some eta and decays at radial distance ``L_r``
(vertex at ``r = L_r``, ``z = L_r sinh(eta)``) into 2-4 collimated muons. Each muon leaves the vertex with
the LLP's r-z angle plus a small gaussian opening angle (sigma ``OPENING_SIGMA_RAD``), its own pT (uniform
in ``pt_range_gev``) and charge, and is propagated outward with the L0 field model (straight inside 6 m,
a circle beyond; a multiple-scattering kick at 4.25 m when it decays inside that radius). Layers at
radius <= ``L_r`` see nothing from the LLP. See ``triggerbench.physics.detector`` for the geometry and the
detector response (efficiency, cluster size, noise), which is the same as for L0.

Image representation (``LLP_IMAGE_SHAPE = (9, 384, 1)``): the whole phi sector, one row per RPC layer
ordered from the inside out (BI1-3, BM1a/b, BM2a/b, BOa/b), one column per projective eta strip (column
``i`` is strip ``i``, eta from -1 to 1 seen from the interaction point), trailing channel axis of 1.
Values are float32 0/1 (a strip fired or not, muon hits and noise alike); crossings outside the 384
strips are dropped. The target is ``lr_m``, float32 in metres.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from triggerbench.errors import UserInputError
from triggerbench.physics import detector as det
from triggerbench.physics.detector import DetectorResponse
from triggerbench.physics.l0 import check_pt_range

LLP_IMAGE_SHAPE = (det.N_LAYERS, det.N_STRIPS, 1)
LLP_TARGET_NAMES = ("lr_m",)
MAX_MUONS = 8
# Collimated: a few degrees, i.e. a few strips in the inner layers and ~10 in BO.
OPENING_SIGMA_RAD = 0.02
LR_MAX_M = 12.0


@dataclass(frozen=True)
class LlpSample:
    """A batch of LLP images and their truth.

    Attributes:
        x: Binary hit images, float32 of shape (n, 9, 384, 1).
        lr_m: Radial decay distance in metres, float32 (n,): the regression target.
        n_muons: Number of decay muons per event, int64 (n,).
        eta: Pseudorapidity of the LLP, float32 (n,).
    """

    x: np.ndarray
    lr_m: np.ndarray
    n_muons: np.ndarray
    eta: np.ndarray

    def targets(self) -> np.ndarray:
        """Regression target as float32 (n, 1), column ``LLP_TARGET_NAMES``."""
        return self.lr_m.reshape(-1, 1).astype(np.float32)


def simulate_llp(
    n: int,
    seed: int,
    *,
    lr_range_m: tuple[float, float] = (0.5, 9.5),
    n_muons: tuple[int, int] = (2, 4),
    pt_range_gev: tuple[float, float] = (5.0, 50.0),
    eta_max: float = 1.0,
    response: DetectorResponse | None = None,
) -> LlpSample:
    """Simulate ``n`` LLP images, reproducibly from ``seed``.

    Args:
        n: Number of events (>= 1).
        seed: Seed of the numpy generator; the same seed gives the same sample.
        lr_range_m: Range of the radial decay distance in metres, uniform, within (0, 12).
        n_muons: Lowest and highest number of decay muons (uniform integers), within [1, 8].
        pt_range_gev: Range of each muon's pT in GeV, uniform.
        eta_max: LLPs are uniform in |eta| < eta_max, in (0, 1] (the sector's coverage).
        response: Detector response; ``DetectorResponse()`` when None.

    Returns:
        The images and their truth.

    Raises:
        UserInputError: For an out-of-range argument.
    """
    _validate(n, lr_range_m, n_muons, pt_range_gev, eta_max)
    response = DetectorResponse() if response is None else response
    rng = np.random.default_rng(seed)

    lr_m = rng.uniform(lr_range_m[0], lr_range_m[1], n)
    eta = rng.uniform(-eta_max, eta_max, n)
    muons = rng.integers(n_muons[0], n_muons[1] + 1, n)
    alpha_llp = np.arctan(np.sinh(eta))
    z_vertex = lr_m * np.sinh(eta)

    row = det.N_LAYERS * det.N_STRIPS
    flat = np.zeros(n * row, dtype=np.float32)
    base = (np.arange(n) * row)[None, :] + (np.arange(det.N_LAYERS) * det.N_STRIPS)[:, None]
    for m in range(n_muons[1]):
        present = m < muons
        alpha = alpha_llp + OPENING_SIGMA_RAD * rng.standard_normal(n)
        pt_gev = rng.uniform(pt_range_gev[0], pt_range_gev[1], n)
        charge = np.where(rng.random(n) < 0.5, -1.0, 1.0)
        p_gev = pt_gev / np.cos(alpha)  # p = pT cosh(eta) and cosh(eta) = 1 / cos(alpha)
        r0, z0 = lr_m, z_vertex
        if response.multiple_scattering:
            # Muons born inside the calorimeter cross the scatterer; the others fly in air.
            inside = lr_m < det.MS_RADIUS_M
            z_ms = z_vertex + (det.MS_RADIUS_M - lr_m) * np.tan(alpha)
            r0 = np.where(inside, det.MS_RADIUS_M, lr_m)
            z0 = np.where(inside, z_ms, z_vertex)
            alpha = np.where(inside, det.scatter(rng, alpha, p_gev), alpha)
        k = det.curvature_per_m(p_gev, charge)
        s = np.empty((det.N_LAYERS, n))
        reached = np.empty((det.N_LAYERS, n), dtype=bool)
        for layer, r_m in enumerate(det.LAYER_RADII_M):
            z_m, reached[layer] = det.propagate_z(r0, z0, alpha, k, float(r_m))
            # The layer must also lie beyond the decay vertex itself (r0 may be the scatterer).
            reached[layer] &= present & (lr_m < r_m)
            s[layer] = det.strip_coordinate(z_m, r_m)
        strip, fired, neighbour, neighbour_fired = det.fire_strips(rng, s, reached, response)
        for idx, on in ((strip, fired), (neighbour, neighbour_fired)):
            on = on & (idx >= 0) & (idx < det.N_STRIPS)
            flat[(base + idx)[on]] = 1.0
    det.add_noise(rng, flat, response.noise_per_strip)

    return LlpSample(
        x=flat.reshape(n, *LLP_IMAGE_SHAPE),
        lr_m=lr_m.astype(np.float32),
        n_muons=muons.astype(np.int64),
        eta=eta.astype(np.float32),
    )


def _validate(
    n: int,
    lr_range_m: tuple[float, float],
    n_muons: tuple[int, int],
    pt_range_gev: tuple[float, float],
    eta_max: float,
) -> None:
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise UserInputError(f"n must be an integer >= 1, got {n!r}")
    try:
        lo_m, hi_m = (float(v) for v in lr_range_m)
    except (TypeError, ValueError):
        raise UserInputError(f"lr_range_m must be two numbers (low, high) in m, got {lr_range_m!r}") from None
    if not 0.0 < lo_m <= hi_m < LR_MAX_M:
        raise UserInputError(f"lr_range_m must be ordered and within (0, {LR_MAX_M:g}) m, got {lr_range_m!r}")
    try:
        lo_n, hi_n = n_muons
        ok = all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in (lo_n, hi_n))
    except (TypeError, ValueError):
        ok = False
    if not ok or not 1 <= lo_n <= hi_n <= MAX_MUONS:
        raise UserInputError(f"n_muons must be two ordered integers within [1, {MAX_MUONS}], got {n_muons!r}")
    check_pt_range(pt_range_gev)
    if not 0.0 < eta_max <= det.SECTOR_ETA_MAX:
        raise UserInputError(f"eta_max must be in (0, {det.SECTOR_ETA_MAX:g}] (the sector), got {eta_max!r}")
