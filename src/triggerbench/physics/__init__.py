"""Physics-motivated toy simulators of the ATLAS L0 muon trigger windows and of LLP images.

Real ATLAS data is not public; these simulators build the CNN inputs from public numbers (layer radii,
strip pitch, field, detector response). See ``detector`` for the geometry and its conventions.
"""

from triggerbench.physics.detector import (
    LAYER_NAMES,
    LAYER_RADII_M,
    N_LAYERS,
    N_STRIPS,
    STRIP_PITCH_M,
    DetectorResponse,
)
from triggerbench.physics.l0 import (
    L0_LABEL_NAMES,
    L0_SPECTRA,
    L0_TARGET_NAMES,
    L0_WINDOW_SHAPE,
    L0Sample,
    simulate_l0,
)
from triggerbench.physics.llp import LLP_IMAGE_SHAPE, LLP_TARGET_NAMES, LlpSample, simulate_llp

__all__ = [
    "DetectorResponse",
    "L0Sample",
    "L0_LABEL_NAMES",
    "L0_SPECTRA",
    "L0_TARGET_NAMES",
    "L0_WINDOW_SHAPE",
    "LAYER_NAMES",
    "LAYER_RADII_M",
    "LLP_IMAGE_SHAPE",
    "LLP_TARGET_NAMES",
    "LlpSample",
    "N_LAYERS",
    "N_STRIPS",
    "STRIP_PITCH_M",
    "simulate_l0",
    "simulate_llp",
]
