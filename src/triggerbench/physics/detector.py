"""Toy ATLAS barrel muon geometry, field model and the shared RPC detector response.

Geometry (public numbers, see DESIGN.md "Physics"):

- 9 RPC layers, ordered from the inside out: the Phase-II BI triplet at r = 4.75 / 4.80 / 4.85 m,
  the BM1 doublet at 6.78 / 6.80 m, the BM2 doublet at 7.48 / 7.50 m and the BO doublet at
  9.78 / 9.80 m (``LAYER_RADII_M``). The doublet layers sit 2 cm apart.
- 384 eta strips per layer per phi sector, numbered along z. The strips are *projective*: the pitch is
  3 cm at the reference radius ``PITCH_REF_RADIUS_M`` = 4.90 m (inside BI) and grows in proportion to r
  (4.6 cm in BM2, 6.0 cm in BO). This way a straight track from the interaction point crosses the same
  strip index in every layer, the 384 strips of every layer cover exactly |eta| < 1, and the bending in
  the toroid shows as a strip offset -- which is what lets a 9x16 window hold a whole track.
  The continuous strip coordinate of a crossing at (r, z) is ``s = (z / r) * R_ref / pitch + 192``;
  strip ``i`` covers ``[i, i + 1)``.
- Field: 0.5 T beyond r = 6 m, zero inside. The toroid field is azimuthal, so the muon bends in the
  r-z plane (along the eta strips) on a circle of radius R[m] = p[GeV] / (0.3 B[T]). We use the full
  momentum p = pT cosh(eta) because the track is perpendicular to the azimuthal field.
- Multiple scattering (optional): one thin scatterer at r = 4.25 m (the calorimeter's outer face) gives a
  gaussian kick to the r-z angle with sigma = 0.05 rad GeV / p. Energy loss is not modelled.

Detector response (``DetectorResponse``), applied to every crossing:

- the crossed strip fires with the layer efficiency;
- when it fires, the nearer neighbour strip also fires with probability ``t ** gamma`` where
  ``t = |2 u - 1|`` is 0 at the strip centre and 1 at its edge (``u`` is the fractional position of the
  crossing in the strip). For crossings spread uniformly over the strip the mean cluster size is
  ``1 + 1 / (gamma + 1)``, so ``gamma = 1 / (cluster_size_mean - 1) - 1`` gives the requested mean exactly;
- every strip fires independently with probability ``noise_per_strip`` per bunch crossing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from triggerbench.errors import UserInputError

N_LAYERS = 9
N_STRIPS = 384
LAYER_NAMES = ("BI1", "BI2", "BI3", "BM1a", "BM1b", "BM2a", "BM2b", "BOa", "BOb")
LAYER_RADII_M = np.array([4.75, 4.80, 4.85, 6.78, 6.80, 7.48, 7.50, 9.78, 9.80])
STRIP_PITCH_M = 0.03
# The radius where the projective pitch is exactly 3 cm, chosen so that 384 strips span |eta| < 1.
SECTOR_ETA_MAX = 1.0
PITCH_REF_RADIUS_M = (N_STRIPS / 2) * STRIP_PITCH_M / math.sinh(SECTOR_ETA_MAX)
FIELD_START_RADIUS_M = 6.0
FIELD_T = 0.5
MS_RADIUS_M = 4.25
MS_ANGLE_RAD_GEV = 0.05
# 0.3 converts GeV, T and m: R[m] = p[GeV] / (0.3 B[T]).
_GEV_PER_T_M = 0.3


@dataclass(frozen=True)
class DetectorResponse:
    """How the RPC layers answer a crossing muon, and their noise.

    Attributes:
        efficiency: Probability that the crossed strip fires, per layer, in [0, 1].
        cluster_size_mean: Mean number of strips fired per detected crossing, in [1, 2].
        noise_per_strip: Probability that any strip fires by itself per bunch crossing, in [0, 0.5).
        multiple_scattering: Whether to apply the gaussian angular kick in the calorimeter.
    """

    efficiency: float = 0.97
    cluster_size_mean: float = 1.3
    noise_per_strip: float = 1e-3
    multiple_scattering: bool = True

    def __post_init__(self) -> None:
        # ``not (a <= x <= b)`` also rejects NaN.
        if not 0.0 <= self.efficiency <= 1.0:
            raise UserInputError(f"efficiency must be in [0, 1], got {self.efficiency!r}")
        if not 1.0 <= self.cluster_size_mean <= 2.0:
            msg = f"cluster_size_mean must be in [1, 2] strips, got {self.cluster_size_mean!r}"
            raise UserInputError(msg)
        if not 0.0 <= self.noise_per_strip < 0.5:
            msg = f"noise_per_strip must be in [0, 0.5) per strip per crossing, got {self.noise_per_strip!r}"
            raise UserInputError(msg)
        if not isinstance(self.multiple_scattering, bool | np.bool_):
            msg = f"multiple_scattering must be True or False, got {self.multiple_scattering!r}"
            raise UserInputError(msg)

    @property
    def neighbour_exponent(self) -> float:
        """The ``gamma`` of the neighbour-strip probability ``t ** gamma`` (inf: never a neighbour)."""
        extra = self.cluster_size_mean - 1.0
        return math.inf if extra <= 0.0 else 1.0 / extra - 1.0


def strip_coordinate(z_m: np.ndarray, r_m: np.ndarray | float) -> np.ndarray:
    """Continuous projective strip coordinate of a crossing at (r, z); strip ``i`` covers ``[i, i + 1)``."""
    return (z_m / r_m) * (PITCH_REF_RADIUS_M / STRIP_PITCH_M) + N_STRIPS / 2


def eta_of_strip_coordinate(s: np.ndarray | float) -> np.ndarray:
    """Eta seen from the interaction point of strip coordinate ``s`` (inverse of a straight track)."""
    return np.arcsinh((np.asarray(s) - N_STRIPS / 2) * (STRIP_PITCH_M / PITCH_REF_RADIUS_M))


def curvature_per_m(p_gev: np.ndarray, charge: np.ndarray) -> np.ndarray:
    """Signed curvature in the field region; positive charges bend towards +z."""
    return charge * (_GEV_PER_T_M * FIELD_T) / p_gev


def propagate_z(
    r_start_m: np.ndarray | float,
    z_start_m: np.ndarray,
    alpha_rad: np.ndarray,
    curvature: np.ndarray,
    r_m: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Z where a track crosses radius ``r_m``: straight inside ``FIELD_START_RADIUS_M``, a circle beyond.

    Args:
        r_start_m: Radius of the start point (the interaction point, a scatterer or a decay vertex).
        z_start_m: Z of the start point.
        alpha_rad: Angle of the track to the r axis in the r-z plane at the start (tan = dz/dr).
        curvature: Signed curvature in 1/m in the field region (``curvature_per_m``).
        r_m: Radius of the layer.

    Returns:
        ``(z_m, reached)``: the crossing z and whether the track reaches the layer outward (it must start
        inside it and must not curl back before it).
    """
    r_start_m = np.asarray(r_start_m, dtype=np.float64)
    r_field = np.maximum(r_start_m, FIELD_START_RADIUS_M)
    straight_to = np.minimum(r_field, r_m)
    z_m = z_start_m + (straight_to - r_start_m) * np.tan(alpha_rad)
    # On a circle, sin(alpha) grows linearly with r, and the chord has the mean angle of its ends:
    # stable for tiny curvature (no division by it).
    sin_end = np.sin(alpha_rad) + curvature * np.maximum(r_m - r_field, 0.0)
    reached = (r_start_m < r_m) & (np.abs(sin_end) < 1.0)
    alpha_end = np.arcsin(np.clip(sin_end, -1.0, 1.0))
    z_m = z_m + np.maximum(r_m - r_field, 0.0) * np.tan(0.5 * (alpha_rad + alpha_end))
    return z_m, reached


def scatter(rng: np.random.Generator, alpha_rad: np.ndarray, p_gev: np.ndarray) -> np.ndarray:
    """Angle after the thin scatterer: a gaussian kick with sigma = ``MS_ANGLE_RAD_GEV`` / p."""
    return alpha_rad + rng.standard_normal(alpha_rad.shape) * (MS_ANGLE_RAD_GEV / p_gev)


def fire_strips(
    rng: np.random.Generator, s: np.ndarray, reached: np.ndarray, response: DetectorResponse
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Apply efficiency and cluster size to crossings at strip coordinates ``s``.

    Args:
        rng: The generator.
        s: Continuous strip coordinates of the crossings (any shape).
        reached: Whether each track reached its layer at all.
        response: Efficiency and cluster size.

    Returns:
        ``(strip, fired, neighbour, neighbour_fired)``: integer strip indices (not range-checked) of the
        crossed strip and of its nearer neighbour, and whether each fired.
    """
    strip = np.floor(s)
    u = s - strip
    fired = reached & (rng.random(s.shape) < response.efficiency)
    gamma = response.neighbour_exponent
    if math.isinf(gamma):
        neighbour_fired = np.zeros_like(fired)
    else:
        t = np.abs(2.0 * u - 1.0)
        neighbour_fired = fired & (rng.random(s.shape) < t**gamma)
    strip_i = strip.astype(np.int64)
    neighbour = strip_i + np.where(u >= 0.5, 1, -1)
    return strip_i, fired, neighbour, neighbour_fired


def add_noise(rng: np.random.Generator, flat: np.ndarray, noise_per_strip: float) -> None:
    """Fire each element of the 1-D array ``flat`` independently with probability ``noise_per_strip``.

    Draws the gaps between noisy strips (geometric) instead of one uniform per strip: exact for a
    Bernoulli process and about ``1 / noise_per_strip`` times fewer random numbers.
    """
    if noise_per_strip <= 0.0:
        return
    size = flat.size
    expected = size * noise_per_strip
    chunk = int(expected + 6.0 * math.sqrt(expected) + 16)
    start = -1
    while True:
        positions = start + np.cumsum(rng.geometric(noise_per_strip, size=chunk))
        inside = positions[positions < size]
        flat[inside] = 1
        if inside.size < positions.size:
            return
        start = int(positions[-1])
