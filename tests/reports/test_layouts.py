import pytest

from triggerbench.errors import UserInputError
from triggerbench.reports.backends import backend_tables
from triggerbench.reports.fpga import fpga_resource_table
from triggerbench.reports.latency import latency_table
from triggerbench.reports.published import SEED_TALK, load_published
from triggerbench.reports.quantization import quantization_table
from triggerbench.reports.render import to_markdown
from triggerbench.results.store import to_frame


def cells(table, row_label):
    row = next(r for r in table.rows if r[0].text == row_label)
    return dict(zip(table.columns, row, strict=True))


def note(table, cell):
    return [table.notes[i - 1] for i in cell.notes]


def teacher_table(report_records, **kw):
    tables = backend_tables(to_frame(report_records), **kw)
    return next(t for t in tables if "muon-l0-teacher" in t.name)


def test_backend_table_picks_one_batch_and_marks_power_sources(report_records):
    table = teacher_table(report_records)
    assert "batch 64" in table.caption and "node-7" in table.caption and "(quick mode)" in table.caption
    assert [r[0].text for r in table.rows] == ["gpu-runner", "keras", "onnxruntime"]  # no emulator row
    ort, gpu, keras = cells(table, "onnxruntime"), cells(table, "gpu-runner"), cells(table, "keras")
    assert ort["events/s"].text == "61 k" and ort["p99 latency"].text == "2 ms"
    assert ort["device"].text == "Intel Xeon Gold 6248"  # a generic "CPU" is named by the host's model
    assert ort["power"].text == "50 W" and "measured-rapl" in note(table, ort["power"])[0]
    assert ort["events/J"].text == "20"  # 1 / 0.05 J
    assert "nominal" in note(table, gpu["power"])[0]
    assert keras["power"].text == "—" and "no power meter" in note(table, keras["power"])[0]
    assert keras["gain vs keras"].text == "1x" and gpu["gain vs keras"].text == "20x"
    assert any("device lost" in line and "second line" not in line for line in table.excluded)
    assert any(line.startswith("hls4ml: emulation speed") for line in table.excluded)


def test_backend_table_shows_the_nominal_tdp_only_where_nothing_was_measured(report_records):
    from triggerbench.schema import PowerFigures

    def with_nominal(r):
        nominal = PowerFigures(
            source="nominal-tdp",
            power_mean_w=150.0,
            energy_per_inference_j=150.0 / r.performance.throughput_samples_per_s,
            scope="nominal TDP of Intel Xeon Gold 6248 (150 W), not measured",
            null_reasons=dict.fromkeys(("energy_j", "window_s", "idle"), "a nominal TDP is a rating"),
        )
        return r.model_copy(update={"power_nominal": nominal})

    records = [with_nominal(r) if r.runner.name in ("keras", "onnxruntime") else r for r in report_records]
    table = teacher_table(records)
    keras, ort = cells(table, "keras"), cells(table, "onnxruntime")
    assert keras["power"].text == "150 W" and "nominal" in note(table, keras["power"])[0]
    assert keras["events/J"].text == "133"  # 20 000 events/s / 150 W
    assert ort["power"].text == "50 W" and "measured-rapl" in note(table, ort["power"])[0]


def test_backend_table_baseline_batch_and_bad_choices(report_records):
    table = teacher_table(report_records, baseline="onnxruntime", batch=1)
    assert "batch 1 (chosen with --batch)" in table.caption
    assert cells(table, "keras")["gain vs onnxruntime"].text == "0.0667x"
    frame = to_frame(report_records)
    with pytest.raises(
        UserInputError, match="baseline runner 'tpu' has no measured records; runners present"
    ):
        backend_tables(frame, baseline="tpu")
    with pytest.raises(UserInputError, match="no measured records at batch 7; batch sizes present: 1, 64"):
        backend_tables(frame, batch=7)


def test_published_rows_are_labelled_and_never_get_a_gain(report_records):
    llp = [
        r.model_copy(update={"workload": r.workload.model_copy(update={"name": "llp-vgg"})})
        for r in report_records[:2]
    ]
    table = backend_tables(to_frame(llp), published=load_published([SEED_TALK]))[0]
    xeon = cells(table, "Xeon (published)")
    assert xeon["events/s"].text == "350" and xeon["power"].text == "135 W"
    assert "nominal" in note(table, xeon["power"])[0]
    assert xeon["events/J"].text == "2.59"
    assert xeon["gain vs keras"].text == "—"
    assert "published: seed talk" in note(table, xeon["backend"])[0]


def test_fpga_table_flags_what_does_not_fit_and_names_sources(report_records):
    table = fpga_resource_table(to_frame(report_records))
    teacher = cells(table, "muon-l0-teacher")
    assert teacher["part"].text == "xcu50"
    assert teacher["DSP"].text == "5,490 % est. does not fit"
    assert "analytic estimate" in note(table, teacher["DSP"])[0]
    assert teacher["LUT"].text == "—" and "not modelled" in note(table, teacher["LUT"])[0]
    four = cells(table, "muon-l0-qstudent-4bit")
    assert four["part"].text == "xcvu13p" and four["LUT"].text == "1.16 % Yosys"
    assert "no timing closure" in note(table, four["LUT"])[0]


def test_fpga_table_against_a_chosen_part(report_records):
    frame = to_frame(report_records)
    table = fpga_resource_table(frame, part="xcu50")
    assert cells(table, "muon-l0-qstudent-4bit")["LUT"].text == "2.29 % Yosys"  # 20,000 / 872,000
    assert {r[1].text for r in table.rows} == {"xcu50"}
    with pytest.raises(UserInputError, match="--part 'xc7a35t': no resource totals"):
        fpga_resource_table(frame, part="xc7a35t")


def test_latency_table_puts_firmware_beside_cpu(report_records):
    table = latency_table(to_frame(report_records), published=load_published([SEED_TALK]))
    four = cells(table, "muon-l0-qstudent-4bit")
    assert four["keras"].text == "150 µs (300 µs)"
    assert four["rtl (FPGA)"].text == "30 ns = 6 cycles RTL sim"
    assert "no timing closure" in note(table, four["rtl (FPGA)"])[0]
    assert four["hls4ml, VU13P (published)"].text == "438 ns"
    teacher = cells(table, "muon-l0-teacher")
    assert teacher["hls4ml (FPGA)"].text == "2.3 µs = 460 cycles est."
    assert teacher["rtl (FPGA)"].text == "—" and note(table, teacher["rtl (FPGA)"]) == [
        "not run for this model"
    ]
    assert "gpu-runner" in table.columns  # batch 64 only: shown, footnoted
    assert "batch 64" in note(table, teacher["gpu-runner"])[0]


def test_quantization_table_per_bit_width_with_sample_size(report_records):
    table = quantization_table(to_frame(report_records))
    assert [r[0].text for r in table.rows] == ["2", "4", "8", "32 (float)"]
    four = cells(table, "4")
    assert four["n events"].text == "512"
    assert four["FPGA latency"].text == "30 ns RTL sim" and four["LUT"].text == "20,000 Yosys"
    tidy = table.tidy.set_index("bits")
    assert (
        tidy.loc[2, "pt_resolution_frac"]
        > tidy.loc[4, "pt_resolution_frac"]
        > tidy.loc[8, "pt_resolution_frac"]
    )
    assert cells(table, "32 (float)")["LUT"].text == "—"


def test_missing_sections_are_dashes_with_reasons_never_zero(report_records):
    cpu_only = [r for r in report_records if r.runner.name == "keras"]
    frame = to_frame(cpu_only)
    assert fpga_resource_table(frame) is None
    table = quantization_table(frame)
    text = to_markdown(table)
    assert "| 0 " not in text and "no FPGA latency figure" in text


def test_tables_are_deterministic(report_records):
    first = [to_markdown(t) for t in backend_tables(to_frame(report_records))]
    again = [to_markdown(t) for t in backend_tables(to_frame(list(reversed(report_records))))]
    assert first == again
