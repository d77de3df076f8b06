from records import make_record

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
