"""Build small valid profile records (scenario ``profile``) for tests of the profile report."""

from __future__ import annotations

from datetime import UTC, datetime

from triggerbench.schema import BenchmarkRecord, LayerProfile, NumericalProfile, ProfileFigures

WORKLOAD = "muon-l0-teacher"
#: The source model's layers, in order.
LAYERS = ("conv1", "relu1", "conv2", "flatten", "dense1", "dense_out")
T0 = datetime(2025, 3, 1, tzinfo=UTC)


def _env() -> dict:
    return dict(
        hostname="node-7",
        platform="Linux",
        python_version="3.11.7",
        cpu_model="Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz",
        triggerbench_version="0.1.0",
        git_commit="0123456789abcdef",
    )


def _workload(name: str = WORKLOAD) -> dict:
    return dict(
        name=name,
        task="muon-l0-pt-eta-regression",
        model_name="l0",
        variant="teacher",
        source_format="keras",
        source_sha256="ab" * 32,
        input_shape=[9, 16, 1],
        output_shape=[2],
    )


def profile_record(
    runner: str,
    profile: ProfileFigures | None,
    *,
    workload: str = WORKLOAD,
    status: str = "ok",
    error: dict | None = None,
    device: str = "CPU",
    batch: int = 1,
) -> BenchmarkRecord:
    """A record of scenario ``profile`` (harness ``profiler``) holding ``profile``."""
    return BenchmarkRecord(
        status=status,
        error=error,
        timestamp_utc=T0,
        workload=_workload(workload),
        runner=dict(name=runner, backend=runner, batch_size=batch, precision="f32", device=device),
        scenario=dict(name="profile", harness="profiler"),
        profile=profile,
        environment=_env(),
    )


def timed_profile(times_us: dict[str, float], whole_call_s: float, overhead: float = 1.5, **fields):
    """A profile in seconds whose rows are ``times_us`` (layer -> µs), shares computed from them."""
    total_s = sum(times_us.values()) * 1e-6
    rows = fields.pop("rows", {})  # layer -> extra LayerProfile fields (fused_with, mapped, ...)
    layers = [
        LayerProfile(layer=name, time_s=t * 1e-6, share=t * 1e-6 / total_s, n_calls=100, **rows.get(name, {}))
        for name, t in times_us.items()
    ]
    return ProfileFigures(
        source=fields.pop("source", "session profiling"),
        unit="s",
        layers=layers,
        total_s=total_s,
        whole_call_s=whole_call_s,
        profiled_call_s=whole_call_s * overhead,
        n_calls=100,
        null_reasons={"total_cycles": "timed in seconds"},
        **fields,
    )


def cycles_profile(cycles: dict[str, int], numerical: list[NumericalProfile]) -> ProfileFigures:
    """A firmware profile in clock cycles (a synthesis report: no call is timed)."""
    total = sum(cycles.values())
    return ProfileFigures(
        source="vitis-hls csynth per module",
        unit="cycles",
        layers=[LayerProfile(layer=name, cycles=c, share=c / total) for name, c in cycles.items()],
        total_cycles=total,
        numerical=numerical,
        caveats=["latency of each module from the C-synthesis report, not measured"],
        null_reasons=dict.fromkeys(
            ("total_s", "whole_call_s", "profiled_call_s", "n_calls"), "read from a synthesis report"
        ),
    )


def numerical(layer: str, tensor: str, lo: float, hi: float, integer_bits: int, **fields) -> NumericalProfile:
    """Values in [lo, hi] against ``fixed<16, integer_bits>`` (signed), verdict from the range."""
    width = 16
    range_max = 2.0 ** (integer_bits - 1) - 2.0 ** -(width - integer_bits)
    range_min = -(2.0 ** (integer_bits - 1))
    overflows = lo < range_min or hi > range_max
    defaults = dict(
        n_values=1000,
        min=lo,
        max=hi,
        precision=f"fixed<{width},{integer_bits}>",
        width_bits=width,
        integer_bits=integer_bits,
        signed=True,
        range_min=range_min,
        range_max=range_max,
        overflow_mode="saturate",
        overflow_count=37 if overflows else 0,
        overflow_fraction=0.037 if overflows else 0.0,
        wasted_integer_bits=0,
        verdict="overflows" if overflows else "ok",
    )
    return NumericalProfile(layer=layer, tensor=tensor, **{**defaults, **fields})


def profile_set() -> list[BenchmarkRecord]:
    """Three backends on one workload: timed (one fusing, one with an unmapped node), firmware, skipped."""
    onnx = timed_profile(
        {"conv1": 40.0, "conv2": 30.0, "flatten": 2.0, "dense1": 20.0, "dense_out": 8.0},
        whole_call_s=90e-6,
        rows={"conv1": {"fused_with": ["relu1"], "backend_names": ["conv1_fused_relu"]}},
        source="onnxruntime session profiling",
    )
    keras = timed_profile(
        {
            "input_1": 0.0,  # an input: no time, left out of the table and the plot
            "conv1": 100.0,
            "relu1": 10.0,
            "conv2": 300.0,
            "flatten": 5.0,
            "dense1": 50.0,
            "Identity_copy": 35.0,
        },
        whole_call_s=200e-6,
        overhead=3.0,
        rows={
            "Identity_copy": {"mapped": False, "backend_names": ["Identity_copy"], "op_types": ["Identity"]}
        },
        caveats=["layer by layer: XLA fuses layers in the real call"],
        source="keras layer by layer",
    )
    firmware = cycles_profile(
        {"conv1": 120, "relu1": 4, "conv2": 300, "flatten": 1, "dense1": 60, "dense_out": 15},
        [
            numerical("conv1", "weight", -0.8, 0.9, 2),
            numerical("conv1", "activation", -3.0, 20.0, 6),
            numerical("dense1", "activation", -3.0, 70.0, 6),
            numerical("dense1", "weight", -0.25, 0.3, 6, wasted_integer_bits=4, verdict="wastes-bits"),
            numerical("dense1", "bias", 0.01, 0.02, 6, verdict="unknown", note="no calibration data"),
        ],
    )
    unavailable = dict(type="ProfileUnavailableError", message="the DPU runner has no per-layer profiler")
    return [
        profile_record("onnxruntime", onnx),
        profile_record("keras", keras),
        profile_record("hls4ml", firmware, device="xcu50"),
        profile_record("vart", None, status="skipped", error=unavailable, device="DPU"),
    ]
