"""hls4ml project reports -> FPGA figures, on real Vivado HLS 2020.1 report files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from triggerbench.errors import UserInputError
from triggerbench.fpga import hls_reports

# Real Vivado HLS 2020.1 reports, copied unchanged from hls4ml's tests (see data/README.md).
REPORTS = Path(__file__).parent / "data" / "vivado-hls-2020.1"

# project.tcl as hls4ml 1.3's writer writes it (VivadoWriter.write_build_script), for the
# sample's part and clock; the HLS tool does not write it, hls4ml does, so it is not in the sample.
PROJECT_TCL = """variable project_name
set project_name "myproject"
variable backend
set backend "{backend}"
variable part
set part "xc7z020-clg400-1"
variable clock_period
set clock_period 5
"""

# A co-simulation report in Vivado HLS's layout. The sample has none: the numbers are made up
# (different from C-synthesis so the test shows which report they came from).
COSIM_RPT = """================================================================
== Vivado HLS Report for 'myproject'
================================================================
+ General Information:
    * Date:           Sun Mar 19 07:40:00 2023
    * Version:        2020.1 (Build 2897737 on Wed May 27 20:21:37 MDT 2020)
    * Project:        myproject_prj
    * Solution:       solution1

+-----------+--------+-----+-----+-----+-----+-----+-----+
|           |        |      Latency      |      Interval     |
+    RTL    + Status +-----+-----+-----+-----+-----+-----+
|           |        | min | avg | max | min | avg | max |
+-----------+--------+-----+-----+-----+-----+-----+-----+
|       VHDL|      NA|   NA|   NA|   NA|   NA|   NA|   NA|
|    Verilog|    Pass|   11|   11|   12|    8|    8|    9|
+-----------+--------+-----+-----+-----+-----+-----+-----+
"""


def make_project(root: Path, vitis: bool = False, synth: bool = True, cosim: bool = False) -> Path:
    """Arrange the sample reports as hls4ml's output folder (README of the sample).

    ``vitis=True`` derives a Vitis HLS variant by renaming (``DSP48E`` -> ``DSP``, ``hls.app``):
    not a file Vitis wrote, but the naming Vitis HLS 2022+ uses.
    """
    prj = root / "myproject_prj"
    report = prj / "solution1" / "syn" / "report"
    report.mkdir(parents=True)
    (root / "project.tcl").write_text(PROJECT_TCL.format(backend="vitis" if vitis else "vivado"))
    app = (REPORTS / "vivado_hls.app").read_text()
    xml = (REPORTS / "myproject_csynth.xml").read_text()
    if vitis:
        xml = xml.replace("DSP48E>", "DSP>")
    (prj / ("hls.app" if vitis else "vivado_hls.app")).write_text(app)
    (report / "myproject_csynth.xml").write_text(xml)
    shutil.copy(REPORTS / "myproject_csynth.rpt", report / "myproject_csynth.rpt")
    if synth:
        shutil.copy(REPORTS / "vivado_synth.rpt", root / "vivado_synth.rpt")
    if cosim:
        sim = prj / "solution1" / "sim" / "report"
        sim.mkdir(parents=True)
        (sim / "myproject_cosim.rpt").write_text(COSIM_RPT)
    return root


def by_source(figures):
    return {f.source: f for f in figures}


@pytest.mark.parametrize("vitis", [False, True])
def test_csynth_figures_are_the_readme_values(tmp_path, vitis):
    reports = hls_reports.read(make_project(tmp_path, vitis=vitis))
    assert reports.project.tool == ("vitis_hls" if vitis else "vivado_hls")
    assert reports.tool_version == "2020.1"
    c = by_source(hls_reports.figures(reports))["hls-csynth"]
    assert c.part == "xc7z020-clg400-1"
    assert (c.latency_best_cycles, c.latency_cycles) == (10, 10)
    assert (c.interval_min_cycles, c.interval_cycles) == (8, 8)
    assert (c.clock_period_ns, c.target_clock_period_ns) == (4.049, 5.0)
    assert c.latency_s == pytest.approx(10 * 4.049e-9)  # at the estimated clock
    assert c.details["latency_worst_s_at_target_clock"] == pytest.approx(50.0e-9)  # the report's 50 ns
    assert (c.bram, c.dsp, c.ff, c.lut, c.uram) == (0, 73, 7969, 2532, 0)
    assert (c.bram_available, c.dsp_available, c.ff_available, c.lut_available) == (280, 220, 106400, 53200)
    assert c.carry is None and "carry" in c.null_reasons


def test_vivado_synthesis_figures_with_the_parts_totals(tmp_path):
    s = by_source(hls_reports.figures(hls_reports.read(make_project(tmp_path))))["vivado-synth"]
    assert (s.bram, s.dsp, s.ff, s.lut) == (0, 66, 2428, 1526)
    # Available from the same table: 140 36K tiles = 280 18K blocks, as C-synthesis says.
    assert (s.bram_available, s.dsp_available, s.ff_available, s.lut_available) == (280, 220, 106400, 53200)
    assert s.latency_cycles is None and s.null_reasons["latency_cycles"] == hls_reports.NO_TIMING


def test_only_the_reports_present_become_figures(tmp_path):
    figures = hls_reports.figures(hls_reports.read(make_project(tmp_path, synth=False)))
    assert [f.source for f in figures] == ["hls-csynth"]


def test_cosimulation_latency(tmp_path):
    figures = by_source(hls_reports.figures(hls_reports.read(make_project(tmp_path, cosim=True))))
    co = figures["hls-cosim"]
    assert (co.latency_best_cycles, co.latency_cycles) == (11, 12)
    assert (co.interval_min_cycles, co.interval_cycles) == (8, 9)
    assert co.latency_s == pytest.approx(12 * 4.049e-9)
    assert co.details["status"] == "Pass" and co.details["rtl"] == "Verilog"


def _drop(path: Path) -> None:
    path.unlink()


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda root: shutil.rmtree(root), "hls4ml project folder not found"),
        (lambda root: shutil.rmtree(root) or root.write_text("x"), "is a file, not an hls4ml project folder"),
        (lambda root: _drop(root / "project.tcl"), "project.tcl is missing"),
        (lambda root: _drop(root / "myproject_prj" / "vivado_hls.app"), "no HLS project"),
        (
            lambda root: _drop(root / "myproject_prj/solution1/syn/report/myproject_csynth.xml"),
            "C-synthesis report missing: myproject_prj/solution1/syn/report/myproject_csynth.xml",
        ),
        (
            lambda root: (root / "myproject_prj/solution1/syn/report/myproject_csynth.xml").write_text(
                "<prof"
            ),
            "malformed report",
        ),
        (
            lambda root: (root / "myproject_prj/solution1/syn/report/myproject_csynth.xml").write_text(
                "<profile><ReportVersion><Version>2020.1</Version></ReportVersion></profile>"
            ),
            "malformed report",
        ),
        (
            lambda root: (root / "myproject_prj" / "vivado_hls.app").write_text("<a"),
            "malformed vivado_hls.app",
        ),
    ],
)
def test_missing_or_malformed_reports_are_one_clear_error(tmp_path, damage, message):
    root = make_project(tmp_path / "prj")
    damage(root)
    with pytest.raises(UserInputError, match=message.replace("(", r"\(")) as err:
        hls_reports.read(root)
    assert "\n" not in str(err.value)


# Per-module reports in the csynth.xml layout, with the figures of the real .rpt's instance table
# (see data/vivado-hls-2020.1-modules/README.md).
MODULES = Path(__file__).parent / "data" / "vivado-hls-2020.1-modules"
DENSE = "dense_array_array_ap_fixed_16_6_5_3_0_5u_config2_s"
RELU = "relu_array_array_ap_fixed_5u_relu_config3_s"


@pytest.mark.parametrize("vitis", [False, True])
def test_per_module_reports_beside_the_top_one(tmp_path, vitis):
    root = make_project(tmp_path, vitis=vitis)
    report = root / "myproject_prj" / "solution1" / "syn" / "report"
    for path in MODULES.glob("*_csynth.xml"):
        text = path.read_text()
        (report / path.name).write_text(text.replace("DSP48E>", "DSP>") if vitis else text)
    shutil.copy(report / "myproject_csynth.xml", report / "csynth.xml")  # Vitis' copy of the top
    found = {m.name: m for m in hls_reports.modules(hls_reports.locate(root))}
    assert sorted(found) == [DENSE, RELU]  # the top is not a module of itself
    dense, relu = found[DENSE], found[RELU]
    assert (dense.latency_best_cycles, dense.latency_cycles, dense.interval_cycles) == (7, 7, 7)
    assert dense.resources == {"bram": 0, "dsp": 73, "ff": 7860, "lut": 2134, "uram": 0}
    assert (relu.latency_cycles, relu.interval_cycles, relu.pipeline_type) == (2, 1, "function")
    assert relu.resources["lut"] == 256
    # The instance table's total: the modules' resources add up to the top's 'Instance' row.
    assert sum(m.resources["ff"] for m in found.values()) == 7944


def test_only_the_top_report_means_no_modules(tmp_path):
    assert hls_reports.modules(hls_reports.locate(make_project(tmp_path))) == []


def test_a_malformed_module_report_is_one_clear_error(tmp_path):
    root = make_project(tmp_path)
    (root / "myproject_prj/solution1/syn/report" / f"{DENSE}_csynth.xml").write_text("<prof")
    with pytest.raises(UserInputError, match=f"malformed {DENSE}_csynth.xml"):
        hls_reports.modules(hls_reports.locate(root))


def test_hls4ml_layer_index_from_module_names():
    assert hls_reports.layer_index(DENSE) == 2
    assert hls_reports.layer_index(RELU) == 3
    assert hls_reports.layer_index("myproject") is None
