"""Analytic FPGA estimate of an hls4ml firmware from the Keras model alone (no vendor tools).

For models the open RTL flow does not take (float models, large CNNs) this gives an order of
magnitude, always labelled ``estimate`` with its formula in ``method``:

- multiplications per layer = (output positions) x (kernel size): a Dense layer n_in x n_out, a
  Conv2D out_h x out_w x k_h x k_w x c_in x c_out (zero weights, which hls4ml drops, excluded);
- hls4ml computes P output positions at once (ParallelizationFactor, default 1; always 1 under
  io_stream) with kernel x P multipliers, each reused R times (reuse factor);
- DSP = sum over layers of ceil(kernel mults x P / R) x DSPs per product, a product of two w-bit
  operands taking ceil(w / 27) x ceil(w / 18) DSP48E2 slices (27x18 multiplier);
- latency = sum over layers of (positions / P x R + 2) cycles for a layer with weights (multiply,
  adder tree), + 1 for each activation or pooling stage, + 1 per stage for the FIFO under io_stream;
- II = the largest positions / P x R (io_parallel).

It models neither LUT-mapped narrow products (HGQ2 models), nor the adder-tree depth, nor the
tool's own optimisations; tests compare it with a real report and state the error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from triggerbench.fpga.parts import part_totals
from triggerbench.schema import FpgaFigures

#: Cycles a weighted layer needs beyond its reuse factor: a registered multiply, then the adder tree.
PIPELINE_CYCLES = 2
#: Layers hls4ml makes separate one-cycle stages (activations, pooling); reshapes are free.
_STAGE_NAMES = ("Activation", "ReLU", "LeakyReLU", "Softmax", "Pooling", "BatchNormalization")
_FREE_NAMES = ("InputLayer", "Flatten", "Reshape", "Dropout", "Permute")


@dataclass(frozen=True)
class LayerCost:
    """Multiplications, multipliers and cycles of one Keras layer."""

    name: str
    kind: str
    #: Products per event (every output position times the kernel's non-zero weights).
    mults: int
    #: Products computed at once: kernel x parallel positions, each multiplier reused R times.
    multipliers: int
    cycles: int
    #: Cycles before the layer takes the next event: serial positions x R.
    interval: int


def _activation_stage(layer: Any) -> int:
    """1 when a weighted layer carries its own non-linear activation (hls4ml splits it off)."""
    act = getattr(layer, "activation", None)
    name = getattr(act, "__name__", None) or (act.get_config().get("activation") if act else None)
    return 0 if name in (None, "linear", "identity") else 1


def layer_costs(
    model: Any, reuse_factor: int, io_stream: bool = False, parallelization: dict[str, int] | None = None
) -> list[LayerCost]:
    """Per-layer multiplications and cycles of ``model`` at ``reuse_factor``.

    ``parallelization`` maps a layer name to hls4ml's ParallelizationFactor (output positions
    computed at once; hls4ml's default, 1, computes a conv map one position after another).
    """
    costs = []
    stream = 1 if io_stream else 0
    parallelization = parallelization or {}
    for layer in model.layers:
        kind = type(layer).__name__
        # HGQ2 layers hold the quantized kernel (zeros after quantization are dropped too).
        kernel = getattr(layer, "qkernel", None)
        kernel = getattr(layer, "kernel", None) if kernel is None else kernel
        if kernel is not None and not kind.startswith("Embedding"):
            weights = np.asarray(kernel.numpy() if hasattr(kernel, "numpy") else kernel)
            nonzero = int(np.count_nonzero(weights))
            # Every output position (pixel of a conv map, row of a 3-D Dense input) does a full kernel.
            positions = int(np.prod(layer.output.shape[1:-1])) if len(layer.output.shape) > 2 else 1
            parallel = 1 if io_stream else max(1, min(parallelization.get(layer.name, 1), positions))
            serial = math.ceil(positions / parallel)
            # A fused activation is a stage of its own in hls4ml (with its own FIFO under io_stream).
            cycles = (
                serial * reuse_factor + PIPELINE_CYCLES + stream + _activation_stage(layer) * (1 + stream)
            )
            multipliers = math.ceil(nonzero * parallel / reuse_factor)
            costs.append(
                LayerCost(layer.name, kind, positions * nonzero, multipliers, cycles, serial * reuse_factor)
            )
        elif any(s in kind for s in _STAGE_NAMES):
            costs.append(LayerCost(layer.name, kind, 0, 0, 1 + stream, 1))
        elif not any(kind.startswith(s) for s in _FREE_NAMES):
            costs.append(LayerCost(layer.name, kind, 0, 0, 1 + stream, 1))  # unknown: one stage, no mults
    return costs


def dsp_per_product(weight_bits: int, data_bits: int | None = None) -> int:
    """DSP48E2 slices for one product of two fixed-point operands (27 x 18 multiplier)."""
    data_bits = data_bits or weight_bits
    wide, narrow = max(weight_bits, data_bits), min(weight_bits, data_bits)
    return math.ceil(wide / 27) * math.ceil(narrow / 18)


def estimate(
    model: Any,
    *,
    reuse_factor: int = 1,
    weight_bits: int | None = 16,
    clock_period_ns: float = 5.0,
    part: str | None = None,
    io_type: str = "io_parallel",
    parallelization: dict[str, int] | None = None,
) -> FpgaFigures:
    """The analytic ``estimate`` figure set of ``model`` (see the module docstring for the formula).

    Args:
        model: A built Keras model.
        reuse_factor: hls4ml reuse factor R (each multiplier serves R products).
        weight_bits: Fixed-point width of weights and data; None when the model's own quantizers
            decide it (HGQ2): those narrow products map to LUTs, so no DSP figure is given.
        clock_period_ns: Clock the latency in seconds is computed at.
        part: FPGA part the firmware targets.
        io_type: ``io_parallel`` or ``io_stream`` (the interval is estimated for io_parallel only).
        parallelization: hls4ml's ParallelizationFactor per layer name (default 1).
    """
    io_stream = io_type == "io_stream"
    costs = layer_costs(model, reuse_factor, io_stream, parallelization)
    mults = sum(c.mults for c in costs)
    latency = sum(c.cycles for c in costs)
    null_reasons = {
        "lut": "not modelled by the multiplication-count estimate",
        "ff": "not modelled by the multiplication-count estimate",
        "bram": "not modelled by the multiplication-count estimate",
        "uram": "not modelled by the multiplication-count estimate",
        "carry": "not modelled by the multiplication-count estimate",
        "latency_best_cycles": "the estimate gives one latency",
        "interval_min_cycles": "the estimate gives one interval",
        "target_clock_period_ns": "the estimate uses the configured clock",
    }
    totals = (part_totals(part) if part else None) or {}
    for name in ("lut", "ff", "dsp", "bram", "uram"):
        if name not in totals:
            null_reasons[f"{name}_available"] = "not in triggerbench's table of part totals (fpga/parts.py)"
    dsp = None
    if weight_bits is None:
        null_reasons["dsp"] = "narrow quantized products map to LUTs, which this estimate does not model"
    else:
        per = dsp_per_product(weight_bits)
        dsp = sum(c.multipliers * per for c in costs)
    interval = None
    if io_stream:
        null_reasons["interval_cycles"] = "io_stream intervals depend on the stream widths; not estimated"
    else:
        interval = max((c.interval for c in costs), default=1)
    if part is None:
        null_reasons["part"] = "no part given"
    width = f"{weight_bits}-bit" if weight_bits else "quantizer-decided"
    method = (
        f"analytic: DSP = sum ceil(kernel mults x P / R) x DSPs per {width} product; latency = sum "
        f"(positions/P x R + {PIPELINE_CYCLES}) per weighted layer + 1 per activation/pooling stage"
        + (" + 1 per stage (io_stream FIFO)" if io_stream else "")
        + "; II = max positions/P x R"
    )
    return FpgaFigures(
        source="estimate",
        method=method,
        part=part,
        clock_period_ns=clock_period_ns,
        latency_cycles=latency,
        latency_s=latency * clock_period_ns * 1e-9,
        interval_cycles=interval,
        dsp=dsp,
        lut_available=totals.get("lut"),
        ff_available=totals.get("ff"),
        dsp_available=totals.get("dsp"),
        bram_available=totals.get("bram"),
        uram_available=totals.get("uram"),
        null_reasons=null_reasons,
        details={
            "multiplications": mults,
            "reuse_factor": reuse_factor,
            "io_type": io_type,
            "layers": ", ".join(f"{c.name}:{c.multipliers}m/{c.cycles}c" for c in costs),
        },
    )
