"""hls4ml conversion settings: defaults, validation of ``-O KEY=VALUE`` options, and the layer config.

Float models get an explicit fixed-point precision on every weight, bias, accumulator and result
(never ``'auto'``: hls4ml infers huge or too-narrow 'auto' result types in some graphs, issue
1512); HGQ2 models carry their own bit widths and are converted without a precision config, which
keeps the C-simulation bit-exact with Keras.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, Field, field_validator

from triggerbench.models.artifact import is_hgq
from triggerbench.options import OPTIONS_CONFIG, Flag, Number, WholeNumber, any_case

Backend = Literal["Vitis", "Vivado"]
IoType = Literal["io_parallel", "io_stream"]
Strategy = Literal["Latency", "Resource"]
BACKENDS: tuple[str, ...] = get_args(Backend)
IO_TYPES: tuple[str, ...] = get_args(IoType)
STRATEGIES: tuple[str, ...] = get_args(Strategy)
#: Parts with a name here: the default Alveo U50 and the seed talk's Virtex UltraScale+.
KNOWN_PARTS = {"u50": "xcu50-fsvh2104-2-e", "vu13p": "xcvu13p-fhga2104-2L-e"}
_FIXED = re.compile(r"^(ap_)?u?fixed<\s*(\d+)\s*,\s*(-?\d+)\s*(,\s*\w+\s*)*>$")
_PRECISION_KEYS = ("result", "weight", "bias", "accum")


class HlsSettings(BaseModel):
    """One hls4ml configuration; every field is an ``-O`` key of the ``hls4ml`` runner."""

    model_config = OPTIONS_CONFIG

    backend: Annotated[Backend, any_case(Backend)] = "Vitis"
    io_type: Annotated[IoType, any_case(IoType)] = "io_parallel"
    strategy: Annotated[Strategy, any_case(Strategy)] = "Latency"
    reuse_factor: WholeNumber = Field(1, ge=1)
    #: Output positions a conv layer computes at once (None: the HGQ2 layer's own, else hls4ml's 1).
    parallelization_factor: WholeNumber | None = Field(None, ge=1)
    part: str = KNOWN_PARTS["u50"]
    clock_period_ns: Number = Field(5.0, gt=0)
    #: Fixed-point type of float models' weights, biases, accumulators and results.
    precision: str = "fixed<32,12,RND_CONV,SAT>"
    #: Run HLS C-synthesis (needs ``vitis-run`` or ``vivado_hls`` on PATH).
    synth: Flag = False
    #: Also run C/RTL co-simulation after synthesis.
    cosim: Flag = False
    #: Refuse models with more multiplications per event: their C-simulation takes seconds per
    #: event (the LLP VGG's 97 M took ~8 s per event here), so an accuracy pass would take hours.
    max_csim_mults: WholeNumber = Field(10_000_000, ge=1)
    #: Kill the C-simulation build (g++) after this many seconds; the record is skipped with why.
    build_timeout_s: Number = Field(600.0, gt=0)
    #: Memory the C-simulation build may use, in MB (None: what /proc/meminfo calls available).
    #: A build estimated above it is refused; the compiler is also run under this address limit.
    build_memory_mb: WholeNumber | None = Field(None, ge=64)
    #: Warn when the firmware's mean |diff| from the float reference exceeds this percentage of
    #: the reference's output scale (its RMS): a sign of fixed-point overflow or saturation.
    fidelity_threshold_pct: Number = Field(5.0, gt=0)

    @field_validator("part", mode="before")
    @classmethod
    def _part_name(cls, value: Any) -> str:
        text = str(value).strip()
        if not re.fullmatch(r"[A-Za-z0-9-]+", text):
            raise ValueError(f"give a Xilinx part name such as {KNOWN_PARTS['u50']} (or u50 / vu13p)")
        return KNOWN_PARTS.get(text.lower(), text)

    @field_validator("precision", mode="before")
    @classmethod
    def _fixed_point(cls, value: Any) -> str:
        text = str(value).replace(" ", "")
        if not _FIXED.match(text):
            raise ValueError("use e.g. fixed<32,12,RND_CONV,SAT>")
        return text

    def key(self) -> dict[str, Any]:
        """The settings that change the C-simulation library (synthesis flags and limits do not)."""
        return self.model_dump(exclude=NOT_IN_BUILD_KEY)


KNOWN_KEYS = tuple(HlsSettings.model_fields)
#: Options that do not change the compiled C-simulation (flags, limits and checks).
NOT_IN_BUILD_KEY = {
    "synth", "cosim", "max_csim_mults", "build_timeout_s", "build_memory_mb", "fidelity_threshold_pct"
}  # fmt: skip


def layer_config(model: Any, settings: HlsSettings) -> dict[str, Any]:
    """The hls4ml config dict for ``model``: per layer, with explicit precisions for float models."""
    import hls4ml

    hgq = is_hgq(model)
    # granularity 'name' gives one entry per layer, so each precision can be set, not inferred.
    # HGQ2 layers carry their own types: no default precision, which could override them.
    extra = {} if hgq else {"default_precision": settings.precision}
    config = hls4ml.utils.config_from_keras_model(
        model,
        granularity="name",
        backend=settings.backend,
        default_reuse_factor=settings.reuse_factor,
        **extra,
    )
    config["Model"]["Strategy"] = settings.strategy
    config["Model"]["ReuseFactor"] = settings.reuse_factor
    for layer in config.get("LayerName", {}).values():
        if "ReuseFactor" in layer:
            layer["ReuseFactor"] = settings.reuse_factor
        if "ParallelizationFactor" in layer:
            if settings.parallelization_factor is not None:
                layer["ParallelizationFactor"] = settings.parallelization_factor
            elif hgq:
                # The config's 1 would override the factor the HGQ2 layer was built with.
                del layer["ParallelizationFactor"]
        if hgq:
            continue
        precision = layer.get("Precision")
        if isinstance(precision, dict):
            for name in _PRECISION_KEYS:
                if name in precision:
                    precision[name] = settings.precision
    return config


def precision_summary(model: Any, settings: HlsSettings) -> str:
    """One line saying what decided the bit widths (for the record's settings)."""
    if is_hgq(model):
        return "HGQ2 per-layer quantizers (no precision config)"
    return f"{settings.precision} for weights, biases, accumulators and results"


def config_hash(
    model_sha256: str, settings: HlsSettings, hls4ml_version: str, config: dict[str, Any] | None = None
) -> str:
    """Cache key of a compiled C-simulation: model bytes, settings, the layer config, hls4ml version.

    The layer config is part of the key so that a change in how it is derived rebuilds too.
    """
    payload = json.dumps(
        {"model": model_sha256, "settings": settings.key(), "hls4ml": hls4ml_version, "config": config},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:20]
