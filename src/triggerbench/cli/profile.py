"""``triggerbench profile``: per-layer profiles of one model on several runners."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from triggerbench import progress, quiet
from triggerbench.cli.app import app, split
from triggerbench.cli.arguments import (
    check_runner_options,
    parse_runner_options,
    resolve_ints,
    resolve_runners,
)
from triggerbench.cli.display import console, err_console, run_display
from triggerbench.errors import UserInputError
from triggerbench.interrupt import Interrupted, signals_interrupt
from triggerbench.schema import BenchmarkRecord, LayerProfile

#: Marks in the table, explained under it.
TOP, UNMAPPED, FUSED = "◀", "‡", "†"


@app.command("profile")
def profile(
    workload: Annotated[str | None, typer.Option(help="Named workload.", show_default="none")] = None,
    model: Annotated[
        Path | None, typer.Option(help="Your own .keras or .onnx model.", show_default="none")
    ] = None,
    runner: Annotated[
        list[str] | None,
        typer.Option(
            help="Runner name(s), comma-separated; 'devices': every runner here that is not an emulator.",
            show_default="devices",
        ),
    ] = None,
    batch: Annotated[str, typer.Option(help="Batch size.")] = "1",
    calls: Annotated[
        str, typer.Option(help="Profiled calls per runner (the rows are their medians).")
    ] = "100",
    out: Annotated[Path, typer.Option(help="Folder for result files.")] = Path("results"),
    threads: Annotated[
        int | None, typer.Option(help="Backend intra-op threads.", show_default="the backend's own")
    ] = None,
    quick: Annotated[
        bool, typer.Option(help="Short warm-up and plain-call windows (smoke runs).", show_default=True)
    ] = False,
    option: Annotated[
        list[str] | None,
        typer.Option(
            "--option",
            "-O",
            help="Backend setting KEY=VALUE (RUNNER.KEY=VALUE: that runner only), e.g. keras.backend=jax.",
            show_default="each runner's own",
        ),
    ] = None,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose/--no-verbose",
            "-v",
            help="Show the backends' own log lines.",
            show_default=True,
            callback=quiet.configure,  # before any backend is imported: they read it once
        ),
    ] = False,
) -> None:
    """Time each layer of one model on each runner with the backend's own profiler; one record each."""
    from triggerbench.cli.records import RunState, write_or_stop
    from triggerbench.files import ensure_writable
    from triggerbench.measure.isolate import run_isolated
    from triggerbench.measure.job import Job, build_context, check_batches
    from triggerbench.measure.profile import source_layers
    from triggerbench.measure.settings import MeasureSettings
    from triggerbench.models.workloads import get as get_workload

    if (workload is None) == (model is None):
        raise UserInputError("give exactly one of --workload NAME or --model PATH")
    if workload is not None:
        get_workload(workload)  # an unknown name fails now, before loading any backend
    if threads is not None and threads < 1:
        raise UserInputError(f"--threads must be >= 1, got {threads}")
    batch_size = resolve_ints([batch], "--batch")[0]
    n_calls = resolve_ints([calls], "--calls")[0]
    asked = split(runner) or ["devices"]
    runners = resolve_runners(asked)
    if not runners:
        raise UserInputError("no runner to profile: none is available here (see triggerbench list)")
    runner_options = parse_runner_options(option or [])
    check_runner_options(runners, runner_options, group=asked == ["devices"])
    settings = MeasureSettings.quick() if quick else MeasureSettings()
    out_dir = ensure_writable(out)
    state = RunState(out_dir, n_jobs=len(runners))
    records: list[BenchmarkRecord] = []
    try:
        with (
            signals_interrupt(),
            tempfile.TemporaryDirectory(prefix="triggerbench-ctx-") as tmp,
            run_display(len(runners)) as shown,
        ):
            name = workload or str(model)
            shown.doing(f"{name}: preparing")
            with progress.step(f"{name}: preparing the model, its exports and reference outputs"):
                ctx = build_context(settings, workload=workload, model_path=model)
            check_batches(ctx.artifact, [batch_size])
            ctx_dir = ctx.save(Path(tmp) / "model")
            shown.say(f"{ctx.workload_name} -> {out_dir}")
            for r in runners:
                state.doing = f"profiling {ctx.workload_name} on {r}"
                shown.doing(f"{ctx.workload_name}: profiling {r}")
                job = Job(
                    runner=r,
                    batch_size=batch_size,
                    threads=threads,
                    runner_options=runner_options,
                    settings=settings,
                    out_dir=out_dir,
                )
                record = run_isolated(ctx, ctx_dir, job, op="profile", n_calls=n_calls)
                write_or_stop(record, state)
                records.append(record)
                if record.status == "ok":  # why another was not profiled is said once, under the table
                    shown.say(_status_line(record))
                shown.advance()
    except Interrupted as exc:
        where = escape(f"while {state.doing}; {state.summary()}")
        err_console.print(
            f"[red]interrupted[/] by {exc.signal_name} {where}", highlight=False, soft_wrap=True
        )
        raise typer.Exit(exc.exit_code) from None
    show_profiles(records, source_layers(ctx))
    if any(r.status == "failed" for r in records):
        raise typer.Exit(1)


def _status_line(record: BenchmarkRecord) -> str:
    """One line per profiled runner as its record is written."""
    p = record.profile
    top = _top(p.layers) if p else None
    where = f"; top {top.layer} ({100 * (top.share or 0):.1f} %)" if top else ""
    return f"{record.runner.name}: {len(p.layers) if p else 0} rows from {p.source if p else '?'}{where}"


def _why_not(record: BenchmarkRecord) -> str:
    message = (record.error.message if record.error else "").strip().splitlines()
    reason = message[0] if message else "?"
    if record.error and record.error.type == "ProfileUnavailable":
        return f"not available for this backend: {reason}"
    return f"{record.status.value}: {reason}"


def _top(rows: Sequence[LayerProfile]) -> LayerProfile | None:
    shared = [r for r in rows if r.share]
    return max(shared, key=lambda r: r.share or 0.0) if shared else None


def _value(row: LayerProfile, unit: str) -> str:
    if unit == "cycles":
        return "—" if row.cycles is None else f"{row.cycles:,}"
    return "—" if row.time_s is None else f"{row.time_s * 1e6:,.1f}"


def profile_table(records: Sequence[BenchmarkRecord], layer_order: Sequence[str]) -> tuple[Table, list[str]]:
    """Rows = layers (source order, then unmapped nodes), two columns per profiled backend.

    Returns the table and its footnotes. Rows with no time on any backend (inputs, nodes a
    backend did not run) are left out and counted in a footnote; the records keep them.
    """
    # A backend whose profile has no rows (hls4ml without a synthesis report) says why below.
    profiles = {
        r.runner.name: r.profile for r in records if r.status == "ok" and r.profile and r.profile.layers
    }
    by_runner = {runner: {row.layer: row for row in p.layers} for runner, p in profiles.items()}
    tops = {runner: getattr(_top(p.layers), "layer", None) for runner, p in profiles.items()}
    names: list[str] = []
    for rows in by_runner.values():
        names += [n for n in rows if n not in names]
    order = {n: i for i, n in enumerate(layer_order)}
    names.sort(key=lambda n: order.get(n, len(order)))
    table = Table(title=f"per-layer profile: {records[0].workload.name}" if records else "per-layer profile")
    table.add_column("layer")
    for runner, p in profiles.items():
        table.add_column(f"{runner} {'cycles' if p.unit == 'cycles' else 'µs'}", justify="right")
        table.add_column(f"{runner} %", justify="right")
    hidden = 0
    fused_notes: list[str] = []
    for name in names:
        cells = [by_runner[runner].get(name) for runner in by_runner]
        present = [c for c in cells if c is not None]
        if not any(c.time_s or c.cycles for c in present):  # an input, or nodes fused away
            hidden += 1
            continue
        mark = "" if any(c.mapped for c in present) else f" {UNMAPPED}"
        fused = sorted({f for c in present for f in c.fused_with})
        if fused:
            mark += f" {FUSED}"
            fused_notes.append(f"{FUSED} {name} holds {', '.join(fused)} (fused by the backend)")
        row = [escape(name) + mark]
        for runner, cell in zip(by_runner, cells, strict=True):
            if cell is None:
                row += ["", ""]
                continue
            share = "—" if cell.share is None else f"{100 * cell.share:.1f}"
            is_top = tops[runner] == name
            row += [_value(cell, profiles[runner].unit), f"[bold]{share} {TOP}[/]" if is_top else share]
        table.add_row(*row)
    notes = [f"{TOP} the layer with the largest share on that backend"]
    if any(not c.mapped for rows in by_runner.values() for c in rows.values()):
        notes.append(f"{UNMAPPED} a backend node that maps to no layer of the source model (its own name)")
    notes += fused_notes
    if hidden:
        notes.append(
            f"{hidden} row(s) with no time on any backend (inputs, nodes not run) left out; records keep them"
        )
    return table, notes


def backend_lines(record: BenchmarkRecord) -> list[str]:
    """Under the table: the sum of rows against the whole call, the profiler's cost, the caveats."""
    name = record.runner.name
    p = record.profile
    if record.status != "ok" or p is None:
        return [f"{name}: {_why_not(record)}"]

    def us(value: float | None) -> str:
        return "—" if value is None else f"{value * 1e6:,.1f} µs"

    lines = [f"{name}: {p.source}, {p.n_calls if p.n_calls is not None else '—'} calls"]
    if p.total_cycles is not None:
        lines.append(f"  sum of layers {p.total_cycles:,} cycles")
    if p.total_s is not None:  # an emulator's whole call is the emulator's speed: not beside cycles
        ratio = f" ({p.total_s / p.whole_call_s:.2f}x)" if p.total_s and p.whole_call_s else ""
        lines.append(f"  sum of layers {us(p.total_s)} vs whole call {us(p.whole_call_s)}{ratio}")
    if p.profiled_call_s is not None and p.whole_call_s:
        overhead = p.profiled_call_s / p.whole_call_s
        calls = f"{us(p.profiled_call_s)} profiled vs {us(p.whole_call_s)} plain"
        lines.append(f"  profiler overhead: one call {calls} ({overhead:.2f}x)")
    lines += [f"  caveat: {c}" for c in p.caveats]
    return lines


#: Order of the numerical table: what needs fixing first.
_VERDICT_ORDER = {"overflows": 0, "wastes-bits": 1, "unknown": 2, "ok": 3}


def numerical_table(record: BenchmarkRecord) -> Table:
    """Each layer's values against the fixed-point type chosen: overflowing layers first."""
    table = Table(title=f"numerical profile: {record.workload.name} on {record.runner.name}")
    for name in (
        "layer",
        "tensor",
        "min",
        "max",
        "type",
        "range",
        "outside range",
        "spare int. bits",
        "verdict",
    ):
        table.add_column(name, justify="right" if name in ("min", "max", "spare int. bits") else "left")
    rows = record.profile.numerical if record.profile else []
    for row in sorted(rows, key=lambda r: _VERDICT_ORDER[r.verdict]):  # stable: model order within
        outside = "—"
        if row.overflow_count is not None:
            fraction = f" ({100 * row.overflow_fraction:.2g} %)" if row.overflow_fraction else ""
            outside = f"{row.overflow_count:,}{fraction}" + (
                f" {row.overflow_mode}" if row.overflow_count else ""
            )
        span = (
            "—"
            if row.range_min is None or row.range_max is None
            else f"{row.range_min:g} … {row.range_max:g}"
        )
        verdict = "[bold red]OVERFLOWS[/]" if row.verdict == "overflows" else row.verdict
        table.add_row(
            escape(row.layer),
            row.tensor,
            "—" if row.min is None else f"{row.min:.3g}",
            "—" if row.max is None else f"{row.max:.3g}",
            escape(row.precision or "—"),
            span,
            outside,
            "—" if row.wasted_integer_bits is None else str(row.wasted_integer_bits),
            verdict,
        )
    return table


def show_profiles(records: Sequence[BenchmarkRecord], layer_order: Sequence[str]) -> None:
    """Print the per-layer table, its footnotes, each backend's totals and caveats, and values."""
    if any(r.status == "ok" and r.profile and r.profile.layers for r in records):
        table, notes = profile_table(records, layer_order)
        console.print(table)
        for note in notes:
            console.print(note, highlight=False, soft_wrap=True, markup=False)
    for record in records:
        for line in backend_lines(record):
            console.print(line, highlight=False, soft_wrap=True, markup=False)
    for record in records:
        if record.profile and record.profile.numerical:
            console.print(numerical_table(record))
