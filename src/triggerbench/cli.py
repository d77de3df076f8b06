"""The ``triggerbench`` command: list, run, report, schema."""

from __future__ import annotations

import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from triggerbench import progress, quiet
from triggerbench import scenarios as scenario_table
from triggerbench.display import RunDisplay, console, err_console, run_display
from triggerbench.errors import ResultsWriteError, TriggerbenchError, UserInputError
from triggerbench.interrupt import Interrupted, signals_interrupt

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Benchmark one trigger model on every backend; one record per measurement.",
)


def _split(values: list[str] | None) -> list[str]:
    """Accept both ``--runner a,b`` and ``--runner a --runner b``."""
    return [v.strip() for value in values or [] for v in value.split(",") if v.strip()]


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


def _resolve_runners(names: list[str]) -> list[str]:
    from triggerbench.runners import registry

    if names in (["all"], ["devices"]):  # what can run here; the null runner measures nothing
        here = [s.name for s in registry.statuses() if s.available and s.name != "null"]
        devices = [n for n in here if not registry.get(n).emulator]
        # Devices first: their results are on screen in seconds, before any firmware build; with
        # 'devices', no emulator, whose speed is a cost (a C- or RTL-simulation), not a device's.
        return devices if names == ["devices"] else devices + [n for n in here if n not in devices]
    known = registry.names()
    for name in names:  # fail now, before any measuring
        if ":" in name:
            registry.get(name)  # a module:Class spec that does not load is a typo, not a failure
        elif name not in known:
            raise UserInputError(f"unknown runner {name!r}; known runners: {', '.join(known)}")
    return names


def _override(settings, assignments: list[str]):
    """Apply ``--set KEY=VALUE`` to measurement settings, validated like a plan file."""
    from pydantic import ValidationError

    values = settings.model_dump()
    for item in assignments:
        key, sep, value = item.partition("=")
        if not sep or key not in values:
            known = ", ".join(values)
            raise UserInputError(f"--set {item!r}: use KEY=VALUE with KEY one of: {known}")
        values[key] = value
    try:
        return type(settings).model_validate(values)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = f" {err['loc'][0]}" if err["loc"] else ""
        raise UserInputError(f"--set{where}: {err['msg'].removeprefix('Value error, ')}") from None


def _runner_options(assignments: list[str]) -> dict[str, str | int | float | bool]:
    """Parse ``--option KEY=VALUE``: numbers and true/false become typed, the rest stay text.

    Each runner checks its own keys when it is prepared (unknown keys fail that runner).
    """
    options: dict[str, str | int | float | bool] = {}
    for item in assignments:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UserInputError(f"--option {item!r}: use KEY=VALUE")
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = value
        options[key] = parsed if isinstance(parsed, str | int | float | bool) else value
    return options


def _check_runner_options(runners: list[str], options: dict) -> None:
    """Refuse backend options a runner does not take now, before any measuring (exit 2)."""
    from triggerbench.measure.session import runner_options_for
    from triggerbench.runners import registry

    for key in options:  # a scoped key no runner of this run takes would be silently ignored
        if "." in key and not any(key.startswith(f"{name}.") for name in runners):
            raise UserInputError(
                f"--option {key}: scoped to a runner this run does not use; runners: {', '.join(runners)}"
            )
    classes = {}
    for name in runners:
        try:
            classes[name] = registry.get(name)
        except Exception:  # a runner that cannot load is recorded as failed when measured
            continue
    for name, cls in classes.items():
        try:
            cls.parse_options(runner_options_for(name, options))
        except UserInputError as exc:
            raise UserInputError(f"{exc}{_scope_hint(options, classes, cls)}") from None


def _scope_hint(options: dict, classes: dict, refused_by) -> str:
    """`` (scope it to the runner that takes it: keras.jit_compile=VALUE)``, or nothing.

    Only for an unscoped key the refusing runner does not take: a bad value for its own key
    needs no hint.
    """
    own = refused_by.options_model.model_fields if refused_by.options_model else {}
    for key in (k for k in options if "." not in k and k not in own):
        takers = [n for n, c in classes.items() if c.options_model and key in c.options_model.model_fields]
        if takers:
            return f" (scope it to the runner that takes it: {takers[0]}.{key}=VALUE)"
    return ""


def _resolve_ints(values: list[str], what: str) -> list[int]:
    try:
        ints = [int(v) for v in values]
    except ValueError:
        raise UserInputError(f"{what} must be whole numbers, got {', '.join(values)}") from None
    if any(i < 1 for i in ints):
        raise UserInputError(f"{what} must be >= 1")
    return ints


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
    settings = _override(MeasureSettings.quick() if quick else p.measure, set_ or [])
    workloads = _split(workload) or ([p.run.workload] if p.run.workload else [])
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
    runners = _resolve_runners(_split(runner) or p.run.runners or ["all"])
    scenarios = _split(scenario) or p.run.scenarios or ["single-stream"]
    for s in scenarios:
        scenario_table.get(s)  # an unknown name is refused with the table
    batches = _resolve_ints(_split(batch), "--batch") if batch else (p.run.batch_sizes or [1])
    harness = harness or p.run.harness
    scenario_table.check_harness(harness)
    if not workloads and model is None:
        raise UserInputError("give --workload NAME (or 'all') or --model PATH")
    if workloads and model is not None:
        raise UserInputError("give either --workload or --model, not both")
    runner_options = {**p.run.runner_options, **_runner_options(option or [])}
    _check_runner_options(runners, runner_options)
    targets = [(w, None) for w in workloads] or [(None, model)]
    out_dir = ensure_writable(out or p.run.out or Path("results"))
    failed = 0
    state = _RunState(out_dir, n_jobs=len(targets) * len(scenarios) * len(batches) * len(runners))
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


@dataclass
class _RunState:
    """What a run has done so far, for the message when it stops early."""

    out_dir: Path
    n_jobs: int
    written: int = 0
    doing: str = "starting"

    def summary(self) -> str:
        not_run = self.n_jobs - self.written
        return f"{self.written} record(s) written to {self.out_dir}" + (
            f"; {not_run} of {self.n_jobs} measurement(s) not recorded" if not_run else ""
        )


#: What ``run`` prints of each record as it is written (``reports.summary``'s columns).
RUN_COLUMNS = ("runner", "scenario", "batch", "verdict", "throughput", "p50", "p99", "max_abs_diff")
#: Widest cell of each fixed column, so rows printed one by one line up (the runner's is measured).
_RUN_WIDTHS = {"scenario": 13, "batch": 5, "verdict": 9, "throughput": 10, "p50": 9, "p99": 9}


def _tail_note() -> str:
    """Said once under rows whose tail percentiles are null (the reasons are in each record)."""
    from triggerbench.measure.stats import min_queries_for

    p99, p999 = min_queries_for(99.0), min_queries_for(99.9)
    return (
        f"p99 —: too few queries to report it (a percentile needs one query beyond it: p99 >= {p99:,}, "
        f"p99.9 >= {p999:,}); --set min_query_count={p999} measures both"
    )


def _run_jobs(ctx, ctx_dir: Path, jobs, state: _RunState, isolate: bool, shown: RunDisplay) -> int:
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
    # Each record's row as soon as it is written, above the bar: results on screen from the
    # first measurement, and in a log file one whole line each.
    shown.say(f"{ctx.workload_name} -> {state.out_dir}")
    shown.say(summary.aligned([headers], widths)[0])
    for job in jobs:
        where = f"{job.runner} ({job.scenario}, batch {job.batch_size})"
        state.doing = f"measuring {ctx.workload_name} on {where}"
        shown.doing(f"{ctx.workload_name}: {job.runner} {job.scenario} b{job.batch_size}")
        record = run_isolated(ctx, ctx_dir, job) if isolate else measure_one(ctx, job)
        _write(record, state)
        failed += record.status == "failed"
        shown.say(summary.aligned([summary.cells(record, RUN_COLUMNS)], widths)[0])
        _say_why_not_measured(record, said)
        short_tails = short_tails or bool(summary.null_tails(record))
        for warning in record.warnings:
            err_console.print(
                f"[yellow]warning[/] {job.runner}/{job.scenario}: {escape(warning)}",
                highlight=False,
                soft_wrap=True,  # one line each, whatever the terminal's width: grep-able
            )
        shown.advance()
    if short_tails:
        err_console.print(_tail_note(), highlight=False, soft_wrap=True)
    return failed


def _write(record, state: _RunState) -> None:
    """Write a measured record; if that fails, keep it elsewhere and stop the run in one line."""
    from triggerbench.results.store import save_unwritten, write_record

    try:
        write_record(record, state.out_dir)
    except OSError as exc:
        kept = save_unwritten(record)
        if kept is None:  # the temp folder is no better: the record goes to stderr as JSON
            sys.stderr.write(record.model_dump_json() + "\n")
        where = f"saved in {kept}" if kept else "printed above as JSON"
        raise ResultsWriteError(
            f"cannot write a record to {state.out_dir}: {exc.strerror or exc}; "
            f"the run stopped: {state.summary()}; the record just measured is {where}"
        ) from None
    state.written += 1


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


@app.command()
def report(
    paths: Annotated[list[Path], typer.Argument(help="Result files, folders or pytest-benchmark JSON.")],
    format: Annotated[
        list[str] | None, typer.Option("--format", help="md, tex, html or all (comma-separated).")
    ] = None,
    out: Annotated[Path, typer.Option(help="Folder for the report.")] = Path("reports"),
    layout: Annotated[
        list[str] | None,
        typer.Option(help="backends, fpga, latency, quantization or all (comma-separated)."),
    ] = None,
    baseline: Annotated[str | None, typer.Option(help="Runner the backend gains are relative to.")] = None,
    part: Annotated[
        str | None, typer.Option(help="FPGA part for resource percentages, e.g. xcvu13p.")
    ] = None,
    workload: Annotated[str | None, typer.Option(help="Only this workload.")] = None,
    batch: Annotated[
        int | None, typer.Option(help="Batch size of the backend table (default: best).")
    ] = None,
    published: Annotated[
        list[Path] | None,
        typer.Option(help="TOML file(s) of published figures shown beside the measurements."),
    ] = None,
    no_published: Annotated[
        bool, typer.Option("--no-published", help="Leave out published figures.")
    ] = False,
    plots: Annotated[bool, typer.Option(help="Draw the plots (PNG and PDF).")] = True,
    strict: Annotated[
        bool, typer.Option(help="Refuse an unreadable result file (exit 2) instead of skipping it.")
    ] = False,
) -> None:
    """Render tables and plots for talks (Markdown, LaTeX, one self-contained HTML file).

    An unreadable result file is skipped with a warning naming it and why (--strict: an error).
    """
    from rich.markup import escape

    from triggerbench.files import ensure_writable
    from triggerbench.reports.document import FORMATS, LAYOUTS, ReportOptions, build, write
    from triggerbench.reports.published import SEED_TALK, load_published
    from triggerbench.results.store import load

    formats = _choices(_split(format) or ["md"], FORMATS, "--format")
    layouts = _choices(_split(layout) or ["all"], LAYOUTS, "--layout")
    if batch is not None and batch < 1:
        raise UserInputError("--batch must be >= 1")
    options = ReportOptions(
        layouts=tuple(layouts),
        baseline=baseline,
        part=part,
        workload=workload,
        batch=batch,
        published=[] if no_published else load_published(published or [SEED_TALK]),
        plots=plots,
    )
    skips = []

    def skipped(s) -> None:
        skips.append(s)
        err_console.print(f"[yellow]warning[/] skipped {escape(str(s))}", highlight=False, soft_wrap=True)

    frame = load(paths, strict=strict, on_skip=skipped)
    written = write(build(frame, options), ensure_writable(out), tuple(formats))
    unread = f", {len(skips)} unreadable file(s) skipped" if skips else ""
    console.print(f"{len(frame)} record(s){unread} -> {', '.join(str(p) for p in written)}")


def _choices(values: list[str], known: tuple[str, ...], flag: str) -> list[str]:
    """``values`` with ``all`` expanded; an unknown one is a one-line error listing the known."""
    if "all" in values:
        return list(known)
    for v in values:
        if v not in known:
            raise UserInputError(f"{flag} {v!r}: use one of {', '.join(known)} or all")
    return [k for k in known if k in values]


@app.command()
def compare(
    base: Annotated[str, typer.Argument(help="Baseline results: file or folder (several: comma-separated).")],
    new: Annotated[str, typer.Argument(help="New results: file or folder (several: comma-separated).")],
    fail_on: Annotated[
        list[str] | None,
        typer.Option(
            "--fail-on",
            help="Exit 1 when FIGURE got worse by more than N %, e.g. throughput:5% (repeatable).",
        ),
    ] = None,
    all_figures: Annotated[bool, typer.Option(help="Show every known figure.")] = False,
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the comparison here.")] = None,
    strict: Annotated[
        bool, typer.Option(help="Refuse an unreadable result file (exit 2) instead of skipping it.")
    ] = False,
) -> None:
    """Compare two result sets figure by figure; --fail-on turns it into a regression gate.

    An unreadable result file is skipped with a warning naming it and why (--strict: an error).
    """
    from rich.markup import escape

    from triggerbench.files import atomic_write_text, ensure_writable
    from triggerbench.reports import format as fmt
    from triggerbench.results import compare as cmp

    parsed = [cmp.parse_fail_on(text) for text in fail_on or []]  # malformed: exit 2 before reading
    base_paths, new_paths = cmp.split_side(base), cmp.split_side(new)

    def skipped(s) -> None:
        err_console.print(f"[yellow]warning[/] skipped {escape(str(s))}", highlight=False, soft_wrap=True)

    base_frame = cmp.load_side("BASE", base_paths, strict=strict, on_skip=skipped)
    new_frame = cmp.load_side("NEW", new_paths, strict=strict, on_skip=skipped)
    thresholds = [cmp.resolve(p, frames=(base_frame, new_frame)) for p in parsed]
    result = cmp.compare(base_frame, new_frame, thresholds)

    def value(v: float, unit: str) -> str:
        if unit == "s":
            return fmt.seconds(v)
        if unit in ("/s", "Hz"):
            return fmt.rate(v, unit)
        return f"{fmt.number(v)} {unit}".rstrip()

    def change(frac: float) -> str:
        if abs(frac) == float("inf"):
            return "from 0"
        return "0" if frac == 0 else ("+" if frac > 0 else "") + fmt.significant(frac * 100)

    shown = {f.name for f in cmp.FIGURES} if all_figures else set(cmp.DEFAULT_FIGURES)
    rows = result.rows[result.rows["figure"].isin(shown | {t.figure.name for t in thresholds})]
    vary = [c for c in ("runner.device", "runner.precision") if rows[c].nunique(dropna=False) > 1]
    table = Table(title=f"{base} -> {new}")
    for column in ("workload", "runner", "scenario", "batch", "figure", "base", "new", "change %", "verdict"):
        justify = "right" if column in ("batch", "base", "new", "change %") else "left"
        table.add_column(column, justify=justify, overflow="fold")  # never hide a name behind "…"
    colour = {"better": "green", "worse": "red", "same": "dim"}
    keys = [cmp.row_key(r) for _, r in rows.iterrows()]
    for i, (_, r) in enumerate(rows.iterrows()):
        runner = r["runner.name"] + (f" ({', '.join(str(r[c]) for c in vary)})" if vary else "")
        cells = [r["workload.name"], runner, r["scenario.name"], str(r["runner.batch_size"])]
        verdict = f"[{colour[r['direction']]}]{r['direction']}[/]"
        if r.name in result.crossed.index:
            verdict = f"[bold red]worse >{r['crossed_limit_pct']:g} %[/]"
        table.add_row(
            *(cells if i == 0 or keys[i - 1] != keys[i] else [""] * 4),
            r["figure"],
            value(r["base"], r["unit"]),
            value(r["new"], r["unit"]),
            change(r["change_frac"]),
            verdict,
            end_section=i == len(keys) - 1 or keys[i + 1] != keys[i],
        )
    console.print(table if len(rows) else "no figure measured on both sides for any record in common")
    for line in result.uncompared():
        console.print(line, highlight=False, soft_wrap=True)
    for note in result.notes:
        err_console.print(f"[yellow]note[/] {note}", highlight=False, soft_wrap=True)
    if json_out is not None:
        ensure_writable(json_out.parent)
        atomic_write_text(json_out, cmp.to_json(result, base_paths, new_paths))
    for _, r in result.crossed.iterrows():
        err_console.print(
            f"[red]threshold crossed[/] {r['figure']} {change(r['change_frac'])} % "
            f"(limit {r['crossed_limit_pct']:g} %): {cmp.key_label(cmp.row_key(r))}",
            highlight=False,
            soft_wrap=True,
        )
    if parsed:  # a gate: a measurement that now fails is the worst regression of all
        for _, r in result.newly_failed.iterrows():
            err_console.print(
                f"[red]now failed[/] {cmp.key_label(cmp.row_key(r))}: {r['note']}", highlight=False
            )
    if len(result.crossed) or (parsed and len(result.newly_failed)):
        raise typer.Exit(1)


@app.command()
def train(
    all_: Annotated[bool, typer.Option("--all", help="Train every reference model.")] = False,
    model: Annotated[list[str] | None, typer.Option(help="Model name(s), comma-separated.")] = None,
    ship: Annotated[bool, typer.Option(help="Write into the package's shipped models.")] = False,
    out: Annotated[Path, typer.Option(help="Folder for the models (without --ship).")] = Path("trained"),
    quick: Annotated[bool, typer.Option(help="Tiny configurations (smoke test, seconds).")] = False,
    evaluate_only: Annotated[
        bool, typer.Option(help="Measure the trained models' task metrics again; no training.")
    ] = False,
) -> None:
    """Train the reference models (teacher, students, KD, 4-bit, LLP VGG) and their manifest."""
    import time

    from triggerbench.files import ensure_writable
    from triggerbench.models import ship as shipping
    from triggerbench.models import training
    from triggerbench.models.shipped import SHIPPED_DIR

    names = _split(model)
    if all_ == bool(names):
        raise UserInputError(f"give --all or --model NAME; models: {', '.join(shipping.MODELS)}")
    unknown = sorted(set(names) - set(shipping.MODELS))
    if unknown:
        raise UserInputError(f"unknown model(s) {', '.join(unknown)}; known: {', '.join(shipping.MODELS)}")
    target = SHIPPED_DIR if ship else out
    configs = training.TINY if quick else training.FULL
    eval_events = {"l0": 2000, "llp": 64} if quick else None
    start = time.perf_counter()
    if evaluate_only:  # the models must be there already: nothing to create
        shipping.reevaluate(target, only=names or None, log=console.print, eval_events=eval_events)
    else:
        shipping.train_all(
            ensure_writable(target), configs, only=names or None, log=console.print, eval_events=eval_events
        )
    console.print(f"done in {time.perf_counter() - start:.0f} s -> {target}/manifest.json")


@app.command("ingest-hls")
def ingest_hls(
    project_dir: Annotated[Path, typer.Argument(help="hls4ml output folder built with Vivado/Vitis HLS.")],
    out: Annotated[Path, typer.Option(help="Folder for the result file.")] = Path("results"),
) -> None:
    """Read an hls4ml project's synthesis reports into a firmware-report record."""
    from triggerbench.files import ensure_writable
    from triggerbench.fpga.ingest import ingest
    from triggerbench.reports import format as fmt
    from triggerbench.results.store import write_record

    record = ingest(project_dir)
    path = write_record(record, ensure_writable(out))
    runner = record.runner
    table = Table(title=f"{record.workload.name}: {runner.backend} {runner.backend_version}, {runner.device}")
    for column in ("source", "latency", "cycles", "II", "LUT", "FF", "DSP", "BRAM18K"):
        table.add_column(column)
    for f in record.fpga:
        cycles = fmt.number(f.latency_cycles, 9)
        if f.latency_best_cycles is not None and f.latency_best_cycles != f.latency_cycles:
            cycles = f"{f.latency_best_cycles}-{cycles}"
        values = (f.interval_cycles, f.lut, f.ff, f.dsp, f.bram)
        table.add_row(f.source, fmt.seconds(f.latency_s), cycles, *(fmt.number(v, 9) for v in values))
    console.print(table)
    console.print(f"-> {path}")


@app.command()
def schema() -> None:
    """Print the record's JSON Schema."""
    from triggerbench.schema import json_schema

    sys.stdout.write(json.dumps(json_schema(), indent=2) + "\n")


def main() -> None:
    """Entry point: user mistakes are one line on stderr and exit code 2, never a traceback.

    Ctrl-C is typer's (exit 130) except in ``run``, which stops its child and says where it was.
    """
    quiet.configure()  # before any backend is imported; ``run --verbose`` undoes it
    try:
        app()
    except TriggerbenchError as exc:
        err_console.print(f"[red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
