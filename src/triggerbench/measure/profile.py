"""Profile one runner on one model layer by layer and build its record; failure is data.

The runner's own profiler (``Runner.profile``) names nodes in the backend's words; here they are
mapped to the source model's layers (``models.layer_names``), added up per layer and set beside
the time of a plain call with the profiler off, which shows what profiling costs.
"""

from __future__ import annotations

import dataclasses
import functools
import statistics
from collections.abc import Sequence

from triggerbench import environment, scenarios
from triggerbench.errors import ModelUnsupportedError, ProfileUnavailableError
from triggerbench.measure.job import Context, Job
from triggerbench.measure.session import (
    failure,
    not_measurable,
    prepare_options,
    runner_info,
    staged_batch,
    unmeasured_record,
    workload_info,
)
from triggerbench.measure.tight_loop import time_queries, warm_up
from triggerbench.models.layer_names import keras_layer_names, map_node
from triggerbench.runners import registry
from triggerbench.runners.base import BackendProfile, NodeTiming, Runner, one_line
from triggerbench.schema import (
    BenchmarkRecord,
    ErrorInfo,
    LayerProfile,
    NumericalProfile,
    ProfileFigures,
    ScenarioInfo,
    Status,
)

#: Profiled calls per runner unless ``--calls`` says otherwise: enough for a stable median of
#: each node, few enough that the slowest profiler (Keras layer by layer) takes seconds.
DEFAULT_CALLS = 100
SCENARIO = "profile"
HARNESS = scenarios.SCENARIOS[SCENARIO].harnesses[0]
NO_SOURCE_CAVEAT = (
    "no Keras source: rows are the backend's own node names, not layers (give the .keras model to "
    "line backends up by layer)"
)


def _as_profile(record: BenchmarkRecord) -> BenchmarkRecord:
    """A record built for a measurement, relabelled as the profile it stands for."""
    return record.model_copy(update={"scenario": ScenarioInfo(name=SCENARIO, harness=HARNESS)})


def unprofiled_record(
    ctx: Context, job: Job, status: Status, error: ErrorInfo, formats: tuple[str, ...] = ()
) -> BenchmarkRecord:
    """A skipped or failed profile record: identity and the reason, no figures."""
    return _as_profile(unmeasured_record(ctx, job, status, error, formats))


def not_profilable(ctx: Context, job: Job) -> BenchmarkRecord | None:
    """The record of a profile that cannot start (runner missing, unavailable, refusing the model)."""
    record = not_measurable(ctx, job)
    return None if record is None else _as_profile(record)


def source_layers(ctx: Context) -> list[str]:
    """The source model's layer names, in its order; empty for a model with no Keras source."""
    path = ctx.artifact.paths.get("keras")
    return keras_layer_names(path) if path is not None else []


def profile_one(ctx: Context, job: Job, n_calls: int = DEFAULT_CALLS) -> BenchmarkRecord:
    """Prepare, time plain calls, profile ``n_calls`` calls and build the record.

    A runner without a profiler gives a skipped record with the reason; other exceptions a
    failed record, as ``measure_one`` does.
    """
    env = environment.capture()
    if (record := not_profilable(ctx, job)) is not None:
        return record
    cls = registry.get(job.runner)
    try:
        return _profile(ctx, job, cls, env, n_calls)
    except ProfileUnavailableError as exc:
        error = ErrorInfo(type="ProfileUnavailable", message=str(exc))
        return unprofiled_record(ctx, job, Status.SKIPPED, error, cls.formats)
    except ModelUnsupportedError as exc:
        error = ErrorInfo(type="ModelUnsupported", message=str(exc))
        return unprofiled_record(ctx, job, Status.SKIPPED, error, cls.formats)
    except Exception as exc:  # a backend error or a figure the record refuses: failure is data
        return unprofiled_record(ctx, job, Status.FAILED, failure(exc), cls.formats)


def _profile(ctx: Context, job: Job, cls: type[Runner], env, n_calls: int) -> BenchmarkRecord:
    settings = job.settings.for_emulation() if cls.emulator else job.settings
    runner = cls()
    try:
        runner.prepare(ctx.artifact, prepare_options(job, SCENARIO))
        staged = staged_batch(runner, ctx, job.batch_size)
        query = functools.partial(runner.infer, staged)
        warm_up(query, settings)
        # The same number of plain calls as profiled ones, at least: the two medians compare.
        plain_ns = time_queries(query, settings.min_duration_s, n_calls, settings.max_query_count)
        try:
            backend: BackendProfile | None = runner.profile(staged, n_calls)
            unavailable = None
        except ProfileUnavailableError as exc:  # a firmware runner may still profile the values
            backend, unavailable = None, exc
        numerical, numerical_caveats = _numerical(runner, ctx)
        description = runner.describe()
    finally:
        runner.close()
    if backend is None:
        if not numerical:
            raise ProfileUnavailableError("; ".join([str(unavailable), *numerical_caveats]))
        backend = BackendProfile(
            source=f"{job.runner} numerical profile",
            unit="cycles",
            nodes=[],
            caveats=[f"no timing: {unavailable}"],
        )
    backend = dataclasses.replace(backend, caveats=[*backend.caveats, *numerical_caveats])
    layer_names = source_layers(ctx)
    figures = profile_figures(backend, layer_names, statistics.median(plain_ns.tolist()) * 1e-9, numerical)
    return BenchmarkRecord(
        run_id=job.run_id,
        status=Status.OK,
        workload=workload_info(ctx, cls.formats),
        runner=runner_info(job, description),
        scenario=ScenarioInfo(
            name=SCENARIO,
            harness=HARNESS,
            settings={"n_calls": n_calls, "plain_calls": len(plain_ns), "warmup_s": settings.warmup_s},
        ),
        profile=figures,
        environment=env,
        warnings=environment.load_problems(env),
    )


def _numerical(runner: Runner, ctx: Context) -> tuple[list[NumericalProfile], list[str]]:
    """The runner's value-range profile on the validation events, and what to say about it."""
    try:
        rows = runner.numerical_profile(ctx.inputs)
    except Exception as exc:  # hls4ml's profiling helpers on a layer they do not know
        return [], [f"numerical profile failed: {one_line(exc)}"]
    if not rows:
        return [], []
    caveats = [
        f"value ranges from {len(ctx.inputs)} validation events through the float model; "
        "accumulators are not profiled"
    ]
    overflowing = list(dict.fromkeys(row.layer for row in rows if row.verdict == "overflows"))
    if overflowing:
        caveats.append(f"values outside the chosen fixed-point range in: {', '.join(overflowing)}")
    return rows, caveats


def layer_rows(nodes: Sequence[NodeTiming], layer_names: Sequence[str], unit: str) -> list[LayerProfile]:
    """One row per source layer (or unmapped node): its nodes' times added up, with shares.

    Rows are in the source model's order, unmapped ones after them in the backend's order.
    """
    rows: dict[str, dict] = {}
    for node in nodes:
        fused = [n for n in str(node.details.get("fused_names") or "").split(",") if n]
        match = map_node([node.name, *fused], layer_names, node.layer)
        row = rows.setdefault(
            match.layer,
            {"mapped": match.mapped, "names": [], "ops": [], "fused": [], "status": [], "nodes": []},
        )
        row["names"].append(node.name)
        row["nodes"].append(node)
        if node.op_type and node.op_type not in row["ops"]:
            row["ops"].append(node.op_type)
        row["fused"] += [f for f in match.fused_with if f not in row["fused"] and f != match.layer]
        if node.status and node.status not in row["status"]:
            row["status"].append(node.status)
    order = {name: i for i, name in enumerate(layer_names)}
    keys = sorted(rows, key=lambda k: (not rows[k]["mapped"], order.get(k, len(order))))
    built = [_row(key, rows[key], unit) for key in keys]
    total = sum((r.time_s if unit == "s" else r.cycles) or 0 for r in built)
    return [r.model_copy(update={"share": _share(r, unit, total)}) for r in built]


def _share(row: LayerProfile, unit: str, total: float) -> float | None:
    value = row.time_s if unit == "s" else row.cycles
    if value is None or not total:
        return None
    return min(1.0, value / total)


def _row(layer: str, row: dict, unit: str) -> LayerProfile:
    nodes: list[NodeTiming] = row["nodes"]
    times = [n.time_s for n in nodes if n.time_s is not None]
    cycles = [n.cycles for n in nodes if n.cycles is not None]
    resources: dict[str, float] = {}
    for node in nodes:
        for key, value in node.resources.items():
            resources[key] = resources.get(key, 0.0) + value
    calls = [n.n_calls for n in nodes if n.n_calls is not None]
    # One status for the row: executed if any of its nodes ran, else what the nodes say.
    statuses = row["status"]
    status = "EXECUTED" if "EXECUTED" in statuses else ",".join(statuses) or None
    # A node's extras describe that node: kept where the row is one node, else they would clash.
    details = {k: v for k, v in nodes[0].details.items() if k != "fused_names"} if len(nodes) == 1 else {}
    return LayerProfile(
        layer=layer,
        mapped=row["mapped"],
        backend_names=row["names"],
        op_types=row["ops"],
        fused_with=row["fused"],
        status=status,
        time_s=sum(times) if unit == "s" and times else None,
        cycles=sum(cycles) if unit == "cycles" and cycles else None,
        n_calls=min(calls) if calls else None,
        resources=resources,
        details=details,
    )


def profile_figures(
    backend: BackendProfile,
    layer_names: Sequence[str],
    whole_call_s: float | None,
    numerical: Sequence[NumericalProfile] = (),
) -> ProfileFigures:
    """The record's profile section: rows, totals, the whole call and the profiler's cost."""
    rows = layer_rows(backend.nodes, layer_names, backend.unit)
    caveats = list(backend.caveats)
    if not layer_names and not any(n.layer for n in backend.nodes):
        caveats.append(NO_SOURCE_CAVEAT)
    times = [r.time_s for r in rows if r.time_s is not None]
    cycles = [r.cycles for r in rows if r.cycles is not None]
    values = {
        "total_s": sum(times) if times else None,
        "total_cycles": sum(cycles) if cycles else None,
        "whole_call_s": whole_call_s,
        "profiled_call_s": backend.profiled_call_s,
        "n_calls": backend.n_calls,
    }
    reasons = {
        "total_s": "the profile counts cycles, not time" if backend.unit != "s" else "no node was timed",
        "total_cycles": "the profile counts time, not cycles" if backend.unit != "cycles" else "no cycles",
        "whole_call_s": "no plain call was timed",
        "profiled_call_s": f"{backend.source} does not time whole calls",
        "n_calls": f"{backend.source} reads a report, not timed calls",
    }
    return ProfileFigures(
        source=backend.source,
        unit=backend.unit,
        layers=rows,
        caveats=caveats,
        numerical=list(numerical),
        null_reasons={k: reasons[k] for k, v in values.items() if v is None},
        **values,
    )
