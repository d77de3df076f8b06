"""The report of real records: one quick run of the reference models on this repository's host
(`tests/reports/data/demo-run`: keras, onnxruntime, openvino, hls4ml, rtl; batch 1, 16, 256)."""

from pathlib import Path

import pytest

from triggerbench.reports.document import ReportOptions, build
from triggerbench.reports.published import SEED_TALK, load_published
from triggerbench.reports.render import to_html, to_latex, to_markdown
from triggerbench.results import load

DEMO_RUN = Path(__file__).parent / "data" / "demo-run"


@pytest.fixture(scope="module")
def report():
    frame = load([DEMO_RUN])
    return build(frame, ReportOptions(published=load_published([SEED_TALK]), plots=False))


def table(report, name):
    return next(t for t in report.tables if t.name == name)


def row(t, label):
    return dict(zip(t.columns, (c.text for c in next(r for r in t.rows if r[0].text == label)), strict=True))


def test_llp_backend_table_has_this_hosts_runners_and_the_published_ones(report):
    t = table(report, "backends-llp-vgg-single-stream")
    labels = [r[0].text for r in t.rows]
    assert labels[:3] == ["keras", "onnxruntime", "openvino"]
    assert labels[3:] == ["Xeon (published)", "V100 (published)", "Alveo U50 DPU (published)"]
    assert row(t, "V100 (published)")["events/s"] == "1 k"
    assert row(t, "keras")["gain vs keras"] == "1x"
    assert row(t, "onnxruntime")["power"] == "—"  # no meter on this host: a dash with its reason
    assert any("no power figure" in n for n in t.notes)
    assert "hls4ml" not in labels and "rtl" not in labels  # emulators are listed, not rows
    assert any(line.startswith("hls4ml") for line in t.excluded)


def test_fpga_tables_of_the_real_firmware_flows(report):
    resources = table(report, "fpga-resources")
    assert row(resources, "muon-l0-teacher")["DSP"].endswith("est. does not fit")
    four = row(resources, "muon-l0-qstudent-4bit")
    assert four["part"] == "xcvu13p" and four["LUT"].endswith("Yosys")
    latency = table(report, "latency-per-event")
    assert row(latency, "muon-l0-qstudent-4bit")["rtl (FPGA)"].endswith("cycles RTL sim")


def test_quantization_scan_of_the_real_students(report):
    t = table(report, "quantization-scan")
    assert [r[0].text for r in t.rows] == ["2", "3", "4", "6", "8", "32 (float)"]
    tidy = t.tidy.set_index("bits")
    assert tidy.loc[2, "pt_resolution_frac"] > tidy.loc[8, "pt_resolution_frac"]
    assert tidy.loc[4, "lut"] > 0 and tidy.loc[4, "latency_s"] > 0


def test_no_nan_or_none_reaches_a_rendered_table(report):
    for t in report.tables:
        for text in (to_markdown(t), to_latex(t), to_html(t)):
            assert "nan" not in text.lower().replace("nanos", "") and "None" not in text, t.name
