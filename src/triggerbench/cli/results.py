"""Commands on records: ``report``, ``compare``, ``ingest-hls`` and ``schema``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from triggerbench.cli.app import app, split
from triggerbench.cli.display import console, err_console
from triggerbench.errors import UserInputError


@app.command()
def report(
    paths: Annotated[list[Path], typer.Argument(help="Result files, folders or pytest-benchmark JSON.")],
    format: Annotated[
        list[str] | None, typer.Option("--format", help="md, tex, html or all (comma-separated).")
    ] = None,
    out: Annotated[Path, typer.Option(help="Folder for the report.")] = Path("reports"),
    layout: Annotated[
        list[str] | None,
        typer.Option(help="backends, fpga, latency, quantization, profile or all (comma-separated)."),
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
    from triggerbench.files import ensure_writable
    from triggerbench.reports.document import FORMATS, LAYOUTS, ReportOptions, build, write
    from triggerbench.reports.published import SEED_TALK, load_published
    from triggerbench.results.store import load

    formats = _choices(split(format) or ["md"], FORMATS, "--format")
    layouts = _choices(split(layout) or ["all"], LAYOUTS, "--layout")
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
