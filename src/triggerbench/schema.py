"""The one result record: a frozen pydantic model, versioned, with units in every field name.

Format history (bump ``SCHEMA_VERSION`` and add a step to ``results.migrate`` on change):

- 1: first version (spine): identity, workload, runner, scenario, performance, validity,
  trigger, power, accuracy, fpga, environment, status.
- 2: FPGA backends: ``fpga`` becomes a list (one entry per source: C-synthesis, Vivado
  synthesis, co-simulation, RTL testbench, open synthesis, estimate) with best/worst latency,
  interval range, CARRY, method and details; ``performance.emulated`` marks emulation speed;
  the ``firmware-report`` scenario (harness ``report``) holds figures read from a tool's reports;
  workloads may come from an ``hls4ml-project``.
- 3: ``environment.git_dirty``: whether the checkout had uncommitted changes (null: unknown);
  ``power_nominal``: the device's nominal TDP (source ``nominal-tdp``) and the energy per
  inference it implies, beside the measured ``power``, never instead of it (null: not computed).
- 4: GPUs and energy: ``runner.device_model`` (the device's model name, what the nominal TDP is
  looked up by), ``runner.gpu`` (NVML's view of the GPU: name, driver, CUDA, compute capability),
  ``runner.timing`` (host-to-host or device-only); ``scenario.requests_in_flight``; in ``power``
  and ``power_nominal``: ``window_s``, ``energy_by_domain_j``, ``idle`` (the idle baseline and
  the energy above it) and ``notes`` (e.g. a window lengthened for a coarse counter).
- 5: one scenario table (``triggerbench.scenarios``): ``scenario.harness`` is the harness that
  ran, null in a record not measured whose harness only a measured latency would have chosen;
  ``workload.input_dtype``, ``workload.fixed_batch_size`` (a model's own fixed batch) and
  ``workload.quantization`` (the model's quantization; ``runner.precision`` is the arithmetic
  that ran, in one vocabulary: ``precision.py``); ``trigger.latency_p99_s`` is null, with the
  reason, for a stream of fewer than 100 events (a percentile needs one event beyond it).
- 6: profiles (``triggerbench profile``): ``profile`` holds a per-layer profile (scenario
  ``profile``, harness ``profiler``): one row per source layer with its time or cycles, share,
  fused layers and calls, and, for the firmware path, the numerical profile of each layer's
  weights and activations against the fixed-point precision that was chosen.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from triggerbench import scenarios

SCHEMA_VERSION = 6

Scalar = str | int | float | bool | None


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _WithNullReasons(_Frozen):
    """A section whose ``None`` figures must each name why in ``null_reasons``."""

    null_reasons: dict[str, str] = Field(
        default_factory=dict, description="Why each null figure of this section was not measured."
    )

    @model_validator(mode="after")
    def _every_null_has_a_reason(self) -> _WithNullReasons:
        missing = [
            name
            for name in type(self).model_fields
            if name != "null_reasons" and getattr(self, name) is None and name not in self.null_reasons
        ]
        if missing:
            raise ValueError(f"{type(self).__name__}: null without a reason: {', '.join(missing)}")
        return self


class Status(StrEnum):
    """Outcome of one measurement."""

    OK = "ok"
    SKIPPED = "skipped"
    FAILED = "failed"


class PowerSource(StrEnum):
    """Where a power figure comes from; only ``measured-*`` sources are measurements."""

    MEASURED_RAPL = "measured-rapl"
    MEASURED_NVML = "measured-nvml"
    MEASURED_XRT = "measured-xrt"
    NOMINAL_TDP = "nominal-tdp"
    UNAVAILABLE = "unavailable"


class ErrorInfo(_Frozen):
    """What went wrong in a failed or skipped measurement."""

    type: str
    message: str
    errcode: int | None = None
    stderr: str | None = None


class WorkloadInfo(_Frozen):
    """The model that ran: identity of the exact artifact."""

    name: str
    task: str
    model_name: str
    variant: str | None = None
    source_format: Literal["keras", "onnx", "hls4ml-project"]
    artifact_format: str | None = None
    artifact_sha256: str | None = None
    source_sha256: str
    parameter_count: int | None = None
    artifact_size_bytes: int | None = None
    input_shape: list[int] = Field(description="Per-sample input shape, batch axis excluded.")
    output_shape: list[int] = Field(description="Per-sample output shape, batch axis excluded.")
    input_dtype: str | None = Field(
        default=None, description="The input's element type as numpy names it (null: not recorded)."
    )
    fixed_batch_size: int | None = Field(
        default=None, ge=1, description="The batch size fixed in the model's input (null: any batch)."
    )
    quantization: str | None = Field(
        default=None,
        description="How the model itself is quantized (e.g. HGQ2 quantization-aware, int8 QDQ); "
        "null: a float model. What ran is runner.precision.",
    )


class GpuInfo(_Frozen):
    """An NVIDIA GPU as NVML and the CUDA runtime describe it."""

    index: int = Field(ge=0, description="NVML device index (before CUDA_VISIBLE_DEVICES).")
    name: str
    uuid: str | None = None
    driver_version: str | None = None
    cuda_driver_version: str | None = Field(default=None, description="Highest CUDA the driver supports.")
    cuda_runtime_version: str | None = Field(default=None, description="CUDA the backend was built for.")
    compute_capability: str | None = None
    memory_total_bytes: int | None = None
    power_limit_w: float | None = None


#: What a query's time includes on an accelerator: ``host-to-host`` copies the inputs from host
#: memory to the device and the outputs back (what a trigger sees); ``device-only`` keeps both
#: in device memory (IOBinding), the kernel time alone.
Timing = Literal["host-to-host", "device-only"]


class RunnerInfo(_Frozen):
    """The backend that ran the model and its settings."""

    name: str
    backend: str
    backend_version: str | None = None
    device: str | None = None
    device_model: str | None = Field(
        default=None, description="The device's model name (CPU model, GPU name, FPGA card)."
    )
    gpu: GpuInfo | None = None
    timing: Timing | None = None
    precision: str | None = Field(
        default=None,
        description="The arithmetic that ran: f32, f16, bf16, int8, or fixed-point with its widths "
        "(triggerbench.precision).",
    )
    batch_size: int = Field(ge=1)
    threads: int | None = None
    settings: dict[str, Scalar] = Field(default_factory=dict)


class ScenarioInfo(_Frozen):
    """How queries were issued (LoadGen scenario, tight loop or trigger stream) and its settings."""

    name: Literal[scenarios.NAMES]  # type: ignore[valid-type]
    harness: Literal[scenarios.HARNESSES] | None = Field(  # type: ignore[valid-type]
        description="The harness that ran (null: not measured, and only a measured latency "
        "would have chosen it)."
    )
    requests_in_flight: int = Field(
        default=1, ge=1, description="Queries the harness keeps issued at once (1: synchronous)."
    )
    settings: dict[str, Scalar] = Field(default_factory=dict)


class PerformanceFigures(_WithNullReasons):
    """Throughput and latency; times in seconds, one query = one batch of ``batch_size``."""

    throughput_samples_per_s: float | None = None
    throughput_queries_per_s: float | None = None
    latency_p50_s: float | None = None
    latency_p90_s: float | None = None
    latency_p99_s: float | None = None
    latency_p999_s: float | None = None
    latency_max_s: float | None = None
    latency_mean_s: float | None = None
    latency_stdev_s: float | None = None
    n_queries: int | None = None
    n_samples: int | None = None
    n_warmup: int | None = None
    duration_s: float | None = None
    harness_overhead_per_query_s: float | None = None
    repeat_throughput_rel_stdev: float | None = Field(
        default=None, description="Relative stdev of throughput across repeated windows."
    )
    emulated: bool = Field(
        default=False,
        description="True when these figures time a software emulation of hardware (hls4ml "
        "C-simulation, Verilator RTL simulation) on the host CPU: never the device's speed.",
    )


class Validity(_Frozen):
    """LoadGen's VALID/INVALID verdict, or UNCHECKED for harnesses without one."""

    verdict: Literal["VALID", "INVALID", "UNCHECKED"]
    reasons: list[str] = Field(default_factory=list)
    loadgen_log_dir: str | None = None


class RateTrial(_Frozen):
    """One rate tried by the sustained-rate search."""

    event_rate_hz: float
    deadline_miss_frac: float
    n_events: int


class TriggerFigures(_WithNullReasons):
    """The trigger scenario: events at a fixed rate, each with a deadline."""

    event_rate_hz: float
    stream_duration_s: float
    deadline_s: float
    n_events: int
    deadline_miss_frac: float
    queue_depth_max_events: int
    latency_p99_s: float | None = Field(
        default=None, description="Per event; null when fewer events than the p99 needs (100)."
    )
    max_sustained_rate_hz: float | None = None
    sustained_miss_frac_limit: float = 1e-3
    rate_search: list[RateTrial] = Field(default_factory=list)


class IdleBaseline(_WithNullReasons):
    """The device's power with nothing running, read just before the window, and what is above it."""

    power_w: float
    duration_s: float
    energy_above_idle_j: float | None = None
    energy_per_inference_above_idle_j: float | None = None


class PowerFigures(_WithNullReasons):
    """Mean power and energy per inference, with the figure's source.

    ``energy_per_inference_j`` is the window's mean power over the throughput (so the harness'
    own start-up inside the window does not count as inferences); ``idle`` holds the idle
    baseline and the same figures above it.
    """

    source: PowerSource
    power_mean_w: float | None = None
    energy_j: float | None = None
    energy_per_inference_j: float | None = None
    scope: str | None = Field(default=None, description="What the meter covers, e.g. CPU package 0.")
    window_s: float | None = Field(default=None, description="Length of the meter's window.")
    energy_by_domain_j: dict[str, float] = Field(
        default_factory=dict, description="Energy per meter domain, e.g. package-0, dram-0, gpu-0."
    )
    idle: IdleBaseline | None = None
    notes: list[str] = Field(default_factory=list)

    @classmethod
    def unavailable(cls, reason: str, source: PowerSource = PowerSource.UNAVAILABLE) -> PowerFigures:
        """A section with every figure null for one reason (no meter, nothing to rate)."""
        figures = [
            n for n in cls.model_fields if n not in ("source", "null_reasons", "energy_by_domain_j", "notes")
        ]
        return cls(source=source, null_reasons=dict.fromkeys(figures, reason))


class AccuracyFigures(_WithNullReasons):
    """Agreement with the float reference on a fixed validation set, plus task metrics."""

    reference: str | None = None
    n_samples: int | None = None
    max_abs_diff: float | None = None
    mean_abs_diff: float | None = None
    task_metrics: dict[str, float] = Field(default_factory=dict)


FpgaSource = Literal["hls-csynth", "hls-cosim", "vivado-synth", "rtl-testbench", "open-synthesis", "estimate"]


class FpgaFigures(_WithNullReasons):
    """One set of FPGA latency / resource figures from one source, with the part's totals.

    Sources: ``hls-csynth`` (HLS C-synthesis estimate), ``hls-cosim`` (C/RTL co-simulation),
    ``vivado-synth`` (post-synthesis utilisation), ``rtl-testbench`` (clock edges counted in an RTL
    simulation), ``open-synthesis`` (Yosys, no timing closure), ``estimate`` (analytic, see
    ``method``). Latency and interval are worst case; ``*_best_*`` / ``*_min_*`` the best case.
    """

    source: FpgaSource
    method: str | None = Field(default=None, description="How the figures were obtained.")
    part: str | None = None
    clock_period_ns: float | None = Field(
        default=None, description="Clock the latency in seconds is computed at (estimated or target)."
    )
    target_clock_period_ns: float | None = None
    latency_cycles: int | None = None
    latency_best_cycles: int | None = None
    latency_s: float | None = None
    interval_cycles: int | None = None
    interval_min_cycles: int | None = None
    lut: int | None = None
    ff: int | None = None
    dsp: int | None = None
    bram: float | None = Field(default=None, description="BRAM in 18K blocks.")
    uram: int | None = None
    carry: int | None = None
    lut_available: int | None = None
    ff_available: int | None = None
    dsp_available: int | None = None
    bram_available: float | None = None
    uram_available: int | None = None
    details: dict[str, Scalar] = Field(default_factory=dict, description="Flow-specific extras.")

    @classmethod
    def with_reason(cls, source: str, reason: str, **figures: Any) -> FpgaFigures:
        """Build a section whose figures not given (or given as None) are null for ``reason``."""
        reasons = dict(figures.pop("null_reasons", {}))
        for name in cls.model_fields:
            if name not in ("source", "null_reasons", "details") and figures.get(name) is None:
                reasons.setdefault(name, reason)
        return cls(source=source, null_reasons=reasons, **figures)


ProfileUnit = Literal["s", "cycles"]


class LayerProfile(_Frozen):
    """One row of a per-layer profile: a layer of the source model, as one backend ran it.

    Rows from different backends line up by ``layer``. A backend node that maps to no source
    layer keeps the backend's own name, with ``mapped`` False; a node that fused several source
    layers is counted once, on the first, and names the others in ``fused_with``. The profile's
    ``unit`` says which of ``time_s`` / ``cycles`` the rows hold.
    """

    layer: str = Field(description="The source model's layer name (the backend's own name if unmapped).")
    mapped: bool = Field(default=True, description="Whether ``layer`` is a layer of the source model.")
    backend_names: list[str] = Field(
        default_factory=list, description="The backend's nodes, kernels or modules counted in this row."
    )
    op_types: list[str] = Field(default_factory=list, description="The backend's operation types.")
    fused_with: list[str] = Field(
        default_factory=list, description="Other source layers the backend fused into this row's nodes."
    )
    status: str | None = Field(
        default=None, description="The backend's status for the row (e.g. OpenVINO's OPTIMIZED_OUT)."
    )
    time_s: float | None = Field(default=None, ge=0, description="Time per call, median over calls.")
    cycles: int | None = Field(default=None, ge=0, description="Clock cycles (firmware latency).")
    share: float | None = Field(
        default=None, ge=0, le=1, description="This row's part of the profile's total (time or cycles)."
    )
    n_calls: int | None = Field(default=None, ge=0, description="Calls the time is taken over.")
    resources: dict[str, float] = Field(
        default_factory=dict, description="Resources this layer uses (lut, ff, dsp, bram) where known."
    )
    details: dict[str, Scalar] = Field(default_factory=dict, description="Backend-specific extras.")


class NumericalProfile(_Frozen):
    """The values one tensor of one layer takes, against the fixed-point type chosen for it.

    ``overflow_count`` counts values outside the type's range (saturated or wrapped by the
    firmware, per ``overflow_mode``); ``wasted_integer_bits`` counts integer bits above what the
    largest value needs.
    """

    layer: str
    tensor: Literal["weight", "bias", "activation"]
    n_values: int = Field(ge=0)
    min: float | None = None
    max: float | None = None
    precision: str | None = Field(default=None, description="The type chosen, e.g. fixed<16,6>.")
    width_bits: int | None = Field(default=None, ge=1)
    integer_bits: int | None = None
    signed: bool | None = None
    range_min: float | None = Field(default=None, description="Smallest value the type holds.")
    range_max: float | None = Field(default=None, description="Largest value the type holds.")
    overflow_mode: str | None = Field(default=None, description="saturate or wrap (AP_SAT / AP_WRAP).")
    overflow_count: int | None = Field(default=None, ge=0)
    overflow_fraction: float | None = Field(default=None, ge=0, le=1)
    wasted_integer_bits: int | None = Field(default=None, ge=0)
    verdict: Literal["ok", "overflows", "wastes-bits", "unknown"] = "unknown"
    note: str | None = Field(default=None, description="Why the verdict is unknown, or what to change.")


class ProfileFigures(_WithNullReasons):
    """A per-layer profile from one backend's profiler, and what it costs.

    ``total`` is the sum over rows; ``whole_call_s`` a plain call's median time with the
    profiler off, ``profiled_call_s`` with it on: their ratio is the profiler's overhead, and
    ``total`` against ``whole_call_s`` shows what the rows miss or add (per-layer calls that
    cannot fuse, time between nodes).
    """

    source: str = Field(description="The profiler, e.g. 'onnxruntime session profiling'.")
    unit: ProfileUnit
    layers: list[LayerProfile] = Field(default_factory=list)
    total_s: float | None = Field(default=None, ge=0, description="Sum of the rows' time_s.")
    total_cycles: int | None = Field(default=None, ge=0, description="Sum of the rows' cycles.")
    whole_call_s: float | None = Field(default=None, ge=0, description="Plain call, profiler off.")
    profiled_call_s: float | None = Field(default=None, ge=0, description="Call with the profiler on.")
    n_calls: int | None = Field(default=None, ge=0, description="Profiled calls the rows are taken over.")
    caveats: list[str] = Field(default_factory=list, description="What the figures do not show.")
    numerical: list[NumericalProfile] = Field(
        default_factory=list, description="Weights and activations against the chosen precision."
    )


class Environment(_Frozen):
    """What decides whether a figure can be trusted (as pyperf records it)."""

    hostname: str
    platform: str
    python_version: str
    cpu_model: str | None = None
    cpu_count_logical: int | None = None
    cores_used: list[int] = Field(default_factory=list)
    thread_settings: dict[str, str] = Field(default_factory=dict)
    cpu_governor: str | None = None
    cpu_turbo: str | None = None
    loadavg_1m_5m_15m: list[float] = Field(default_factory=list)
    runnable_threads_others: int | None = Field(
        default=None,
        description="Threads runnable at the start beside the measuring one (/proc/stat procs_running, "
        "median of a few reads; null: not Linux). Unlike the load average it forgets earlier work.",
    )
    packages: dict[str, str] = Field(default_factory=dict)
    triggerbench_version: str
    git_commit: str | None = None
    #: True when tracked files had uncommitted changes: ``git_commit`` is then not what ran.
    git_dirty: bool | None = None


def _new_run_id() -> str:
    return uuid.uuid4().hex


def _utc_now() -> datetime:
    return datetime.now(UTC)


class BenchmarkRecord(_Frozen):
    """One measurement of one workload on one runner in one scenario."""

    schema_version: Literal[6] = SCHEMA_VERSION
    run_id: str = Field(default_factory=_new_run_id)
    timestamp_utc: datetime = Field(default_factory=_utc_now)
    status: Status
    error: ErrorInfo | None = None
    workload: WorkloadInfo
    runner: RunnerInfo
    scenario: ScenarioInfo
    performance: PerformanceFigures | None = None
    validity: Validity = Validity(verdict="UNCHECKED")
    trigger: TriggerFigures | None = None
    power: PowerFigures = PowerFigures.unavailable("no power meter")
    #: The device's nominal TDP and TDP / throughput, labelled as such: never a measurement.
    power_nominal: PowerFigures | None = Field(
        default=None,
        description="Nominal TDP of the device (source nominal-tdp), beside the measured power; "
        "null when the record has no throughput.",
    )
    accuracy: AccuracyFigures | None = None
    fpga: list[FpgaFigures] = Field(default_factory=list)
    #: A per-layer profile (scenario ``profile``); null in every other record.
    profile: ProfileFigures | None = None
    environment: Environment
    warnings: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _status_matches_content(self) -> BenchmarkRecord:
        if self.status is not Status.OK and self.error is None:
            raise ValueError(f"a {self.status.value} record must say why in 'error'")
        figures = (self.performance, self.trigger, self.profile)
        if self.status is Status.OK and all(f is None for f in figures) and not self.fpga:
            raise ValueError("an ok record must hold performance, trigger, fpga or profile figures")
        return self


def json_schema() -> dict[str, Any]:
    """Return the JSON Schema of ``BenchmarkRecord``."""
    return BenchmarkRecord.model_json_schema()
