import shutil
import subprocess
import sys

import pytest
from matplotlib.colors import to_hex
from profile_records import profile_record, profile_set, timed_profile

from triggerbench.errors import UserInputError
from triggerbench.reports import render
from triggerbench.reports.document import PROFILE_HEADING, ReportOptions, _markdown, build
from triggerbench.reports.plots import _jobs, draw_and_save
from triggerbench.reports.plots.profile import layer_bars, numerical_ranges
from triggerbench.reports.profile import layer_order, profile_tables
from triggerbench.reports.table import Table
from triggerbench.results.store import to_frame, write_record


def texts(table: Table) -> list[list[str]]:
    return [[cell.text for cell in row] for row in table.rows]


def by_layer(table: Table) -> dict[str, dict[str, str]]:
    return {row[0]: dict(zip(table.columns[1:], row[1:], strict=True)) for row in texts(table)}


@pytest.fixture()
def tables():
    found, not_drawn = profile_tables(to_frame(profile_set()))
    assert not_drawn == []
    return {t.name.split("-muon")[0]: t for t in found}


# --- tables -----------------------------------------------------------------------------------


def test_layer_order_merges_each_backend_after_its_predecessor():
    assert layer_order([["a", "b", "c"], ["a", "x", "y", "b"], ["in", "a"], ["c", "z"]]) == [
        "in", "a", "x", "y", "b", "c", "z",
    ]  # fmt: skip


def test_per_layer_table_has_source_order_backends_and_top_layer_starred(tables):
    table = tables["profile"]
    assert table.title == "Per-layer profile: muon-l0-teacher"
    assert table.columns == [
        "layer",
        "hls4ml (cycles)", "hls4ml share",
        "keras (µs)", "keras share",
        "onnxruntime (µs)", "onnxruntime share",
    ]  # fmt: skip
    cells = by_layer(table)
    assert list(cells) == ["conv1", "relu1", "conv2", "flatten", "dense1", "Identity_copy", "dense_out"]
    assert cells["conv2"]["keras (µs)"] == "300" and cells["conv2"]["keras share"] == "60 % ★"
    assert cells["conv2"]["hls4ml (cycles)"] == "300" and cells["conv2"]["hls4ml share"] == "60 % ★"
    assert cells["conv1"]["onnxruntime (µs)"] == "40" and cells["conv1"]["onnxruntime share"] == "40 % ★"
    assert cells["relu1"]["keras share"] == "2 %" and cells["flatten"]["hls4ml share"] == "0.2 %"
    stars = [c for row in texts(table) for c in row if "★" in c]
    assert len(stars) == 3  # one top layer per backend


def test_fused_unmapped_and_missing_rows_are_flagged(tables):
    table = tables["profile"]
    notes = dict(enumerate(table.notes, 1))
    rows = {row[0].text: row for row in table.rows}
    onnx_conv1 = rows["conv1"][5]
    assert [notes[n] for n in onnx_conv1.notes] == [
        "onnxruntime fused conv1 with relu1: one row, counted on conv1"
    ]
    assert rows["relu1"][5].text == "in conv1"
    identity = rows["Identity_copy"]
    assert [notes[n] for n in identity[0].notes] == ["not a layer of the source model: keras's own node"]
    assert identity[3].text == "35" and identity[1].text == "" and identity[5].text == ""
    assert rows["dense_out"][3].text == "—"
    assert [notes[n] for n in rows["dense_out"][3].notes] == ["keras has no row for this layer"]
    assert table.excluded == [
        "vart: not available for this backend: the DPU runner has no per-layer profiler",
        "1 layer(s) or node(s) with no time on any backend (inputs, not run); the records keep them",
    ]


def test_summary_compares_rows_with_the_whole_call_and_names_the_overhead(tables):
    table = tables["profile-summary"]
    rows = {row[0]: dict(zip(table.columns, row, strict=True)) for row in texts(table)}
    assert rows["keras"]["sum of layers"] == "500 µs" and rows["keras"]["whole call"] == "200 µs"
    assert rows["keras"]["sum / call"] == "250 %" and rows["keras"]["overhead"] == "3×"
    assert rows["onnxruntime"]["sum / call"] == "111 %" and rows["onnxruntime"]["overhead"] == "1.5×"
    assert rows["hls4ml"]["sum of layers"] == "500 cycles" and rows["hls4ml"]["whole call"] == "—"
    assert "no whole call: read from a synthesis report" in table.notes
    assert "layer by layer: XLA fuses layers in the real call" in table.notes  # keras's caveat


def test_numerical_table_puts_overflowing_layers_first(tables):
    table = tables["numerical"]
    assert table.columns[:2] == ["layer", "tensor"]  # one backend: no backend column
    rows = texts(table)
    assert [(r[0], r[1]) for r in rows] == [
        ("dense1", "weight"), ("dense1", "bias"), ("dense1", "activation"),
        ("conv1", "weight"), ("conv1", "activation"),
    ]  # fmt: skip
    activation = dict(zip(table.columns, rows[2], strict=True))
    assert activation["verdict"] == "OVERFLOWS" and activation["overflow"] == "37 (3.7 %)"
    assert activation["precision"] == "fixed<16,6>" and activation["range"] == "-32 … 31.999"
    weight = dict(zip(table.columns, rows[0], strict=True))
    assert weight["verdict"] == "wastes bits" and weight["wasted int. bits"] == "4"
    assert "no calibration data" in table.notes and "nan" not in " ".join(table.notes)


def test_every_format_renders_the_profile_tables(tables):
    layer = tables["profile"]
    md, tex, html = render.to_markdown(layer), render.to_latex(layer), render.to_html(layer)
    assert "| conv2 | 300 | 60 % ★ |" in md and "Identity\\_copy²" in md
    assert r"60 \% $\star$" in tex and r"Identity\_copy\textsuperscript{2}" in tex and "?" not in tex
    assert "<td>Identity_copy<sup>2</sup></td>" in html and '<td class="num">60 % ★</td>' in html
    for text in (md, tex, html):
        assert "not available for this backend" in text
    numeric = render.to_latex(tables["numerical"])
    assert r"fixed\textless{}16,6\textgreater{}" in numeric and "OVERFLOWS" in numeric


def test_labels_name_the_device_and_batch_that_tell_two_profiles_apart():
    profile = timed_profile({"conv1": 10.0, "dense1": 30.0}, whole_call_s=40e-6)
    records = [
        profile_record("onnxruntime", profile, device="CPU"),
        profile_record("onnxruntime", profile, device="CUDA"),
        profile_record("keras", profile, batch=64),
    ]
    (table, *_), _ = profile_tables(to_frame(records))
    assert table.columns[1::2] == [
        "keras b64 (µs)",
        "onnxruntime @ CPU b1 (µs)",
        "onnxruntime @ CUDA b1 (µs)",
    ]


def test_a_workload_with_no_profile_to_show_says_why():
    unavailable = dict(type="ProfileUnavailableError", message="no profiler in this runtime")
    failed = dict(type="RunnerError", message="device lost\nsecond line")
    records = [
        profile_record("vart", None, status="skipped", error=unavailable),
        profile_record("tensorrt", None, status="failed", error=failed),
    ]
    found, not_drawn = profile_tables(to_frame(records))
    assert found == []
    assert not_drawn == [
        "profile of muon-l0-teacher: tensorrt: failed — device lost",
        "profile of muon-l0-teacher: vart: not available for this backend: no profiler in this runtime",
    ]


# --- plots ------------------------------------------------------------------------------------


def test_layer_bars_stack_each_backend_with_one_colour_per_layer():
    plot = layer_bars(to_frame(profile_set()))
    assert plot.name == "profile-muon-l0-teacher"
    share, time, cycles = plot.figure.axes
    assert [t.get_text() for t in share.get_yticklabels()] == ["hls4ml", "keras", "onnxruntime"]
    assert [t.get_text() for t in time.get_yticklabels()] == ["keras", "onnxruntime"]
    assert [t.get_text() for t in cycles.get_yticklabels()] == ["hls4ml"]
    assert "µs" in time.get_xlabel() and share.get_xlim() == (0.0, 1.0)
    widths = sorted(round(p.get_width(), 6) for p in time.patches if p.get_y() < 1 < p.get_y() + 0.7)
    assert widths == sorted([40.0, 30.0, 2.0, 20.0, 8.0])  # onnxruntime's bar (row 1) in µs
    legend = plot.figure.legends[0]
    names = [t.get_text() for t in legend.get_texts()]
    assert names[:7] == ["conv1", "relu1", "conv2", "flatten", "dense1", "Identity_copy", "dense_out"]
    colour = {n: to_hex(h.get_facecolor()) for n, h in zip(names, legend.legend_handles, strict=True)}
    conv2 = [to_hex(p.get_facecolor()) for p in share.patches if p.get_width() == pytest.approx(0.6)]
    assert conv2 and set(conv2) == {colour["conv2"]}  # the same colour in the hls4ml and keras bars
    labels = {t.get_text() for t in share.texts}
    assert {"conv1", "conv2", "dense1"} <= labels and "flatten" not in labels  # only large segments
    assert "1 backend without a profile" in plot.caption


def test_numerical_ranges_draw_the_precision_band_and_highlight_overflows():
    plot = numerical_ranges(to_frame(profile_set()))
    (ax,) = plot.figure.axes
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    assert ticks == ["conv1/w", "conv1/a", "dense1/w", "dense1/b", "dense1/a"]  # model order
    red = [t.get_text() for t in ax.get_yticklabels() if to_hex(t.get_color()) == "#d62728"]
    assert red == ["dense1/a"]
    assert ax.get_xscale() == "log"
    bands = [p for p in ax.patches if p.get_alpha() == 0.2]
    conv1_w = next(p for p in bands if abs(p.get_y() + 0.4) < 1e-9)  # row 0: fixed<16,2>, signed
    assert conv1_w.get_x() == 2.0**-14 and conv1_w.get_x() + conv1_w.get_width() == pytest.approx(2.0)
    assert "1 tensor overflows" in plot.caption


def test_numerical_plot_is_not_drawn_without_numerical_profiles():
    frame = to_frame([profile_record("onnxruntime", timed_profile({"a": 1.0}, whole_call_s=1e-6))])
    assert numerical_ranges(frame) is None
    assert layer_bars(frame) is not None


def test_profile_figures_are_saved_as_files(tmp_path):
    saved, reasons = draw_and_save(to_frame(profile_set()), tmp_path, processes=1)
    assert reasons == []  # no performance records: no performance plot to miss
    assert [(p.name, p.profile) for p in saved] == [
        ("profile-muon-l0-teacher", True),
        ("numerical-muon-l0-teacher", True),
    ]
    for plot in saved:
        assert plot.paths["png"].stat().st_size > 10_000 and plot.paths["pdf"].stat().st_size > 5_000


# --- the report -------------------------------------------------------------------------------


def test_profile_records_never_reach_the_performance_tables_or_plots(tmp_path, report_records):
    plain = build(to_frame(report_records), ReportOptions())
    mixed = build(to_frame(report_records + profile_set()), ReportOptions())
    assert [render.to_markdown(t) for t in mixed.tables] == [render.to_markdown(t) for t in plain.tables]
    assert mixed.not_drawn == plain.not_drawn
    assert [t.name for t in mixed.profile_tables] == [
        "profile-muon-l0-teacher", "profile-summary-muon-l0-teacher", "numerical-muon-l0-teacher",
    ]  # fmt: skip
    assert plain.profile_tables == []
    performance = [job for job in _jobs(mixed.shown, tmp_path) if not job[0]]
    assert performance and all("profile" not in set(job[2]["scenario.name"]) for job in performance)
    assert len(performance[0][2]) == len(plain.shown)


def test_markdown_has_a_profile_section_only_with_profiles(tmp_path, report_records):
    options = ReportOptions(plots=False)
    plain = _markdown(build(to_frame(report_records), options), {}, tmp_path)
    assert PROFILE_HEADING not in plain and "profile" not in plain.lower()
    mixed = _markdown(build(to_frame(report_records + profile_set()), options), {}, tmp_path)
    head, section = mixed.split(f"## {PROFILE_HEADING}")
    assert "Backends: muon-l0-teacher" in head and "Per-layer profile" not in head
    assert "**Per-layer profile: muon-l0-teacher**" in section and "**Numerical profile" in section


def test_profile_layout_alone_needs_profile_records(report_records):
    with pytest.raises(
        UserInputError, match="layout 'profile': no matching records; it needs profile records"
    ):
        build(to_frame(report_records), ReportOptions(layouts=("profile",)))
    only = build(to_frame(profile_set()), ReportOptions(layouts=("profile",)))
    assert only.tables == [] and len(only.profile_tables) == 3


def test_report_command_on_a_folder_of_profiles_writes_every_format(tmp_path):
    folder = tmp_path / "results"
    for record in profile_set():
        write_record(record, folder)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "triggerbench.cli",
            "report",
            folder,
            "--format",
            "all",
            "--out",
            tmp_path / "r",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "r"
    md = (out / "report.md").read_text()
    head, section = md.split(f"## {PROFILE_HEADING}")
    assert "- records: 4 (ok 3, skipped 1)" in head and "**" not in head  # no performance table
    assert "Not drawn" not in md  # no performance records: no layout or plot misses them
    assert "| conv2 | 300 | 60 % ★ | 300 | 60 % ★ | 30 | 30 % |" in section
    assert "vart: not available for this backend: the DPU runner has no per-layer profiler" in section
    assert "![Per-layer profile: muon-l0-teacher](figures/profile-muon-l0-teacher.png)" in section
    assert (out / "figures" / "numerical-muon-l0-teacher.pdf").is_file()
    assert (out / "tables" / "profile-muon-l0-teacher.tex").is_file()
    tex = (out / "report.tex").read_text()
    assert (
        rf"\section*{{{PROFILE_HEADING}}}" in tex and r"\input{tables/numerical-muon-l0-teacher.tex}" in tex
    )
    html = (out / "report.html").read_text()
    assert '<h2 id="profiles">' in html and 'id="plot-profile-muon-l0-teacher"' in html
    if shutil.which("pdflatex"):  # CI installs texlive: the profile tables and figures compile
        latex = ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "report.tex"]
        compiled = subprocess.run(latex, cwd=out, capture_output=True, text=True, timeout=300)
        assert compiled.returncode == 0, compiled.stdout[-3000:]


def test_a_firmware_profile_of_values_only_gets_its_numerical_table_and_plot():
    """hls4ml without a synthesis report: no per-layer cycles, but the values against the types."""
    from profile_records import cycles_profile, numerical

    values = [numerical("fc", "weight", -0.5, 0.5, 6), numerical("out", "activation", -3.0, 70.0, 6)]
    frame = to_frame([profile_record("hls4ml", cycles_profile({}, values), workload="muon-l0-student")])
    tables, not_drawn = profile_tables(frame)
    assert not_drawn == [] and len(tables) == 1
    markdown = render.to_markdown(tables[0])
    assert markdown.index("| out |") < markdown.index("| fc |") and "OVERFLOWS" in markdown
    assert numerical_ranges(frame) is not None


def test_only_a_row_that_did_not_run_as_such_gets_a_status_note():
    """Rows without a status are NaN in the frame, executed rows are the norm: neither is noted."""
    rows = {"dense": {"status": "EXECUTED"}, "flatten": {"status": "NOT_RUN"}}
    ov = timed_profile({"conv": 40.0, "dense": 10.0, "flatten": 1.0}, whole_call_s=6e-5, rows=rows)
    ort = timed_profile({"conv": 30.0, "dense": 12.0, "flatten": 2.0}, whole_call_s=5e-5)
    frame = to_frame([profile_record("openvino", ov), profile_record("onnxruntime", ort)])
    markdown = render.to_markdown(profile_tables(frame)[0][0])
    assert "backend status NOT\\_RUN" in markdown
    assert "nan" not in markdown and "status EXECUTED" not in markdown
