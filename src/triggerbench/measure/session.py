"""Measure one runner on one model in one scenario and build its record; failure is data."""

from __future__ import annotations

import functools
import traceback
import warnings
from pathlib import Path

import numpy as np

from triggerbench import environment, scenarios
from triggerbench.errors import ModelUnsupportedError, TriggerbenchUnstableWarning
from triggerbench.measure.accuracy import accuracy_pass
from triggerbench.measure.energy import EnergyReading
from triggerbench.measure.job import Context, Job
from triggerbench.measure.outcome import ScenarioOutcome
from triggerbench.measure.tight_loop import calibrate_latency_s, harness_overhead_per_query_s, run_tight_loop
from triggerbench.power import default_meter
from triggerbench.power.tdp import nominal_tdp
from triggerbench.runners import registry
from triggerbench.runners.base import Runner, RunnerDescription, RunnerOptions
from triggerbench.runners.null import NullRunner
from triggerbench.schema import (
    BenchmarkRecord,
    ErrorInfo,
    PowerFigures,
    PowerSource,
    RunnerInfo,
    ScenarioInfo,
    Status,
    WorkloadInfo,
)


def workload_info(ctx: Context, runner_formats: tuple[str, ...] = ()) -> WorkloadInfo:
    """Identity of the model; the artifact is the first format the runner reads."""
    a = ctx.artifact
    fmt = next((f for f in runner_formats if f in a.paths), None)
    return WorkloadInfo(
        name=ctx.workload_name,
        task=ctx.task,
        model_name=ctx.model_name,
        variant=ctx.variant,
        source_format=a.source_format,  # type: ignore[arg-type]
        artifact_format=fmt,
        artifact_sha256=a.sha256.get(fmt) if fmt else None,
        source_sha256=a.source_sha256,
        parameter_count=a.parameter_count,
        artifact_size_bytes=a.size_bytes(fmt) if fmt else None,
        input_shape=list(a.input_shape),
        output_shape=list(a.output_shape),
        input_dtype=a.input_dtype,
        fixed_batch_size=a.fixed_batch,
        quantization=a.quantization,
    )


def unmeasured_record(
    ctx: Context,
    job: Job,
    status: Status,
    error: ErrorInfo,
    formats: tuple[str, ...] = (),
    emulator: bool = False,
) -> BenchmarkRecord:
    """A skipped or failed record: identity and the reason, no figures."""
    harness = scenarios.harness_for(job.scenario, job.harness, emulator=emulator, latency_s=None)
    return BenchmarkRecord(
        run_id=job.run_id,
        status=status,
        error=error,
        workload=workload_info(ctx, formats),
        runner=RunnerInfo(
            name=job.runner,
            backend=job.runner,
            batch_size=job.batch_size,
            threads=job.threads,
            precision=job.precision,
        ),
        scenario=ScenarioInfo(name=job.scenario, harness=harness),
        environment=environment.capture(),
    )


def staged_batch(runner: Runner, ctx: Context, batch_size: int):
    """Real validation samples, repeated to fill the batch, so data-dependent kernels see real data."""
    return runner.stage(np.resize(ctx.inputs, (batch_size, *ctx.inputs.shape[1:])))


def _null_overhead_s(ctx: Context, job: Job) -> float:
    """The harness's own cost per query, measured with the null runner in the same loop."""
    null = NullRunner()
    null.prepare(ctx.artifact, RunnerOptions(batch_size=job.batch_size))
    return harness_overhead_per_query_s(
        functools.partial(null.infer, staged_batch(null, ctx, job.batch_size))
    )


def _run_scenario(
    query, ctx: Context, job: Job, log_dir: Path, emulator: bool = False, open_queue=None
) -> ScenarioOutcome:
    # open_queue: the runner's async_queue on the staged batch, for run_loadgen (offline and
    # server keep its requests in flight).
    settings = job.settings
    if job.scenario == "trigger":
        from triggerbench.measure.trigger import run_trigger

        return run_trigger(query, job.batch_size, settings)
    latency_s = calibrate_latency_s(query, min_queries=min(10, settings.min_query_count))
    harness = scenarios.harness_for(job.scenario, job.harness, emulator=emulator, latency_s=latency_s)
    if harness == "tight-loop":
        return run_tight_loop(query, job.batch_size, settings, _null_overhead_s(ctx, job))
    from triggerbench.measure.loadgen import loadgen_overhead_per_query_s, run_loadgen

    overhead_s = loadgen_overhead_per_query_s(settings, log_dir / "overhead")
    return run_loadgen(
        job.scenario,
        query,
        job.batch_size,
        settings,
        log_dir,
        latency_s,
        harness_overhead_per_query_s=overhead_s,
        open_queue=open_queue,
    )


def _device_model(description, cpu_model: str | None) -> str | None:
    """The model of the device the runner ran on: its own word, else the host CPU's."""
    if description.device_model:
        return description.device_model
    return cpu_model if description.device == "CPU" else None


def nominal_power_figures(
    device_model: str | None, throughput_samples_per_s: float | None
) -> PowerFigures | None:
    """The device's nominal TDP and TDP / throughput, labelled nominal; None without throughput.

    A model the TDP table does not name (or no model at all) keeps the section, with null
    figures and the reason, so the record says why there is no nominal figure.
    """
    if not throughput_samples_per_s:
        return None
    source = PowerSource.NOMINAL_TDP
    if device_model is None:
        return PowerFigures.unavailable("the runner names no device model: no nominal TDP", source)
    row, reason = nominal_tdp(device_model)
    if row is None:
        return PowerFigures.unavailable(reason, source)
    not_a_window = "a nominal TDP is a rating, not an energy counted over a window"
    return PowerFigures(
        source=source,
        power_mean_w=row.tdp_w,
        energy_per_inference_j=row.tdp_w / throughput_samples_per_s,
        scope=f"nominal TDP of {row.name} ({row.tdp_w:g} W), not measured (source: {row.source})",
        null_reasons=dict.fromkeys(("energy_j", "window_s", "idle"), not_a_window),
    )


def not_measurable(ctx: Context, job: Job) -> BenchmarkRecord | None:
    """The record of a job that cannot start (runner missing, unavailable, refusing the model).

    Cheap (no model is loaded), so the parent checks it before starting a measuring process.
    """
    try:
        cls = registry.get(job.runner)
    except Exception as exc:
        return unmeasured_record(
            ctx, job, Status.FAILED, ErrorInfo(type=type(exc).__name__, message=str(exc))
        )
    ok, reason = cls.available()
    if not ok:
        error = ErrorInfo(type="RunnerUnavailable", message=reason)
        return unmeasured_record(ctx, job, Status.SKIPPED, error, cls.formats, cls.emulator)
    if refused := cls.refuses(ctx.artifact):
        readable = any(f in ctx.artifact.paths for f in cls.formats)
        error = ErrorInfo(type="ModelUnsupported" if readable else "FormatUnsupported", message=refused)
        return unmeasured_record(ctx, job, Status.SKIPPED, error, cls.formats, cls.emulator)
    return None


def measure_one(ctx: Context, job: Job, log_dir: Path | None = None) -> BenchmarkRecord:
    """Prepare, check accuracy, measure, and build the record; exceptions become failed records."""
    env = environment.capture()
    # One folder per measurement, so LoadGen's logs stay beside the record they belong to.
    log_dir = log_dir or (job.out_dir / "loadgen" / job.run_id)
    if (record := not_measurable(ctx, job)) is not None:
        return record
    cls = registry.get(job.runner)
    try:
        return _measure(ctx, job, cls, env, log_dir)
    except ModelUnsupportedError as exc:  # the runner works here but does not take this model
        error = ErrorInfo(type="ModelUnsupported", message=str(exc))
        return unmeasured_record(ctx, job, Status.SKIPPED, error, cls.formats, cls.emulator)
    except Exception as exc:  # a backend error or a figure the record refuses: failure is data
        return unmeasured_record(ctx, job, Status.FAILED, failure(exc), cls.formats, cls.emulator)


def _measure(ctx: Context, job: Job, cls: type[Runner], env, log_dir: Path) -> BenchmarkRecord:
    if cls.emulator:
        job = job.model_copy(update={"settings": job.settings.for_emulation()})
    runner = cls()
    try:
        runner.prepare(ctx.artifact, prepare_options(job, job.scenario))
        metrics = ctx.metric_functions()
        accuracy = accuracy_pass(
            runner,
            job.batch_size,
            ctx.inputs,
            ctx.reference,
            ctx.reference_name,
            ctx.labels,
            metrics.task,
            agreement=metrics.agreement,
        )
        # Fixed-point firmware far from the float reference: say so, and which layers overflow.
        fidelity = runner.fidelity_problems(ctx.inputs, ctx.reference, accuracy.mean_abs_diff)
        query = functools.partial(runner.infer, staged_batch(runner, ctx, job.batch_size))
        meter, meter_reason = runner.power_meter() or default_meter()
        reading = EnergyReading(meter, meter_reason, job.settings.idle_baseline_s)
        with reading:
            outcome = _run_scenario(
                query,
                ctx,
                job,
                log_dir,
                emulator=cls.emulator,
                open_queue=functools.partial(runner.async_queue, *query.args),  # the staged batch
            )
        throughput = outcome.performance.throughput_samples_per_s if outcome.performance else None
        power = reading.figures(query, job.batch_size, throughput)
        description = runner.describe()
        fpga = runner.fpga_figures()
    finally:
        runner.close()
    performance = outcome.performance
    emulation_note = []
    if performance is not None and cls.emulator:
        performance = performance.model_copy(update={"emulated": True})
        emulation_note = [
            f"{description.backend} runs a software emulation of the hardware: its speed is the "
            "emulator's on this CPU, not the FPGA's (the fpga section holds firmware latency)"
        ]
    problems = (
        environment.load_problems(env)
        + fidelity
        + list(outcome.warnings)
        + power_problems(power)
        + _oversubscription_problems(job, description.threads, env)
    )
    notes = problems + emulation_note
    for problem in problems:
        warnings.warn(f"{job.runner}/{job.scenario}: {problem}", TriggerbenchUnstableWarning, stacklevel=3)
    return BenchmarkRecord(
        run_id=job.run_id,
        status=Status.OK,
        workload=workload_info(ctx, cls.formats),
        runner=runner_info(job, description),
        scenario=ScenarioInfo(
            name=job.scenario,
            harness=outcome.harness,  # type: ignore[arg-type]
            requests_in_flight=outcome.requests_in_flight,
            settings=outcome.settings,
        ),
        performance=performance,
        validity=outcome.validity,
        trigger=outcome.trigger,
        power=power,
        power_nominal=nominal_power_figures(
            _device_model(description, env.cpu_model),
            performance.throughput_samples_per_s if performance else None,
        ),
        accuracy=accuracy,
        fpga=fpga,
        environment=env,
        warnings=notes,
    )


def failure(exc: BaseException) -> ErrorInfo:
    """A backend error as the record keeps it: type, message and the traceback's last frames."""
    return ErrorInfo(
        type=type(exc).__name__, message=str(exc) or repr(exc), stderr=traceback.format_exc(limit=8)
    )


def prepare_options(job: Job, scenario: str) -> RunnerOptions:
    """What the job's runner is prepared with, for ``scenario``."""
    return RunnerOptions(
        batch_size=job.batch_size,
        threads=job.threads,
        precision=job.precision,
        extra=runner_options_for(job.runner, job.runner_options),
        scenario=scenario,
    )


def runner_info(job: Job, description: RunnerDescription) -> RunnerInfo:
    """The record's runner section: what the prepared runner says ran, at the job's batch size."""
    return RunnerInfo(
        name=job.runner,
        backend=description.backend,
        backend_version=description.backend_version,
        device=description.device,
        device_model=description.device_model,
        gpu=description.gpu,
        timing=description.timing,  # type: ignore[arg-type]
        precision=description.precision,
        batch_size=job.batch_size,
        threads=description.threads,
        settings=description.settings,
    )


def runner_options_for(runner: str, options: dict) -> dict:
    """The ``-O`` options one runner gets: unscoped keys, plus ``RUNNER.KEY`` keys for it alone.

    Scoping lets one run give each runner its own settings (``-O rtl.latency_cutoff=5
    -O hls4ml.reuse_factor=2``), since each runner refuses keys it does not know.
    """
    mine = {k: v for k, v in options.items() if "." not in k}
    prefix = f"{runner}."
    mine.update({k[len(prefix) :]: v for k, v in options.items() if k.startswith(prefix)})
    return mine


def _oversubscription_problems(job: Job, threads: int | None, env) -> list[str]:
    """The trigger harness spins on one core; a backend pool on every core fights it for CPU.

    Measured here (2 cores, OpenVINO, 20 kHz, batch 1): 27 % deadline misses with the default
    two threads against 0.1 % with ``--threads 1``.
    """
    cores = len(env.cores_used)
    if job.scenario == "trigger" and cores and (threads is None or threads >= cores):
        used = "the backend's default threads" if threads is None else f"{threads} threads"
        return [
            f"trigger stream with {used} on {cores} cores: the harness spins on one core and "
            "competes with the backend's pool; pass --threads to leave it a core"
        ]
    return []


def power_problems(power: PowerFigures) -> list[str]:
    """Zero energy even over a lengthened window: the meter does not see this device's load."""
    if power.source is not PowerSource.UNAVAILABLE and power.energy_j is None:
        return [f"power meter counted no energy: {power.null_reasons.get('energy_j', 'unknown')}"]
    return []
