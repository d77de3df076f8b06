"""The ``rtl`` runner: options, bit-exact RTL inference, its FPGA figures and whole records."""

from __future__ import annotations

import numpy as np
import pytest
from artifacts import keras_only_artifact
from fpga.test_rtl_build import TINY_CONFIG, tiny_inputs, tiny_model_path

from triggerbench.errors import ModelUnsupportedError, RunnerError, UserInputError
from triggerbench.models.artifact import load_keras
from triggerbench.runners.base import RunnerOptions
from triggerbench.runners.rtl import RtlOptions, RtlRunner
from triggerbench.schema import FpgaFigures

SPEC = "triggerbench.runners.rtl:RtlRunner"
#: The same RTL as the build tests' (one Verilator build per session).
TINY_OPTIONS = {"latency_cutoff": TINY_CONFIG.latency_cutoff, "clock_period_ns": TINY_CONFIG.clock_period_ns}


@pytest.fixture(scope="module")
def prepared():
    runner = RtlRunner()
    runner.prepare(keras_only_artifact(tiny_model_path()), RunnerOptions(extra=dict(TINY_OPTIONS)))
    yield runner
    runner.close()


def test_options_are_checked_and_listed():
    assert RtlRunner.parse_options({}) == RtlOptions()
    parsed = RtlRunner.parse_options(
        {"latency_cutoff": 3, "clock_period_ns": 2.5, "yosys": "false", "part": "xcu50-x"}
    )
    assert (parsed.latency_cutoff, parsed.clock_period_ns, parsed.yosys) == (3.0, 2.5, False)
    with pytest.raises(
        UserInputError, match=r"unknown option\(s\) reuse_factor; known options: latency_cutoff, clock"
    ):
        RtlRunner.parse_options({"reuse_factor": 4})
    for bad in ({"latency_cutoff": 0}, {"clock_period_ns": "fast"}, {"latency_cutoff": True}):
        with pytest.raises(
            UserInputError, match=r"option (latency_cutoff|clock_period_ns)=.*: use a number > 0"
        ):
            RtlRunner.parse_options(bad)
    with pytest.raises(
        UserInputError, match=r"option flavor='vhdl': use 'verilog' \(VHDL simulation needs GHDL"
    ):
        RtlRunner.parse_options({"flavor": "vhdl"})
    with pytest.raises(UserInputError, match="option yosys=2: use true or false"):
        RtlRunner.parse_options({"yosys": 2})
    with pytest.raises(UserInputError, match="option part='ep4ce22': no Yosys synth_xilinx family"):
        RtlRunner.parse_options({"part": "ep4ce22"})


def test_available_names_the_tools():
    ok, reason = RtlRunner.available()
    assert ok, reason
    assert "Verilator" in reason and "Yosys" in reason


def test_infer_is_bit_exact_with_keras(prepared):
    want = np.asarray(load_keras(tiny_model_path())(tiny_inputs()))
    got = prepared.infer(prepared.stage(tiny_inputs()))
    assert got.dtype == np.float32 and got.shape == want.shape
    assert np.array_equal(got, want)


def test_stage_checks_the_shape(prepared):
    with pytest.raises(RunnerError, match="does not match the model input"):
        prepared.stage(np.zeros((2, 5), np.float32))


def test_describe_says_it_is_an_emulation(prepared, as_record):
    d = prepared.describe()
    assert type(prepared).emulator and "Verilator RTL simulation" in d.device
    assert d.settings["latency_cutoff"] == TINY_CONFIG.latency_cutoff
    as_record(d)


def test_fpga_figures_are_measured_and_labelled(prepared):
    bench, synth = prepared.fpga_figures()
    stages = prepared.describe().settings["pipeline_stages"]
    assert bench.source == "rtl-testbench"
    assert bench.latency_cycles == stages + 1 and bench.interval_cycles == 1
    assert bench.latency_s == pytest.approx(bench.latency_cycles * TINY_CONFIG.clock_period_ns * 1e-9)
    assert bench.lut is None and "open-synthesis" in bench.null_reasons["lut"]
    assert synth.source == "open-synthesis"
    assert synth.lut > 0 and synth.ff > 0 and synth.lut_available == 1_728_000
    assert synth.latency_cycles is None and "no timing closure" in synth.null_reasons["latency_cycles"]
    assert "no timing closure" in synth.method
    assert synth.details["da4ml_lut_estimate"] > 0
    for figures in (bench, synth):  # the record's JSON round trip (each None keeps its reason)
        assert FpgaFigures.model_validate_json(figures.model_dump_json()) == figures


def test_yosys_off_gives_null_figures_with_the_reason():
    runner = RtlRunner()
    options = RunnerOptions(extra={**TINY_OPTIONS, "yosys": False})
    runner.prepare(keras_only_artifact(tiny_model_path()), options)
    synth = runner.fpga_figures()[1]
    assert synth.lut is None and synth.null_reasons["lut"] == "open synthesis not run (option yosys=false)"


def test_float_model_gives_a_one_line_error(tmp_path):
    import keras

    from triggerbench.models.artifact import save_keras

    inp = keras.Input((4,))
    path = save_keras(keras.Model(inp, keras.layers.Dense(2)(inp), name="f"), tmp_path / "f.keras")
    with pytest.raises(ModelUnsupportedError, match=r"needs a quantized \(HGQ2\) model"):
        RtlRunner().prepare(keras_only_artifact(path), RunnerOptions())


def test_float_model_record_is_skipped_with_the_reason(quick_settings, tmp_path):
    import keras

    from triggerbench.measure.job import Job, build_context
    from triggerbench.measure.session import measure_one
    from triggerbench.models.artifact import save_keras

    inp = keras.Input((4,))
    path = save_keras(keras.Model(inp, keras.layers.Dense(2)(inp), name="f"), tmp_path / "f.keras")
    record = measure_one(build_context(quick_settings, model_path=path), Job(runner=SPEC, out_dir=tmp_path))
    assert record.status == "skipped"
    assert "needs a quantized (HGQ2) model" in record.error.message


def test_record_accuracy_is_bit_exact(quick_settings, tmp_path):
    from triggerbench.measure.job import Job, build_context
    from triggerbench.measure.session import measure_one

    ctx = build_context(quick_settings, model_path=tiny_model_path())
    job = Job(runner=SPEC, runner_options=TINY_OPTIONS, settings=quick_settings, out_dir=tmp_path)
    record = measure_one(ctx, job)
    assert record.status == "ok", record.error
    assert record.accuracy.max_abs_diff == 0.0
    assert record.performance.emulated
    assert [f.source for f in record.fpga] == ["rtl-testbench", "open-synthesis"]


def test_shipped_4bit_student_is_bit_exact():
    """The shipped HGQ2 student through its own RTL, on its validation sample (~45 s: one build)."""
    from triggerbench.models import ship, workloads

    w = workloads.get("muon-l0-qstudent-4bit")
    path = w.source()
    x, _ = ship.evaluation_sample("l0", 256, workloads.VALIDATION_SEED)
    runner = RtlRunner()
    runner.prepare(keras_only_artifact(path), RunnerOptions(extra={"yosys": False}))
    got = runner.infer(runner.stage(x))
    want = np.asarray(load_keras(path)(x))
    assert np.array_equal(got, want), f"max abs diff {np.abs(got - want).max()}"
    bench = runner.fpga_figures()[0]
    assert (
        bench.interval_cycles == 1
        and bench.latency_cycles == runner.describe().settings["pipeline_stages"] + 1
    )
