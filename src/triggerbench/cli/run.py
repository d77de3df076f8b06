"""``triggerbench list`` and ``run``: the runners here, and measuring models on them (a record each)."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from triggerbench import progress, quiet
from triggerbench import scenarios as scenario_table
from triggerbench.cli.app import app, split
from triggerbench.cli.arguments import (
    check_runner_options,
    override_settings,
    parse_runner_options,
    resolve_ints,
    resolve_runners,
)
from triggerbench.cli.display import RunDisplay, console, err_console, run_display
from triggerbench.cli.records import RunState, write_or_stop
from triggerbench.errors import UserInputError
from triggerbench.interrupt import Interrupted, signals_interrupt


@app.command("list")
def list_runners() -> None:
    """Show every registered runner, whether it can run here, and why not."""
    from triggerbench.models.workloads import WORKLOADS
    from triggerbench.runners import registry

    table = Table(title="runners (entry-point group triggerbench.runners)")
    for column in ("runner", "available", "reason", "provided by"):
        table.add_column(column)
    for s in registry.statuses():
        table.add_row(s.name, "[green]yes[/]" if s.available else "[red]no[/]", s.reason, s.source)
    console.print(table)
    console.print("workloads: " + ", ".join(WORKLOADS))


@app.command()
def run(
    workload: Annotated[
        list[str] | None, typer.Option(help="Named workload(s), or 'all'.", show_default="none")
    ] = None,
    model: Annotated[
        Path | None, typer.Option(help="Your own .keras or .onnx model.", show_default="none")
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option(
            help="Inputs as .npy (N, *input_shape).",
            show_default="the workload's validation inputs; for --model, generated ones",
        ),
    ] = None,
    runner: Annotated[
        list[str] | None,
        typer.Option(
            help="Runner name(s), comma-separated; 'all': every runner available here; 'devices': "
            "those that are not emulators (hls4ml C-simulation, RTL simulation).",
            show_default="all",
        ),
    ] = None,
    scenario: Annotated[
        list[str] | None,
        typer.Option(
            help=f"Scenario(s), comma-separated: {', '.join(scenario_table.RUNNABLE)}.",
            show_default="single-stream",
        ),
    ] = None,
    batch: Annotated[
        list[str] | None, typer.Option(help="Batch size(s), comma-separated.", show_default="1")
    ] = None,
    plan: Annotated[
        Path | None,
        typer.Option(
            help="Plan file (TOML): its values replace the defaults shown here; options given "
            "here override it.",
            show_default="none",
        ),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Folder for result files.", show_default="results")] = None,
    harness: Annotated[
        str | None,
        typer.Option(
            help=f"single-stream harness: {', '.join(scenario_table.HARNESS_CHOICES)}.", show_default="auto"
        ),
    ] = None,
    threads: Annotated[
        int | None, typer.Option(help="Backend intra-op threads.", show_default="the backend's own")
    ] = None,
    precision: Annotated[str | None, typer.Option(help="Inference precision.", show_default="f32")] = None,
    quick: Annotated[
        bool, typer.Option(help="Short measurement windows (smoke runs).", show_default=True)
    ] = False,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="Measurement setting KEY=VALUE, e.g. deadline_s=1e-5 (repeatable).",
            show_default="the measurement defaults; --quick: short windows",
        ),
    ] = None,
    option: Annotated[
        list[str] | None,
        typer.Option(
            "--option",
            "-O",
            help="Backend setting KEY=VALUE (RUNNER.KEY=VALUE: that runner only), e.g. "
            "hls4ml.reuse_factor=4 (repeatable).",
            show_default="each runner's own",
        ),
    ] = None,
    isolate: Annotated[bool, typer.Option(help="Each runner in its own process.", show_default=True)] = True,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose/--no-verbose",
            "-v",
            help="Show the backends' own log lines (TensorFlow's absl, oneDNN and CUDA messages, "
            "Keras' warnings), hidden by default; TF_CPP_MIN_LOG_LEVEL stays as you set it.",
            show_default=True,
            callback=quiet.configure,  # before any backend is imported: they read it once
        ),
    ] = False,
) -> None:
    """Measure models on runners; write one JSON record per measurement."""
    from triggerbench.files import ensure_writable
    from triggerbench.measure.job import Job, build_context, check_batches, read_inputs_file
    from triggerbench.measure.settings import MeasureSettings
    from triggerbench.models.workloads import WORKLOADS
    from triggerbench.models.workloads import get as get_workload
    from triggerbench.plan import Plan, load_plan

    p = load_plan(plan) if plan else Plan()
    settings = override_settings(MeasureSettings.quick() if quick else p.measure, set_ or [])
    workloads = split(workload) or p.run.workload_names()
    if workloads == ["all"]:
        workloads = list(WORKLOADS)
    for w in workloads:
        get_workload(w)  # unknown names fail now, before loading any backend
    model = model or p.run.model
    data = data or p.run.data
    if data is not None:
        read_inputs_file(data)  # a wrong file fails now, not after the first model's measuring
    threads = threads if threads is not None else p.run.threads
    if threads is not None and threads < 1:
        raise UserInputError(f"--threads must be >= 1, got {threads}")
    asked = split(runner) or p.run.runners or ["all"]
    runners = resolve_runners(asked)
    scenarios = split(scenario) or p.run.scenarios or ["single-stream"]
    for s in scenarios:
        scenario_table.get(s)  # an unknown name is refused with the table
    batches = resolve_ints(split(batch), "--batch") if batch else (p.run.batch_sizes or [1])
    harness = harness or p.run.harness
    scenario_table.check_harness(harness)
    if not workloads and model is None:
        raise UserInputError("give --workload NAME (or 'all') or --model PATH")
    if workloads and model is not None:
        raise UserInputError("give either --workload or --model, not both")
    runner_options = {**p.run.runner_options, **parse_runner_options(option or [])}
    check_runner_options(runners, runner_options, group=asked in (["all"], ["devices"]))
    targets = [(w, None) for w in workloads] or [(None, model)]
    out_dir = ensure_writable(out or p.run.out or Path("results"))
    failed = 0
    state = RunState(out_dir, n_jobs=len(targets) * len(scenarios) * len(batches) * len(runners))
    try:
        # Stop signals unwind through the temp folder's and the child's cleanup.
        with (
            signals_interrupt(),
            tempfile.TemporaryDirectory(prefix="triggerbench-ctx-") as tmp,
            run_display(state.n_jobs) as shown,
        ):
            for w, m in targets:
                state.doing = f"preparing {w or m}"
                shown.doing(f"{w or m}: preparing")
                with progress.step(f"{w or m}: preparing the model, its exports and reference outputs"):
                    ctx = build_context(settings, workload=w, model_path=m, data_path=data)
                check_batches(ctx.artifact, batches)  # a model's fixed batch: other sizes refused
                ctx_dir = ctx.save(Path(tmp) / (w or "model"))
                jobs = [
                    Job(
                        runner=r,
                        scenario=s,
                        harness=harness,
                        batch_size=b,  # type: ignore[arg-type]
                        threads=threads,
                        precision=precision or p.run.precision,
                        runner_options=runner_options,
                        settings=settings,
                        out_dir=out_dir,
                        timeout_s=p.run.timeout_s,
                    )
                    for s in scenarios
                    for b in batches
                    for r in runners
                ]
                failed += _run_jobs(ctx, ctx_dir, jobs, state, isolate, shown)
    except Interrupted as exc:
        where = escape(f"while {state.doing}; {state.summary()}")
        err_console.print(
            f"[red]interrupted[/] by {exc.signal_name} {where}", highlight=False, soft_wrap=True
        )
        raise typer.Exit(exc.exit_code) from None
    if failed:
        err_console.print(f"[red]{failed} measurement(s) failed[/]; their records say why")
        raise typer.Exit(1)


#: What ``run`` prints of each record as it is written (``reports.summary``'s columns).
RUN_COLUMNS = ("runner", "scenario", "batch", "verdict", "throughput", "p50", "p99", "max_abs_diff")
#: Widest cell of each fixed column, so rows printed one by one line up (the runner's is measured).
_RUN_WIDTHS = {"scenario": 13, "batch": 5, "verdict": 9, "throughput": 10, "p50": 9, "p99": 9}


class WarningDigest:
    """Each kind of warning shown once per model.

    The same text with other numbers (another load average, another query count) is a repeat,
    shown only in the count at the end; the records keep every warning.
    """

    def __init__(self) -> None:
        self._count: dict[str, int] = {}

    def first(self, text: str) -> bool:
        """Count ``text``; True the first time its kind is seen."""
        kind = re.sub(r"\d+(?:[.,]\d+)*", "#", text)
        self._count[kind] = self._count.get(kind, 0) + 1
        return self._count[kind] == 1

    @property
    def repeats(self) -> int:
        """Warnings not shown because one of their kind was."""
        return sum(n - 1 for n in self._count.values())


def _tail_note() -> str:
    """Said once under rows whose tail percentiles are null (the reasons are in each record)."""
    from triggerbench.measure.stats import min_queries_for

    p99, p999 = min_queries_for(99.0), min_queries_for(99.9)
    return (
        f"p99 —: too few queries to report it (a percentile needs one query beyond it: p99 >= {p99:,}, "
        f"p99.9 >= {p999:,}); --set min_query_count={p999} measures both"
    )


def _run_jobs(ctx, ctx_dir: Path, jobs, state: RunState, isolate: bool, shown: RunDisplay) -> int:
    from triggerbench.measure.isolate import run_isolated
    from triggerbench.measure.session import measure_one
    from triggerbench.reports import summary

    headers = summary.headers(RUN_COLUMNS)
    widths = [
        max(len(h), _RUN_WIDTHS.get(c, 0), *(len(j.runner) for j in jobs) if c == "runner" else [0])
        for c, h in zip(RUN_COLUMNS, headers, strict=True)
    ]
    failed = 0
    said: set[tuple[str, str]] = set()
    short_tails = False
    seen = WarningDigest()
    # Each record's row as soon as it is written, above the bar: results on screen from the
    # first measurement, and in a log file one whole line each.
    shown.say(f"{ctx.workload_name} -> {state.out_dir}")
    shown.say(summary.aligned([headers], widths)[0])
    for job in jobs:
        where = f"{job.runner} ({job.scenario}, batch {job.batch_size})"
        state.doing = f"measuring {ctx.workload_name} on {where}"
        shown.doing(f"{ctx.workload_name}: {job.runner} {job.scenario} b{job.batch_size}")
        record = run_isolated(ctx, ctx_dir, job) if isolate else measure_one(ctx, job)
        write_or_stop(record, state)
        failed += record.status == "failed"
        shown.say(summary.aligned([summary.cells(record, RUN_COLUMNS)], widths)[0])
        _say_why_not_measured(record, said)
        short_tails = short_tails or bool(summary.null_tails(record))
        for warning in filter(seen.first, record.warnings):
            err_console.print(
                f"[yellow]warning[/] {job.runner}/{job.scenario}: {escape(warning)}",
                highlight=False,
                soft_wrap=True,  # one line each, whatever the terminal's width: grep-able
            )
        shown.advance()
    if short_tails:
        err_console.print(_tail_note(), highlight=False, soft_wrap=True)
    if seen.repeats:
        err_console.print(
            f"{seen.repeats} more warning(s) like those above, not repeated here: each record keeps "
            "its own in its `warnings`",
            highlight=False,
            soft_wrap=True,
        )
    return failed


def _say_why_not_measured(record, said: set[tuple[str, str]]) -> None:
    """One whole line per runner and reason: what is missing, and how to get it."""
    if record.error is None or (record.runner.name, record.error.message) in said:
        return
    said.add((record.runner.name, record.error.message))
    colour = "yellow" if record.status == "skipped" else "red"
    err_console.print(
        f"[{colour}]{record.status.value}[/] {escape(record.runner.name)}: "
        + escape(record.error.message.strip().splitlines()[0] if record.error.message.strip() else "?"),
        highlight=False,
        soft_wrap=True,
    )
