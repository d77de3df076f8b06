"""Toy simulator of ATLAS Level-0 barrel muon trigger windows (9 layers x 16 eta strips).

A muon comes from the interaction point (z = 0) with pT, charge and eta, flies straight in the r-z plane
up to r = 6 m (with an optional multiple-scattering kick at 4.25 m) and bends on a circle beyond; see
``triggerbench.physics.detector`` for the geometry, the projective strips and the detector response.

The window: 16 consecutive strips of every layer, placed around the candidate. Its centre is the
strip at the midpoint of the true track's crossings of BI2 and BOb (layers 1 and 8; the pivot layer BM2a
if the track curls before BO) plus a seeded random shift of up to ``WINDOW_JITTER_STRIPS`` strips, so the
track does not always sit at the same column. Window column ``j``
holds global strip ``centre - 8 + j``; hits outside the window are dropped. Noise-only windows hold no
muon, only noise.

Labels and targets: the models regress ``L0_TARGET_NAMES = ("pt_gev", "eta")`` where **"eta" is
window-local**: ``eta_local = eta - eta_of_strip_coordinate(centre)``, the muon's eta minus the eta (seen
from the interaction point) of the window's middle, the edge between columns 7 and 8. Absolute eta cannot
be recovered from a window that does not carry its own position; ``eta_local`` can (chiefly from the
unbent BI hits; one strip is 0.006 in eta at eta = 0). ``labels()`` and ``targets()`` put ``eta_local`` in
their eta column; absolute eta is still stored in ``L0Sample.eta``. Units: GeV, metres, radians.

Low-pT tracks at large |eta| can bend across more than 16 projective strips (a 3 GeV muon at |eta| = 1
spans 12-19 strips from BI to BO), so their outermost hits may fall outside the window, as in a real
trigger road.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from triggerbench.errors import UserInputError
from triggerbench.physics import detector as det
from triggerbench.physics.detector import DetectorResponse

L0_WINDOW_SHAPE = (det.N_LAYERS, 16, 1)
L0_TARGET_NAMES = ("pt_gev", "eta")
L0_LABEL_NAMES = ("pt_gev", "eta", "charge", "is_signal")
L0_SPECTRA = ("uniform", "falling")
# The window is centred between the track's crossings of these layers (BI2 and BOb), or on the pivot
# layer (BM2a) when the track curls before BO.
CENTRE_LAYERS = (1, 8)
PIVOT_LAYER = 5
WINDOW_JITTER_STRIPS = 2
# dN/dpT ~ pT^-3 is roughly the shape of inclusive muons (heavy-flavour decays) above a few GeV.
FALLING_INDEX = 3.0
_WIDTH = L0_WINDOW_SHAPE[1]


@dataclass(frozen=True)
class L0Sample:
    """A batch of L0 windows and their truth.

    Attributes:
        x: Binary hit windows, float32 of shape (n, 9, 16, 1).
        pt_gev: True transverse momentum in GeV (0 for noise-only windows).
        eta: True absolute pseudorapidity (0 for noise-only windows).
        eta_local: Eta relative to the window centre (0 for noise-only windows); the "eta" target.
        charge: +1 or -1 (0 for noise-only windows).
        is_signal: Whether the window holds a muon.
    """

    x: np.ndarray
    pt_gev: np.ndarray
    eta: np.ndarray
    eta_local: np.ndarray
    charge: np.ndarray
    is_signal: np.ndarray

    def labels(self) -> np.ndarray:
        """Truth as float32 (n, 4), columns ``L0_LABEL_NAMES``: pt_gev, eta (window-local), charge, signal."""
        return np.stack([self.pt_gev, self.eta_local, self.charge, self.is_signal], axis=1).astype(np.float32)

    def targets(self) -> np.ndarray:
        """Regression targets as float32 (n, 2), columns ``L0_TARGET_NAMES``: pt_gev, eta (window-local)."""
        return np.stack([self.pt_gev, self.eta_local], axis=1).astype(np.float32)


def simulate_l0(
    n: int,
    seed: int,
    *,
    pt_range_gev: tuple[float, float] = (3.0, 30.0),
    spectrum: str = "uniform",
    eta_max: float = 1.0,
    response: DetectorResponse | None = None,
    noise_only_frac: float = 0.0,
) -> L0Sample:
    """Simulate ``n`` L0 trigger windows, reproducibly from ``seed``.

    Args:
        n: Number of windows (>= 1).
        seed: Seed of the numpy generator; the same seed gives the same sample.
        pt_range_gev: Lowest and highest muon pT in GeV.
        spectrum: ``"uniform"`` in pT, or ``"falling"`` (dN/dpT ~ pT^-3).
        eta_max: Muons are uniform in |eta| < eta_max, in (0, 2.5]. Windows are local, so beyond
            |eta| = 1 the projective strip numbering simply continues past the sector's 384 strips.
        response: Detector response; ``DetectorResponse()`` when None.
        noise_only_frac: Probability that a window holds only noise, in [0, 1].

    Returns:
        The windows and their truth.

    Raises:
        UserInputError: For an out-of-range argument or an unknown spectrum.
    """
    _validate(n, pt_range_gev, spectrum, eta_max, noise_only_frac)
    response = DetectorResponse() if response is None else response
    rng = np.random.default_rng(seed)

    is_signal = rng.random(n) >= noise_only_frac
    pt_gev = _sample_pt(rng, n, pt_range_gev, spectrum)
    eta = rng.uniform(-eta_max, eta_max, n)
    charge = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    s = _strip_coordinates(rng, pt_gev, eta, charge, response)  # (9, n)

    # Centre on the middle of the track's extent (BI to BO): a 3 GeV track spans ~8 strips, so
    # centring on one end would push the other out of the 16 columns.
    middle = 0.5 * (s[CENTRE_LAYERS[0]] + s[CENTRE_LAYERS[1]])
    middle = np.where(np.isfinite(middle), middle, s[PIVOT_LAYER])
    centre = np.floor(np.nan_to_num(middle)).astype(np.int64)
    centre += rng.integers(-WINDOW_JITTER_STRIPS, WINDOW_JITTER_STRIPS + 1, n)
    eta_local = eta - det.eta_of_strip_coordinate(centre)

    reached = np.isfinite(s) & is_signal
    strip, fired, neighbour, neighbour_fired = det.fire_strips(rng, np.nan_to_num(s), reached, response)
    flat = np.zeros(n * det.N_LAYERS * _WIDTH, dtype=np.float32)
    base = (np.arange(n) * (det.N_LAYERS * _WIDTH))[None, :] + (np.arange(det.N_LAYERS) * _WIDTH)[:, None]
    for idx, on in ((strip, fired), (neighbour, neighbour_fired)):
        col = idx - centre + _WIDTH // 2
        on = on & (col >= 0) & (col < _WIDTH)
        flat[(base + col)[on]] = 1.0
    det.add_noise(rng, flat, response.noise_per_strip)

    zero = ~is_signal
    return L0Sample(
        x=flat.reshape(n, *L0_WINDOW_SHAPE),
        pt_gev=np.where(zero, 0.0, pt_gev).astype(np.float32),
        eta=np.where(zero, 0.0, eta).astype(np.float32),
        eta_local=np.where(zero, 0.0, eta_local).astype(np.float32),
        charge=np.where(zero, 0.0, charge).astype(np.float32),
        is_signal=is_signal,
    )


def _sample_pt(
    rng: np.random.Generator, n: int, pt_range_gev: tuple[float, float], spectrum: str
) -> np.ndarray:
    lo, hi = pt_range_gev
    u = rng.random(n)
    if spectrum == "uniform":
        return lo + (hi - lo) * u
    # Inverse CDF of a power law pT^-k on [lo, hi].
    a = 1.0 - FALLING_INDEX
    return (lo**a + u * (hi**a - lo**a)) ** (1.0 / a)


def _strip_coordinates(
    rng: np.random.Generator,
    pt_gev: np.ndarray,
    eta: np.ndarray,
    charge: np.ndarray,
    response: DetectorResponse,
) -> np.ndarray:
    """Strip coordinate of the true track in each layer, (9, n); NaN where it never gets there."""
    p_gev = pt_gev * np.cosh(eta)
    alpha = np.arctan(np.sinh(eta))
    r0, z0 = 0.0, np.zeros_like(eta)
    if response.multiple_scattering:
        r0, z0 = det.MS_RADIUS_M, det.MS_RADIUS_M * np.sinh(eta)
        alpha_out = det.scatter(rng, alpha, p_gev)
    else:
        alpha_out = alpha
    k = det.curvature_per_m(p_gev, charge)
    s = np.empty((det.N_LAYERS, eta.size))
    for layer, r_m in enumerate(det.LAYER_RADII_M):
        z_m, reached = det.propagate_z(r0, z0, alpha_out, k, float(r_m))
        s[layer] = np.where(reached, det.strip_coordinate(z_m, r_m), np.nan)
    return s


def _validate(
    n: int, pt_range_gev: tuple[float, float], spectrum: str, eta_max: float, noise_only_frac: float
) -> None:
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise UserInputError(f"n must be an integer >= 1, got {n!r}")
    check_pt_range(pt_range_gev)
    if spectrum not in L0_SPECTRA:
        raise UserInputError(f"unknown pT spectrum {spectrum!r}; known: {', '.join(L0_SPECTRA)}")
    if not 0.0 < eta_max <= 2.5:
        raise UserInputError(f"eta_max must be in (0, 2.5], got {eta_max!r}")
    if not 0.0 <= noise_only_frac <= 1.0:
        raise UserInputError(f"noise_only_frac must be in [0, 1], got {noise_only_frac!r}")


def check_pt_range(pt_range_gev: tuple[float, float]) -> None:
    """Raise ``UserInputError`` unless ``pt_range_gev`` is two positive, ordered, finite values in GeV."""
    try:
        lo, hi = (float(v) for v in pt_range_gev)
    except (TypeError, ValueError):
        msg = f"pt_range_gev must be two numbers (low, high) in GeV, got {pt_range_gev!r}"
        raise UserInputError(msg) from None
    if not (lo > 0.0 and hi > 0.0):
        raise UserInputError(f"pT must be positive, got pt_range_gev={pt_range_gev!r}")
    if not lo <= hi < np.inf:
        raise UserInputError(f"pt_range_gev must be finite and ordered (low <= high), got {pt_range_gev!r}")
