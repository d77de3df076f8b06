from records import PERF_OK, make_record

from triggerbench.reports.markdown import render
from triggerbench.results.store import to_frame


def test_markdown_table_has_a_row_per_record_with_scaled_units():
    records = [
        make_record("openvino"),
        make_record("keras", status="failed"),
        make_record("onnxruntime", warnings=["unstable: 14%"]),
    ]
    text = render(to_frame(records))
    rows = [line for line in text.splitlines() if line.startswith("| standin-cnn")]
    assert [r.split("|")[4].strip() for r in rows] == ["keras", "onnxruntime", "openvino"]
    assert "1 ms" in text and "2 ms" in text  # p50 and p99, scaled from seconds
    assert "failed: device lost" in text
    assert "— (unavailable)" in text
    assert "unstable: 14%" in text


def test_empty_report():
    assert "No records" in render(to_frame([]))


def test_fpga_figures_get_their_own_table_and_emulated_speed_is_labelled():
    from triggerbench.schema import FpgaFigures

    testbench = FpgaFigures.with_reason(
        "rtl-testbench",
        "not measured in the testbench",
        method="clock edges counted",
        part="xcvu13p-fhga2104-2L-e",
        clock_period_ns=5.0,
        latency_cycles=5,
        latency_s=25e-9,
        interval_cycles=1,
    )
    synthesis = FpgaFigures.with_reason(
        "open-synthesis", "Yosys does not report it", lut=21203, lut_available=1728000, carry=6430
    )
    emulated = make_record("rtl", performance={**PERF_OK, "emulated": True}, fpga=[testbench, synthesis])
    text = render(to_frame([emulated, make_record("keras")]))
    assert "(emulated)" in text.split("## FPGA")[0]
    assert text.count("(emulated)") == 1  # the keras row is not labelled
    fpga_rows = [line for line in text.split("## FPGA")[1].splitlines() if line.startswith("| standin-cnn")]
    assert len(fpga_rows) == 2
    assert "rtl-testbench" in fpga_rows[0] and "25 ns" in fpga_rows[0] and "| 5 " in fpga_rows[0]
    assert "21,203 (1.2 %)" in fpga_rows[1]


def test_no_fpga_table_without_fpga_figures():
    assert "## FPGA" not in render(to_frame([make_record("keras")]))


def test_fpga_figures_repeated_per_batch_size_are_shown_once():
    from triggerbench.schema import FpgaFigures

    estimate = FpgaFigures.with_reason("estimate", "not estimated", method="analytic", latency_cycles=15)
    b1 = make_record("hls4ml", fpga=[estimate])
    b256 = b1.model_copy(update={"runner": b1.runner.model_copy(update={"batch_size": 256})})
    records = [b1, b256]
    fpga_part = render(to_frame(records)).split("## FPGA")[1]
    assert len([line for line in fpga_part.splitlines() if line.startswith("| standin-cnn")]) == 1
