"""The whole report: every layout's tables and plots as Markdown, LaTeX and one self-contained HTML.

Each format carries the provenance of the figures (hosts, devices, versions, commits, verdicts).
Per-layer profiles (scenario ``profile``) have their own section, after the performance tables and
plots; the performance layouts and plots never see them.

Deterministic: the same records give byte-identical files (no generation time, sorted content,
plots saved without timestamps).
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from triggerbench.errors import UserInputError
from triggerbench.files import atomic_write_text
from triggerbench.reports import render
from triggerbench.reports.backends import backend_tables
from triggerbench.reports.fpga import fpga_resource_table
from triggerbench.reports.frame import current, profiles, without_profiles
from triggerbench.reports.latency import latency_table
from triggerbench.reports.profile import NEEDS as PROFILE_NEEDS
from triggerbench.reports.profile import profile_tables
from triggerbench.reports.provenance import provenance, warning_lines
from triggerbench.reports.published import PublishedFigure
from triggerbench.reports.quantization import NEEDS as QUANTIZATION_NEEDS
from triggerbench.reports.quantization import quantization_table
from triggerbench.reports.table import Table

LAYOUTS = ("backends", "fpga", "latency", "quantization", "profile")
FORMATS = ("md", "tex", "html")
#: What each layout needs, for the message when it finds nothing.
NEEDS = {
    "backends": "ok records with measured throughput (a CPU/GPU/DPU runner, not an emulator)",
    "fpga": "records with FPGA resource figures (hls4ml, rtl, or ingest-hls)",
    "latency": "ok records with latency figures or FPGA latency",
    "quantization": QUANTIZATION_NEEDS,
    "profile": PROFILE_NEEDS,
}
PROFILE_HEADING = "Per-layer profiles"


@dataclass
class ReportOptions:
    """What ``triggerbench report`` was asked for."""

    layouts: tuple[str, ...] = LAYOUTS
    baseline: str | None = None
    part: str | None = None
    workload: str | None = None
    batch: int | None = None
    published: list[PublishedFigure] = field(default_factory=list)
    plots: bool = True


@dataclass
class Report:
    """Tables, the records to plot, and what could not be drawn (one line each).

    Plots are drawn by ``write`` (straight into files, several processes at once).
    """

    frame: pd.DataFrame
    tables: list[Table]
    #: The profile section's tables (per workload: per-layer, cost per backend, numerical).
    profile_tables: list[Table] = field(default_factory=list)
    shown: pd.DataFrame = field(default_factory=pd.DataFrame)
    options: ReportOptions = field(default_factory=ReportOptions)
    not_drawn: list[str] = field(default_factory=list)
    provenance: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    plots: list = field(default_factory=list)  # SavedPlot, filled by ``write``
    profile_plots: list = field(default_factory=list)  # SavedPlot of the profile section

    @property
    def all_tables(self) -> list[Table]:
        """Every table, performance then profile (each is also its own .tex file)."""
        return [*self.tables, *self.profile_tables]


def _layout_tables(frame: pd.DataFrame, layout: str, options: ReportOptions) -> tuple[list[Table], list[str]]:
    """The layout's tables, and lines on what of its records it could not show."""
    if layout == "profile":
        return profile_tables(frame, options.workload)
    if layout == "backends":
        return backend_tables(frame, options.workload, options.baseline, options.batch, options.published), []
    if layout == "fpga":
        table = fpga_resource_table(frame, options.part, options.workload, options.published)
    elif layout == "latency":
        table = latency_table(frame, options.workload, options.published)
    else:
        table = quantization_table(frame, options.workload)
    return ([table] if table is not None else []), []


def build(frame: pd.DataFrame, options: ReportOptions) -> Report:
    """Every table and plot the records allow; a layout asked for by name must find records."""
    if frame.empty:
        raise UserInputError("no records to report: the results set is empty")
    if options.workload is not None and options.workload not in set(frame["workload.name"]):
        present = ", ".join(sorted(set(frame["workload.name"])))
        raise UserInputError(f"--workload {options.workload!r}: no records; workloads present: {present}")
    shown = current(frame)
    sections: dict[bool, list[Table]] = {False: [], True: []}  # is-profile -> tables
    not_drawn = []
    for layout in options.layouts:
        # Profiles and performance records never share a table; a layout says it found nothing only
        # where there are records of its kind (a folder of profiles lacks no backend table).
        records = profiles(shown) if layout == "profile" else without_profiles(shown)
        found, unshown = _layout_tables(records, layout, options)
        if not found:
            message = f"layout {layout!r}: no matching records; it needs {NEEDS[layout]}"
            if len(options.layouts) == 1:
                raise UserInputError("; ".join([f"{message} ({len(frame)} record(s) given)", *unshown]))
            if not records.empty and not unshown:
                not_drawn.append(message)
        sections[layout == "profile"] += found
        not_drawn += unshown
    return Report(
        frame=frame,
        tables=sections[False],
        profile_tables=sections[True],
        shown=shown,
        options=options,
        not_drawn=not_drawn,
        provenance=provenance(frame),
        warnings=warning_lines(shown),
    )


# --- writers ----------------------------------------------------------------------------------


def _markdown_body(tables: list[Table], plots: list, figures: dict[str, dict[str, Path]], out_dir: Path):
    lines = []
    for table in tables:
        lines += ["", render.to_markdown(table)]
    for plot in plots:
        png = figures[plot.name]["png"].relative_to(out_dir).as_posix()
        lines += ["", f"![{render.md_escape(plot.title)}]({png})", "", f"*{render.md_escape(plot.caption)}*"]
    return lines


def _markdown(report: Report, figures: dict[str, dict[str, Path]], out_dir: Path) -> str:
    lines = ["# triggerbench report", ""]
    lines += [f"- {label}: {render.md_escape(text)}" for label, text in report.provenance]
    lines += _markdown_body(report.tables, report.plots, figures, out_dir)
    if report.profile_tables or report.profile_plots:
        lines += ["", f"## {PROFILE_HEADING}"]
        lines += _markdown_body(report.profile_tables, report.profile_plots, figures, out_dir)
    if report.not_drawn:
        lines += ["", "## Not drawn", ""] + [f"- {render.md_escape(m)}" for m in report.not_drawn]
    warnings = report.warnings
    if warnings:
        lines += ["", "## Warnings", ""] + [f"- {render.md_escape(w)}" for w in warnings]
    return "\n".join(lines) + "\n"


def _latex_body(tables: list[Table], plots: list, figures: dict[str, dict[str, Path]], out_dir: Path):
    lines = [rf"\input{{tables/{table.name}.tex}}" for table in tables]
    for plot in plots:
        pdf = figures[plot.name]["pdf"].relative_to(out_dir).as_posix()
        lines += [
            r"\begin{figure}[H]",
            r"\centering",
            rf"\includegraphics[width=0.8\linewidth]{{{pdf}}}",
            rf"\caption{{{render.tex_escape(plot.title)}: {render.tex_escape(plot.caption)}}}",
            r"\end{figure}",
        ]
    return lines


def _latex(report: Report, figures: dict[str, dict[str, Path]], out_dir: Path) -> str:
    esc = render.tex_escape
    lines = [
        "% triggerbench report: generated from result records, do not edit.",
        "% Each table is also in tables/NAME.tex, ready to \\input into a beamer frame.",
        r"\documentclass[10pt]{article}",
        r"\usepackage[T1]{fontenc}",
        r"\usepackage[margin=1.5cm,landscape]{geometry}",
        r"\usepackage{booktabs}",
        r"\usepackage{graphicx}",
        r"\usepackage{float}",
        r"\begin{document}",
        r"\section*{triggerbench report}",
        r"\begin{itemize}",
    ]
    lines += [rf"\item {esc(label)}: {esc(text)}" for label, text in report.provenance]
    lines.append(r"\end{itemize}")
    lines += _latex_body(report.tables, report.plots, figures, out_dir)
    if report.profile_tables or report.profile_plots:
        lines.append(rf"\section*{{{PROFILE_HEADING}}}")
        lines += _latex_body(report.profile_tables, report.profile_plots, figures, out_dir)
    if report.not_drawn:
        lines += [r"\subsection*{Not drawn}", r"\begin{itemize}"]
        lines += [rf"\item {esc(m)}" for m in report.not_drawn] + [r"\end{itemize}"]
    lines.append(r"\end{document}")
    return "\n".join(lines) + "\n"


_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2em auto;max-width:72em;color:#222}
h1{font-size:1.6em} h2{font-size:1.25em;margin-top:2em}
table.tb{border-collapse:collapse;margin:1em 0;font-size:.9em}
table.tb caption{caption-side:top;text-align:left;padding:.3em 0;max-width:60em}
table.tb th,table.tb td{padding:.25em .7em;border-bottom:1px solid #ddd;text-align:left}
table.tb thead th{border-bottom:2px solid #333}
table.tb td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
table.tb tfoot td{font-size:.8em;color:#555;border:none}
.excluded{font-size:.85em;color:#555} figure{margin:1.5em 0} figure img{max-width:100%}
figcaption{font-size:.85em;color:#444;max-width:60em}
dl.prov{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}
dl.prov dt{font-weight:600} dl.prov dd{margin:0}
"""


def _html_figure(plot, figures: dict[str, dict[str, Path]]) -> str:
    esc = html.escape
    data = base64.b64encode(figures[plot.name]["png"].read_bytes()).decode("ascii")
    image = f'<img alt="{esc(plot.title)}" src="data:image/png;base64,{data}">'
    return (
        f'<figure id="plot-{esc(plot.name)}">{image}'
        f"<figcaption><b>{esc(plot.title)}</b> — {esc(plot.caption)}</figcaption></figure>"
    )


def _html(report: Report, figures: dict[str, dict[str, Path]]) -> str:
    esc = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><title>triggerbench report</title>',
        f"<style>{_CSS}</style></head><body>",
        "<h1>triggerbench report</h1>",
        '<h2 id="provenance">Provenance</h2><dl class="prov">',
    ]
    parts += [f"<dt>{esc(label)}</dt><dd>{esc(text)}</dd>" for label, text in report.provenance]
    parts.append("</dl>")
    if report.tables:
        parts.append('<h2 id="tables">Tables</h2>')
        parts += [render.to_html(table) for table in report.tables]
    if report.plots:
        parts.append('<h2 id="plots">Plots</h2>')
    parts += [_html_figure(plot, figures) for plot in report.plots]
    if report.profile_tables or report.profile_plots:
        parts.append(f'<h2 id="profiles">{esc(PROFILE_HEADING)}</h2>')
        parts += [render.to_html(table) for table in report.profile_tables]
        parts += [_html_figure(plot, figures) for plot in report.profile_plots]
    if report.not_drawn:
        parts.append('<h2 id="not-drawn">Not drawn</h2><ul>')
        parts += [f"<li>{esc(m)}</li>" for m in report.not_drawn] + ["</ul>"]
    warnings = report.warnings
    if warnings:
        parts.append('<h2 id="warnings">Warnings</h2><ul>')
        parts += [f"<li>{esc(w)}</li>" for w in warnings] + ["</ul>"]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write(report: Report, out_dir: Path, formats: tuple[str, ...] = FORMATS) -> list[Path]:
    """Write the report in ``formats`` under ``out_dir`` (atomically); return the main files."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    figures: dict[str, dict[str, Path]] = {}
    if report.options.plots:
        from triggerbench.reports.plots import draw_and_save

        saved, reasons = draw_and_save(report.shown, out_dir / "figures", report.options.workload)
        report.plots = [plot for plot in saved if not plot.profile]
        report.profile_plots = (
            [plot for plot in saved if plot.profile] if "profile" in report.options.layouts else []
        )
        report.not_drawn = [*report.not_drawn, *reasons]
        figures = {plot.name: plot.paths for plot in saved}
    written = []
    if "md" in formats:
        written.append(out_dir / "report.md")
        atomic_write_text(written[-1], _markdown(report, figures, out_dir))
    if "tex" in formats:
        (out_dir / "tables").mkdir(parents=True, exist_ok=True)
        for table in report.all_tables:
            atomic_write_text(out_dir / "tables" / f"{table.name}.tex", render.to_latex(table))
        written.append(out_dir / "report.tex")
        atomic_write_text(written[-1], _latex(report, figures, out_dir))
    if "html" in formats:
        written.append(out_dir / "report.html")
        atomic_write_text(written[-1], _html(report, figures))
    return written
