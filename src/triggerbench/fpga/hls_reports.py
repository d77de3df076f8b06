"""Read the reports of an hls4ml project built with Vivado HLS or Vitis HLS into FPGA figures.

hls4ml's own ``parse_vivado_report`` reads the C-synthesis XML and the co-simulation report and
already maps Vitis' ``DSP`` and Vivado's ``DSP48E`` to one key; it prints (rather than raises)
when something is missing, reads neither the tool version nor the part, and keeps only the
*used* column of ``vivado_synth.rpt``. This module checks the layout first (so a missing file is
one clear error), calls hls4ml's parser for the figures it reads, and adds what it lacks.
"""

from __future__ import annotations

import contextlib
import io
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from triggerbench.errors import UserInputError
from triggerbench.schema import FpgaFigures

#: Project file of each HLS tool (inside ``<project>_prj/``) -> the backend name records use.
APP_FILES = {"vivado_hls.app": "vivado_hls", "hls.app": "vitis_hls"}
NO_TIMING = "a utilisation report holds no latency or timing"


@dataclass(frozen=True)
class HlsProject:
    """Where an hls4ml project's reports are, and what ``project.tcl`` says about it."""

    root: Path
    top: str
    part: str | None
    target_clock_period_ns: float | None
    tool: str
    solution_dir: Path

    @property
    def csynth_xml(self) -> Path:
        """The C-synthesis report in XML."""
        return self.solution_dir / "syn" / "report" / f"{self.top}_csynth.xml"

    @property
    def cosim_rpt(self) -> Path:
        """The C/RTL co-simulation report (present only when co-simulation ran)."""
        return self.solution_dir / "sim" / "report" / f"{self.top}_cosim.rpt"

    @property
    def vivado_synth_rpt(self) -> Path:
        """Vivado's post-synthesis utilisation report (present only with ``vsynth``)."""
        return self.root / "vivado_synth.rpt"


@dataclass(frozen=True)
class HlsReports:
    """The figures read from one project: C-synthesis, and optionally synthesis and co-simulation."""

    project: HlsProject
    tool_version: str | None
    csynth: dict[str, Any]
    vivado_synth: dict[str, tuple[float, float | None]] = field(default_factory=dict)
    cosim: dict[str, Any] = field(default_factory=dict)


def _tcl_values(path: Path) -> dict[str, str]:
    """``set name "value"`` / ``set name value`` lines of hls4ml's ``project.tcl``."""
    values = {}
    for line in path.read_text(errors="replace").splitlines():
        match = re.match(r'\s*set\s+(\w+)\s+"?([^"]*)"?\s*$', line)
        if match:
            values[match.group(1)] = match.group(2).strip()
    return values


def locate(root: Path) -> HlsProject:
    """Find an hls4ml project's HLS solution and C-synthesis report, or say what is missing.

    Raises:
        UserInputError: the folder, ``project.tcl``, the HLS project or its report is missing.
    """
    root = Path(root)
    if not root.is_dir():
        what = "is a file, not an hls4ml project folder" if root.exists() else "not found"
        raise UserInputError(f"hls4ml project folder {what}: {root}")
    tcl = root / "project.tcl"
    if not tcl.is_file():
        raise UserInputError(f"{root} is not an hls4ml project: project.tcl is missing")
    values = _tcl_values(tcl)
    top = values.get("project_name")
    if not top:
        raise UserInputError(f"{tcl}: no 'set project_name' line")
    if "accelerator" in values.get("backend", ""):
        top += "_axi"  # the accelerator backends wrap the top function (as hls4ml's parser does)
    prj = root / f"{values['project_name']}_prj"
    tools = [(name, tool) for name, tool in APP_FILES.items() if (prj / name).is_file()]
    if not tools:
        raise UserInputError(
            f"no HLS project in {root}: expected {prj.name}/vivado_hls.app (Vivado HLS) "
            "or hls.app (Vitis HLS); was the project built with synthesis?"
        )
    app, tool = tools[0]
    solution = _first_solution(prj / app)
    try:
        clock = float(values["clock_period"]) if "clock_period" in values else None
    except ValueError:
        clock = None
    project = HlsProject(root, top, values.get("part"), clock, tool, prj / solution)
    if not project.csynth_xml.is_file():
        raise UserInputError(
            f"C-synthesis report missing: {project.csynth_xml.relative_to(root)} (run synthesis first)"
        )
    return project


def _first_solution(app: Path) -> str:
    # The .app file lists the solutions; hls4ml's flow makes one, ``solution1``.
    text = re.sub(r' xmlns="[^"]+"', "", app.read_text(errors="replace"), count=1)
    try:
        names = [s.get("name") for s in ET.fromstring(text).findall("solutions/solution")]
    except ET.ParseError as exc:
        raise UserInputError(f"malformed {app.name}: {exc}") from None
    names = [n for n in names if n and (app.parent / n).is_dir()]
    if not names:
        raise UserInputError(f"{app}: lists no solution folder that exists")
    return names[0]


def read(root: Path) -> HlsReports:
    """Read every report of the project at ``root``.

    Raises:
        UserInputError: a report is missing or malformed.
    """
    from hls4ml.report import parse_vivado_report

    project = locate(root)
    try:
        version = ET.parse(project.csynth_xml).getroot().findtext("./ReportVersion/Version")
        with contextlib.redirect_stdout(io.StringIO()):  # it prints what it cannot find
            report = parse_vivado_report(str(project.root))
    except (ET.ParseError, AttributeError, IndexError, ValueError) as exc:
        raise UserInputError(f"malformed report in {root}: {type(exc).__name__}: {exc}") from None
    if not report or "CSynthesisReport" not in report:
        raise UserInputError(f"hls4ml could not read {project.csynth_xml}")
    csynth = dict(report["CSynthesisReport"])
    csynth["Part"] = ET.parse(project.csynth_xml).getroot().findtext("./UserAssignments/Part")
    synth = _utilisation(project.vivado_synth_rpt) if project.vivado_synth_rpt.is_file() else {}
    return HlsReports(project, version, csynth, synth, dict(report.get("CosimReport", {})))


# Rows of Vivado's report_utilization: (section number, row label prefixes, our key).
_UTIL_ROWS = (
    (1, ("CLB LUTs", "Slice LUTs"), "lut"),
    (1, ("CLB Registers", "Slice Registers"), "ff"),
    (2, ("Block RAM Tile",), "bram_tiles"),
    (2, ("URAM",), "uram"),
    (3, ("DSPs",), "dsp"),
)


def _utilisation(path: Path) -> dict[str, tuple[float, float | None]]:
    """Used and available counts from ``report_utilization`` (hls4ml keeps only the used ones)."""
    found: dict[str, tuple[float, float | None]] = {}
    section = 0
    for line in path.read_text(errors="replace").splitlines():
        heading = re.match(r"^(\d)\.\s", line)
        if heading:
            section = int(heading.group(1))
        cells = [c.strip() for c in line.split("|")]
        if len(cells) < 6:
            continue
        label = cells[1].rstrip("*").strip()
        for sec, prefixes, key in _UTIL_ROWS:
            if sec == section and label.startswith(prefixes) and key not in found:
                try:
                    found[key] = (float(cells[2]), float(cells[4]) if cells[4] else None)
                except ValueError:
                    raise UserInputError(f"malformed {path.name}: row {cells[1]!r}") from None
    return found


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None  # 'undef' when the tool could not bound a loop


def _float(value: Any) -> float | None:
    try:
        return float(str(value).strip())
    except (TypeError, ValueError):
        return None


def _seconds(cycles: int | None, period_ns: float | None) -> float | None:
    return cycles * period_ns * 1e-9 if cycles is not None and period_ns is not None else None


def figures(reports: HlsReports) -> list[FpgaFigures]:
    """Turn the reports into ``hls-csynth``, ``vivado-synth`` and ``hls-cosim`` figure sets.

    Latency in seconds uses the *estimated* clock period of C-synthesis (what the design can
    reach); the tool's own real-time latency at the target clock is kept in ``details``.
    """
    c, tool = reports.csynth, f"{reports.project.tool} {reports.tool_version or '?'}"
    part = c.get("Part") or reports.project.part
    est = _float(c.get("EstimatedClockPeriod"))
    target = _float(c.get("TargetClockPeriod"))
    worst, best = _int(c.get("WorstLatency")), _int(c.get("BestLatency"))
    unreadable = "the report gives no number (e.g. 'undef': a loop the tool could not bound)"
    out = [
        FpgaFigures.with_reason(
            "hls-csynth",
            unreadable,
            method=f"{tool} C-synthesis estimate ({reports.project.csynth_xml.name})",
            part=part,
            clock_period_ns=est,
            target_clock_period_ns=target,
            latency_cycles=worst,
            latency_best_cycles=best,
            latency_s=_seconds(worst, est),
            interval_cycles=_int(c.get("IntervalMax")),
            interval_min_cycles=_int(c.get("IntervalMin")),
            lut=_int(c.get("LUT")),
            ff=_int(c.get("FF")),
            dsp=_int(c.get("DSP")),
            bram=_float(c.get("BRAM_18K")),
            uram=_int(c.get("URAM")),
            lut_available=_int(c.get("AvailableLUT")),
            ff_available=_int(c.get("AvailableFF")),
            dsp_available=_int(c.get("AvailableDSP")),
            bram_available=_float(c.get("AvailableBRAM_18K")),
            uram_available=_int(c.get("AvailableURAM")),
            null_reasons={"carry": "HLS reports do not count carry chains"},
            details={
                "latency_worst_s_at_target_clock": _seconds(worst, target),
                "tool": reports.project.tool,
                "tool_version": reports.tool_version,
            },
        )
    ]
    if reports.vivado_synth:
        s = reports.vivado_synth

        def used(key: str) -> float | None:
            return s[key][0] if key in s else None

        def avail(key: str) -> float | None:
            return s[key][1] if key in s else None

        tiles, tiles_avail = used("bram_tiles"), avail("bram_tiles")
        as_int = {k: (int(v) if v is not None else None) for k, v in {
            "lut": used("lut"), "ff": used("ff"), "dsp": used("dsp"), "uram": used("uram"),
            "lut_available": avail("lut"), "ff_available": avail("ff"),
            "dsp_available": avail("dsp"), "uram_available": avail("uram"),
        }.items()}  # fmt: skip
        out.append(
            FpgaFigures.with_reason(
                "vivado-synth",
                NO_TIMING,
                method="Vivado report_utilization after synthesis (vivado_synth.rpt); BRAM = 2 x 36K tiles",
                part=part,
                # A Block RAM tile is one 36K block = two 18K blocks (the unit of this field).
                bram=tiles * 2 if tiles is not None else None,
                bram_available=tiles_avail * 2 if tiles_avail is not None else None,
                null_reasons={"carry": "not read from the report"},
                **as_int,
            )
        )
    cosim = reports.cosim
    if cosim:
        lat, lat_best = _int(cosim.get("LatencyMax")), _int(cosim.get("LatencyMin"))
        out.append(
            FpgaFigures.with_reason(
                "hls-cosim",
                "co-simulation reports latency and interval only",
                method=f"{tool} C/RTL co-simulation ({cosim.get('RTL', '?')}, status {cosim.get('Status')})",
                part=part,
                clock_period_ns=est,
                target_clock_period_ns=target,
                latency_cycles=lat,
                latency_best_cycles=lat_best,
                latency_s=_seconds(lat, est),
                interval_cycles=_int(cosim.get("IntervalMax")),
                interval_min_cycles=_int(cosim.get("IntervalMin")),
                details={"status": cosim.get("Status"), "rtl": cosim.get("RTL")},
            )
        )
    return out


#: Resource elements of a csynth.xml -> our keys (Vivado HLS says DSP48E, Vitis HLS DSP).
_MODULE_RESOURCES = {
    "BRAM_18K": "bram", "DSP48E": "dsp", "DSP": "dsp", "FF": "ff", "LUT": "lut", "URAM": "uram"
}  # fmt: skip


@dataclass(frozen=True)
class ModuleReport:
    """One synthesised function below the top (hls4ml: a layer), from its ``<module>_csynth.xml``."""

    name: str
    latency_cycles: int | None
    latency_best_cycles: int | None
    interval_cycles: int | None
    pipeline_type: str | None
    resources: dict[str, float]


def modules(project: HlsProject) -> list[ModuleReport]:
    """The per-module C-synthesis reports beside the top's, sorted by name.

    hls4ml's ``parse_vivado_report`` reads only the top report. The HLS tool writes one
    ``<module>_csynth.xml`` per function it kept (not the ones it inlined: with io_parallel and
    the Latency strategy hls4ml inlines the layers, and only the top is left).

    Raises:
        UserInputError: a module report is malformed.
    """
    folder = project.csynth_xml.parent
    skip = {project.csynth_xml.name, "csynth.xml"}  # Vitis also writes the top as csynth.xml
    found = []
    for path in sorted(folder.glob("*_csynth.xml")):
        if path.name in skip:
            continue
        try:
            root = ET.parse(path).getroot()
        except ET.ParseError as exc:
            raise UserInputError(f"malformed {path.name}: {exc}") from None
        latency = "./PerformanceEstimates/SummaryOfOverallLatency/"
        resources = {
            _MODULE_RESOURCES[e.tag]: value
            for e in root.findall("./AreaEstimates/Resources/*")
            if e.tag in _MODULE_RESOURCES and (value := _float(e.text)) is not None
        }
        found.append(
            ModuleReport(
                name=root.findtext("./UserAssignments/TopModelName") or path.name.removesuffix("_csynth.xml"),
                latency_cycles=_int(root.findtext(latency + "Worst-caseLatency")),
                latency_best_cycles=_int(root.findtext(latency + "Best-caseLatency")),
                interval_cycles=_int(root.findtext(latency + "Interval-max")),
                pipeline_type=root.findtext("./PerformanceEstimates/PipelineType"),
                resources=resources,
            )
        )
    return found


def layer_index(module: str) -> int | None:
    """The hls4ml layer index in a module's name (hls4ml names each layer's config ``configN``)."""
    match = re.search(r"_config(\d+)(?:_|$)", module)
    return int(match.group(1)) if match else None
