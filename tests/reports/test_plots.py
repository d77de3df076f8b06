import hashlib
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from records import PERF_OK, make_record

from triggerbench.models.metrics import l0_metrics, llp_metrics
from triggerbench.reports import plots
from triggerbench.results.store import to_frame
from triggerbench.schema import FpgaFigures

L0 = "muon-l0-pt-eta-regression"
LLP = "llp-decay-radius-regression"
CPU = "Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz"
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def l0_labels(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    pt = rng.uniform(3.0, 30.0, n)
    return np.stack([pt, rng.uniform(-0.05, 0.05, n), rng.choice([-1.0, 1.0], n), np.ones(n)], axis=1)


def l0_task_metrics(sigma: float, seed: int = 0) -> dict[str, float]:
    labels = l0_labels(2000, seed)
    rng = np.random.default_rng(seed + 1)
    out = labels[:, :2] * np.stack([1.0 + sigma * rng.standard_normal(len(labels)), np.ones(len(labels))], 1)
    return l0_metrics(labels, out)


def llp_task_metrics(sigma_m: float) -> dict[str, float]:
    rng = np.random.default_rng(3)
    true = rng.uniform(0.0, 10.0, 2000)
    return llp_metrics(true, true + 0.1 + sigma_m * rng.standard_normal(len(true)))


def record(
    runner="onnxruntime",
    batch=1,
    *,
    workload="muon-l0-teacher",
    task=L0,
    variant="teacher",
    precision="f32",
    device=CPU,
    throughput=1000.0,
    p50=1e-3,
    p999=3e-3,
    emulated=False,
    power=None,
    metrics=None,
    fpga=(),
    status="ok",
    minutes=0,
):
    fields = dict(
        workload=dict(
            name=workload,
            task=task,
            model_name=workload,
            variant=variant,
            source_format="keras",
            source_sha256="ab" * 32,
            input_shape=[9, 16, 1],
            output_shape=[2],
        ),
        fpga=list(fpga),
    )
    if status == "ok":
        perf = {**PERF_OK, "throughput_samples_per_s": throughput, "latency_p50_s": p50, "emulated": emulated}
        perf["latency_p999_s"] = p999
        if p999 is None:
            perf["null_reasons"] = {"latency_p999_s": "too few queries"}
        fields["performance"] = perf
        fields["accuracy"] = dict(
            reference="keras-float32",
            n_samples=2000,
            max_abs_diff=0.0,
            mean_abs_diff=0.0,
            task_metrics=metrics or {},
        )
        if power:
            fields["power"] = power
    r = make_record(runner, status, **fields)
    update = dict(batch_size=batch, precision=precision, device=device)
    return r.model_copy(
        update={
            "runner": r.runner.model_copy(update=update),
            "timestamp_utc": T0 + timedelta(minutes=minutes),
        }
    )


def measured(source: str, energy_j: float) -> dict:
    return dict(
        source=source,
        power_mean_w=50.0,
        energy_j=1.0,
        energy_per_inference_j=energy_j,
        scope="pkg",
        window_s=1.0,
        null_reasons={"idle": "no baseline"},
    )


UNAVAILABLE = None  # the schema's default power section: source unavailable, no figures


def data_lines(ax):
    return [
        line for line in ax.get_lines() if line.get_label() not in ("threshold", "no bias", "Pareto front")
    ]


# --- throughput -------------------------------------------------------------------------------


def test_throughput_has_a_facet_per_workload_and_a_line_per_runner():
    records = [
        record(r, b, workload=w, throughput=1000.0 * b * (2 if r == "openvino" else 1))
        for w in ("muon-l0-teacher", "muon-l0-student")
        for r in ("onnxruntime", "openvino")
        for b in (1, 16, 256)
    ]
    records += [record("onnxruntime", 16, workload="muon-l0-student", minutes=-5)]  # an older repeat
    plot = plots.throughput_vs_batch(to_frame(records))
    assert isinstance(plot, plots.Plot)
    axes = plot.figure.axes
    assert [ax.get_title() for ax in axes] == ["muon-l0-student", "muon-l0-teacher"]  # most records first
    for ax in axes:
        assert [line.get_label() for line in ax.get_lines()] == ["onnxruntime", "openvino"]
        assert list(ax.get_lines()[0].get_xdata()) == [1, 16, 256]
        assert "(events/s)" in ax.get_ylabel() and "batch size" in ax.get_xlabel()
        assert ax.get_yscale() == "log" and ax.get_xscale() == "log"
    assert list(axes[1].get_lines()[1].get_ydata()) == [2000.0, 32000.0, 512000.0]
    assert plot.name == "throughput-vs-batch"


def test_emulated_speed_is_never_drawn_and_the_caption_says_so():
    records = [record("onnxruntime", b) for b in (1, 8)]
    records += [record("rtl", b, emulated=True, throughput=5.0) for b in (1, 8)]
    plot = plots.throughput_vs_batch(to_frame(records))
    labels = [line.get_label() for ax in plot.figure.axes for line in ax.get_lines()]
    assert labels == ["onnxruntime"]
    assert "2 emulated records" in plot.caption


def test_throughput_needs_two_batch_sizes_of_one_runner():
    reason = plots.throughput_vs_batch(to_frame([record("onnxruntime", 1), record("openvino", 16)]))
    assert isinstance(reason, str) and "two or more batch sizes" in reason


def test_repeated_runs_are_reduced_to_the_latest_on_a_large_frame():
    # 20 configurations x 500 repeats; the latest repeat of each has a throughput of its own.
    base = to_frame(
        [record(r, b) for r in ("onnxruntime", "openvino") for b in (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)]
    )
    repeats = []
    for i in range(500):
        copy = base.copy()
        copy["timestamp_utc"] = (T0 + timedelta(minutes=i)).isoformat()
        copy["performance.throughput_samples_per_s"] = 1000.0 + (i == 499) * copy["runner.batch_size"]
        repeats.append(copy)
    frame = pd.concat(repeats[::-1], ignore_index=True)
    assert len(frame) == 10_000
    plot = plots.throughput_vs_batch(frame)
    (ax,) = plot.figure.axes
    for line in ax.get_lines():
        assert list(line.get_ydata()) == [1000.0 + b for b in line.get_xdata()]
    assert "20 configurations" in plot.caption


# --- latency ----------------------------------------------------------------------------------


def test_latency_percentiles_at_batch_one_with_missing_p999_not_drawn():
    records = [
        record("onnxruntime", 1, p999=None),
        record("openvino", 1, p50=2e-4),
        record("openvino", 64, p50=5e-2),  # not batch 1: left out of this plot
    ]
    plot = plots.latency_percentiles(to_frame(records))
    (ax,) = plot.figure.axes
    heights = sorted(round(p.get_height(), 9) for p in ax.patches if p.get_height() > 0)
    assert heights == sorted([1e-3, 2e-3, 2e-4, 2e-3, 3e-3])  # 5 figures: no bar for the missing p99.9
    assert [t.get_text() for t in ax.get_xticklabels()] == ["p50", "p99", "p99.9"]
    assert "(s)" in ax.get_ylabel() and ax.get_yscale() == "log"
    formatter = ax.yaxis.get_major_formatter()
    assert formatter(1e-3, 0) == "1 ms" and formatter(1e-5, 0) == "10 µs"
    assert ax.get_title() == "muon-l0-teacher"


def test_latency_falls_back_to_the_smallest_batch_and_says_so():
    plot = plots.latency_percentiles(to_frame([record("onnxruntime", 4), record("onnxruntime", 64)]))
    (ax,) = plot.figure.axes
    assert ax.get_title() == "muon-l0-teacher (batch 4)"
    assert "smallest batch shown: muon-l0-teacher (batch 4)" in plot.caption


# --- energy -----------------------------------------------------------------------------------


def test_energy_labels_nominal_and_leaves_out_unavailable():
    records = [
        record("onnxruntime", 1, power=measured("measured-rapl", 1e-3)),
        record("onnxruntime", 256, power=measured("measured-rapl", 2e-5)),
        record("openvino", 1, power=measured("nominal-tdp", 5e-4)),
        record("keras", 1, power=UNAVAILABLE),
    ]
    plot = plots.energy_per_inference(to_frame(records))
    (ax,) = plot.figure.axes
    bars = [p for p in ax.patches if p.get_height() > 0]
    assert len(bars) == 3  # keras has no figure: not a bar of height 0
    assert [bool(p.get_hatch()) for p in sorted(bars, key=lambda p: p.get_height())] == [False, True, False]
    assert sorted(t.get_text() for t in ax.texts) == ["RAPL", "RAPL", "nominal"]
    assert "(J)" in ax.get_ylabel() and ax.get_yscale() == "log"
    assert ax.yaxis.get_major_formatter()(1e-3, 0) == "1 mJ"
    assert "1 configuration without energy figure" in plot.caption and "nominal-tdp 1" in plot.caption
    legend = [t.get_text() for t in plot.figure.legends[0].get_texts()]
    assert any("nominal" in text for text in legend)


def test_energy_without_any_power_figure_gives_the_reason():
    reason = plots.energy_per_inference(to_frame([record("keras", 1, power=UNAVAILABLE)]))
    assert reason == "energy per inference: no record has a power figure (every power source is unavailable)"


# --- Pareto -----------------------------------------------------------------------------------


def test_pareto_prefers_fpga_figures_by_source_and_falls_back_to_p50():
    csynth = FpgaFigures.with_reason("hls-csynth", "not reported", latency_s=80e-9, lut=9000)
    vivado = FpgaFigures.with_reason("vivado-synth", "not reported", latency_s=60e-9, lut=7000)
    testbench = FpgaFigures.with_reason("rtl-testbench", "not reported", latency_s=10e-9)
    yosys = FpgaFigures.with_reason("open-synthesis", "not reported", lut=400)
    records = [
        record("hls4ml", workload="muon-l0-teacher", variant="teacher", emulated=True,
               metrics=l0_task_metrics(0.08), fpga=[csynth, vivado]),
        record("rtl", workload="muon-l0-qstudent-4bit", variant="qstudent-4bit-kd", emulated=True,
               metrics=l0_task_metrics(0.13), fpga=[testbench, yosys]),
        record("onnxruntime", workload="muon-l0-student", variant="student", p50=3e-4,
               metrics=l0_task_metrics(0.20)),
        record("openvino", workload="muon-l0-student", variant="student", p50=2e-4),
        record("onnxruntime", workload="llp-vgg", task=LLP, variant="vgg"),
    ]  # fmt: skip
    plot = plots.pareto(to_frame(records))
    latency_ax, lut_ax = plot.figure.axes
    assert latency_ax.get_xlabel() == "latency (s)" and latency_ax.get_xscale() == "log"
    assert "LUTs" in lut_ax.get_xlabel() and "(fraction)" in lut_ax.get_ylabel()
    points = {line.get_label(): list(line.get_xdata()) for line in latency_ax.get_lines()}
    assert sorted(points["FPGA figure"]) == [10e-9, 60e-9]  # vivado-synth over hls-csynth
    assert points["measured p50, batch 1"] == [2e-4]  # the best p50 of the student
    assert sorted(lut_ax.get_lines()[0].get_xdata()) == [400, 7000]
    assert sorted(t.get_text() for t in latency_ax.texts) == ["qstudent-4bit-kd", "student", "teacher"]
    front = next(line for line in latency_ax.get_lines() if line.get_label() == "Pareto front")
    assert list(front.get_xdata()) == [10e-9, 60e-9]  # the student is slower and worse: dominated
    assert "n = 2000" in plot.caption and "teacher vivado-synth" in plot.caption


def test_pareto_needs_l0_records():
    reason = plots.pareto(to_frame([record("onnxruntime", workload="llp-vgg", task=LLP)]))
    assert isinstance(reason, str) and "muon-l0" in reason


# --- curves -----------------------------------------------------------------------------------


def test_turnon_curves_one_line_per_runner_and_the_threshold():
    metrics = l0_task_metrics(0.1)
    records = [record(r, b, metrics=metrics) for r in ("onnxruntime", "openvino") for b in (1, 256)] + [
        record("onnxruntime", workload="muon-l0-student", variant="student", metrics=l0_task_metrics(0.2))
    ]
    records.append(record("onnxruntime", workload="llp-vgg", task=LLP, metrics=llp_task_metrics(0.3)))
    plot = plots.turnon_curves(to_frame(records))
    axes = plot.figure.axes
    assert [ax.get_title() for ax in axes] == ["muon-l0-teacher", "muon-l0-student"]
    teacher = axes[0]
    assert [line.get_label() for line in data_lines(teacher)] == ["onnxruntime", "openvino"]
    threshold = next(line for line in teacher.get_lines() if line.get_label() == "threshold")
    assert list(threshold.get_xdata()) == [10.0, 10.0] and threshold.get_linestyle() == "--"
    assert teacher.get_xlabel() == "true pT (GeV)" and "efficiency" in teacher.get_ylabel()
    xs = data_lines(teacher)[0].get_xdata()
    assert xs[0] == 3.5 and list(xs) == sorted(xs)
    assert "n = 2000" in plot.caption and "same curve" in plot.caption


def test_turnon_needs_curve_points():
    reason = plots.turnon_curves(to_frame([record("onnxruntime")]))
    assert isinstance(reason, str) and "turnon_eff_frac_at_" in reason


def test_lr_resolution_two_panels_per_llp_workload():
    records = [
        record(r, workload="llp-vgg", task=LLP, variant="vgg", metrics=llp_task_metrics(s))
        for r, s in (("onnxruntime", 0.3), ("openvino", 0.4))
    ] + [record("onnxruntime", metrics=l0_task_metrics(0.1))]
    plot = plots.lr_resolution(to_frame(records))
    bias_ax, resolution_ax = plot.figure.axes
    assert bias_ax.get_ylabel() == "L_r bias (m)" and resolution_ax.get_ylabel() == "L_r resolution (m)"
    assert bias_ax.get_xlabel() == "true L_r (m)"
    for ax in (bias_ax, resolution_ax):
        lines = data_lines(ax)
        assert [line.get_label() for line in lines] == ["onnxruntime", "openvino"]
        assert list(lines[0].get_xdata()) == [1.0, 3.0, 5.0, 7.0, 9.0]
    assert all(v == pytest.approx(0.1, abs=0.05) for v in data_lines(bias_ax)[0].get_ydata())


# --- all plots, facets, saving ----------------------------------------------------------------


def test_only_skipped_records_give_no_plot_and_a_reason_per_kind():
    frame = to_frame([record("keras", status="skipped"), record("vart", status="failed")])
    drawn, reasons = plots.all_plots(frame)
    assert drawn == [] and len(reasons) == len(plots.PLOT_KINDS)
    assert all("2 skipped or failed records ignored" in r for r in reasons if "power figure" not in r)
    drawn, reasons = plots.all_plots(to_frame([]))
    assert drawn == [] and len(reasons) == len(plots.PLOT_KINDS)


def test_all_plots_of_one_workload():
    records = [
        record(r, b, workload=w)
        for w in ("muon-l0-teacher", "standin-cnn")
        for r in ("keras",)
        for b in (1, 4)
    ]
    drawn, reasons = plots.all_plots(to_frame(records), workload="standin-cnn")
    names = [p.name for p in drawn]
    assert names == ["throughput-vs-batch", "latency-percentiles"]
    assert [ax.get_title() for ax in drawn[0].figure.axes] == ["standin-cnn"]
    assert len(reasons) == 4 and any(r.startswith("energy per inference") for r in reasons)


def test_facets_are_capped_and_the_caption_counts_the_rest():
    records = [record("onnxruntime", b, workload=f"w{i:02d}") for i in range(14) for b in (1, 2)]
    records += [record("onnxruntime", 4, workload="w13")]  # the most recorded one comes first
    plot = plots.throughput_vs_batch(to_frame(records))
    titles = [ax.get_title() for ax in plot.figure.axes]
    assert len(titles) == plots.MAX_FACETS and titles[0] == "w13" and "w12" not in titles
    assert "2 workloads with fewer records not shown (w11, w12)" in plot.caption


def _digests(drawn, folder):
    out = {}
    for plot in drawn:
        paths = plots.save(plot, folder)
        assert sorted(paths) == ["pdf", "png"]
        for kind, path in paths.items():
            assert path == folder / f"{plot.name}.{kind}" and path.stat().st_size > 1000
            out[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def test_save_writes_png_and_pdf_byte_identical_for_the_same_records(tmp_path):
    records = [
        record(r, b, power=measured("nominal-tdp", 1e-3 / b), metrics=l0_task_metrics(0.1))
        for r in ("onnxruntime", "openvino")
        for b in (1, 32)
    ]
    frame = to_frame(records)
    drawn, _ = plots.all_plots(frame)
    assert [p.name for p in drawn] == [
        "throughput-vs-batch", "latency-percentiles", "energy-per-inference", "pareto", "turnon-curves",
    ]  # fmt: skip
    first = _digests(drawn, tmp_path / "a")
    assert (tmp_path / "a" / "pareto.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"CreationDate" not in (tmp_path / "a" / "pareto.pdf").read_bytes()
    # The same figure saved again, and the same records in another order drawn again.
    energy = next(p for p in drawn if p.name == "energy-per-inference")
    assert _digests([energy], tmp_path / "b") == {k: v for k, v in first.items() if k.startswith("energy")}
    shuffled = plots.throughput_vs_batch(frame.sample(frac=1.0, random_state=1))
    assert _digests([shuffled], tmp_path / "c") == {
        k: v for k, v in first.items() if k.startswith("throughput")
    }
