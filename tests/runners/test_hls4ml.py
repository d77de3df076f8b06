"""hls4ml runner: options, C-simulation agreement, the build cache, and its failures."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest
from artifacts import keras_only_artifact

import triggerbench.runners.hls4ml as hls4ml_runner
from triggerbench.errors import ModelUnsupportedError, RunnerError, UserInputError
from triggerbench.fpga import hls_config
from triggerbench.runners.base import RunnerOptions
from triggerbench.runners.hls4ml import Hls4mlRunner

SPEC = "triggerbench.runners.hls4ml:Hls4mlRunner"

needs_toolchain = pytest.mark.skipif(not Hls4mlRunner.available()[0], reason=Hls4mlRunner.available()[1])


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """A small float MLP (6 -> 8 relu -> 3): compiles in a few seconds."""
    import keras

    keras.utils.set_random_seed(3)
    model = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(8, activation="relu", name="h"),
            keras.layers.Dense(3, name="o"),
        ]
    )
    path = tmp_path_factory.mktemp("hls-tiny") / "tiny.keras"
    model.save(path)
    return keras_only_artifact(path, model), model


@pytest.fixture(scope="session")
def tiny_runner(tiny):
    """The tiny model prepared once (first build); tests reuse its cache."""
    runner = Hls4mlRunner()
    runner.prepare(tiny[0], RunnerOptions(batch_size=1))
    yield runner
    runner.close()


# --- options --------------------------------------------------------------------------------


def test_defaults_are_the_u50_at_5_ns():
    s = Hls4mlRunner.parse_options({})
    assert (s.backend, s.part, s.clock_period_ns, s.io_type, s.strategy, s.reuse_factor) == (
        "Vitis",
        "xcu50-fsvh2104-2-e",
        5.0,
        "io_parallel",
        "Latency",
        1,
    )


def test_options_are_validated_and_normalised():
    s = Hls4mlRunner.parse_options(
        {
            "backend": "vivado",
            "io_type": "io_stream",
            "strategy": "resource",
            "reuse_factor": 4,
            "part": "vu13p",
            "clock_period_ns": 3.3,
            "synth": "true",
        }
    )
    assert (s.backend, s.io_type, s.strategy, s.reuse_factor) == ("Vivado", "io_stream", "Resource", 4)
    assert (s.part, s.clock_period_ns, s.synth) == ("xcvu13p-fhga2104-2L-e", 3.3, True)


@pytest.mark.parametrize(
    "extra, message",
    [
        ({"reuse": 4}, "hls4ml runner: unknown option(s) reuse; known options: backend, io_type"),
        ({"reuse_factor": 0}, "reuse_factor=0: use a whole number >= 1"),
        ({"reuse_factor": "four"}, "reuse_factor='four'"),
        ({"reuse_factor": 2.5}, "reuse_factor=2.5: use a whole number >= 1"),
        ({"reuse_factor": True}, "reuse_factor=True: use a whole number >= 1"),
        ({"parallelization_factor": 0}, "parallelization_factor=0"),
        ({"backend": "Quartus"}, "use one of Vitis, Vivado"),
        ({"io_type": "io_serial"}, "use one of io_parallel, io_stream"),
        ({"clock_period_ns": -1}, "clock_period_ns=-1"),
        ({"precision": "float32"}, "precision='float32'"),
        ({"part": "xc u50"}, "part="),
        ({"synth": "maybe"}, "use true or false"),
    ],
)
def test_bad_options_name_the_key(extra, message):
    with pytest.raises(UserInputError) as err:
        Hls4mlRunner.parse_options(extra)
    assert message in str(err.value)


def test_cache_key_follows_the_firmware_settings_only():
    base = Hls4mlRunner.parse_options({})
    key = hls_config.config_hash("abc", base, "1.3.0")
    assert key == hls_config.config_hash("abc", Hls4mlRunner.parse_options({"synth": True}), "1.3.0")
    assert key != hls_config.config_hash("abc", Hls4mlRunner.parse_options({"reuse_factor": 2}), "1.3.0")
    assert key != hls_config.config_hash("abd", base, "1.3.0")
    assert key != hls_config.config_hash("abc", base, "1.3.1")


def test_float_models_get_explicit_precisions_never_auto(tiny):
    settings = Hls4mlRunner.parse_options({"precision": "fixed<24,10>"})
    config = hls_config.layer_config(tiny[1], settings)
    precisions = [p for layer in config["LayerName"].values() for p in layer.get("Precision", {}).items()]
    assert precisions and not [p for p in precisions if p[0] != "table" and p[1] == "auto"]
    assert ("result", "fixed<24,10>") in precisions


# --- the runner -----------------------------------------------------------------------------


def test_available_says_why_without_gpp(monkeypatch):
    monkeypatch.setattr(hls4ml_runner.shutil, "which", lambda name: None)
    ok, reason = Hls4mlRunner.available()
    assert not ok and "g++" in reason


@needs_toolchain
def test_csim_matches_keras_and_describes_an_emulation(tiny, tiny_runner):
    artifact, model = tiny
    x = np.random.default_rng(0).normal(size=(50, 6)).astype(np.float32)
    out = tiny_runner.infer(tiny_runner.stage(x))
    assert out.shape == (50, 3) and out.dtype == np.float32
    diff = np.abs(out - np.asarray(model(x))).max()
    assert 0 < diff < 1e-4  # fixed-point, so not identical, but faithful
    d = tiny_runner.describe()
    assert type(tiny_runner).emulator and d.device == "hls4ml C-simulation on host CPU"
    assert d.settings["part"] == "xcu50-fsvh2104-2-e" and d.settings["reuse_factor"] == 1
    assert d.settings["synthesis"].startswith("skipped: not requested")
    (est,) = tiny_runner.fpga_figures()
    assert est.source == "estimate" and est.details["multiplications"] == 6 * 8 + 8 * 3


@needs_toolchain
def test_second_prepare_loads_the_cached_build(tiny, tmp_path, monkeypatch):
    monkeypatch.setenv("TRIGGERBENCH_CACHE", str(tmp_path))  # a cache no other test has filled
    with Hls4mlRunner() as first_runner:
        first_runner.prepare(tiny[0], RunnerOptions(batch_size=2))
        first = first_runner.describe().settings
        x = np.ones((2, 6), np.float32)
        expected = first_runner.infer(first_runner.stage(x)).copy()
    assert first["build_cached"] is False and first["compile_s"] > 0
    assert Path(first["build_dir"]).parent == tmp_path / "hls4ml"
    lib = next(Path(first["build_dir"], "firmware").glob("*.so"))
    mtime = lib.stat().st_mtime_ns
    import hls4ml.model.graph

    def no_compile(self):
        raise AssertionError("compiled again")

    monkeypatch.setattr(hls4ml.model.graph.ModelGraph, "compile", no_compile)
    with Hls4mlRunner() as again:
        again.prepare(tiny[0], RunnerOptions(batch_size=2))
        settings = again.describe().settings
        np.testing.assert_array_equal(again.infer(again.stage(x)), expected)
    assert settings["build_cached"] is True and "compile_s" not in settings
    assert settings["build_dir"] == first["build_dir"] and lib.stat().st_mtime_ns == mtime


@needs_toolchain
def test_synthesis_without_the_tool_is_skipped_with_the_reason(tiny, tiny_runner, monkeypatch):
    real_which = hls4ml_runner.shutil.which
    monkeypatch.setattr(hls4ml_runner.shutil, "which", lambda n: None if n == "vitis-run" else real_which(n))
    with Hls4mlRunner() as runner:
        runner.prepare(tiny[0], RunnerOptions(extra={"synth": True}))
        assert runner.describe().settings["synthesis"].startswith("skipped: vitis-run not on PATH")
        assert [f.source for f in runner.fpga_figures()] == ["estimate"]


@needs_toolchain
def test_hgq2_student_is_bit_exact():
    from triggerbench.models.artifact import load_keras
    from triggerbench.models.workloads import get

    workload = get("muon-l0-qstudent-4bit")
    path = workload.source()
    model = load_keras(path)
    x, _ = workload.validation(200, 5)
    with Hls4mlRunner() as runner:
        runner.prepare(keras_only_artifact(path, model), RunnerOptions(batch_size=1))
        out = runner.infer(runner.stage(x))
        description = runner.describe()
        assert description.precision == "fixed-point (per layer, from the model's quantizers)"
        # The HGQ2 conv's own parallelization (all 7 x 14 positions at once) is kept, not reset to 1.
        assert description.settings["parallelization_factor"] == "student_conv:98"
    np.testing.assert_array_equal(out, np.asarray(model(x)))


@needs_toolchain
def test_unconvertible_layer_is_named(tmp_path):
    import keras

    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(4, name="d"), keras.layers.UnitNormalization(name="unit_norm")]
    )
    model.save(tmp_path / "odd.keras")
    with pytest.raises(RunnerError, match=r"hls4ml cannot convert layer 'unit_norm' \(UnitNormalization\)"):
        Hls4mlRunner().prepare(keras_only_artifact(tmp_path / "odd.keras", model), RunnerOptions())


@needs_toolchain
def test_failed_csim_build_gives_the_compilers_first_error(tiny, tmp_path, monkeypatch):
    # A g++ stand-in that fails the way g++ does: "file:line:col: error: ..." on its output.
    fake = tmp_path / "bin" / "g++"
    fake.parent.mkdir()
    fake.write_text(
        '#!/bin/sh\necho "firmware/myproject.cpp:1:1: error: stand-in compiler failure" >&2\nexit 1\n'
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(
        RunnerError, match="C-simulation build failed: firmware/myproject.cpp:1:1: error: stand-in"
    ):
        # reuse_factor=2: a configuration not built yet, so the build is attempted.
        Hls4mlRunner().prepare(tiny[0], RunnerOptions(extra={"reuse_factor": 2}))


@needs_toolchain
def test_models_too_large_for_the_csim_are_refused_with_the_limit(tiny):
    with pytest.raises(ModelUnsupportedError, match=r"needs 72 multiplications per event.*max_csim_mults=50"):
        Hls4mlRunner().prepare(tiny[0], RunnerOptions(extra={"max_csim_mults": 50}))


@needs_toolchain
def test_bad_option_fails_before_any_build(tiny):
    with pytest.raises(UserInputError, match="known options"):
        Hls4mlRunner().prepare(tiny[0], RunnerOptions(extra={"reuse_factr": 2}))


@needs_toolchain
def test_measured_record_is_marked_emulated_with_fpga_figures(tiny, quick_settings, tmp_path):
    from triggerbench.measure.job import Job, build_context
    from triggerbench.measure.session import measure_one

    ctx = build_context(quick_settings, model_path=tiny[0].path("keras"))
    record = measure_one(ctx, Job(runner=SPEC, settings=quick_settings, out_dir=tmp_path))
    assert record.status == "ok", record.error
    assert record.performance.emulated and record.runner.device == "hls4ml C-simulation on host CPU"
    assert record.accuracy.max_abs_diff < 1e-4
    assert [f.source for f in record.fpga] == ["estimate"]
    failed = measure_one(
        ctx, Job(runner=SPEC, settings=quick_settings, out_dir=tmp_path, runner_options={"x": 1})
    )
    assert failed.status == "failed" and "known options" in failed.error.message


@needs_toolchain
def test_synthesis_reports_become_fpga_figures(tiny, tmp_path, monkeypatch):
    from fpga.test_hls_reports import REPORTS

    if not REPORTS.is_dir():
        pytest.skip(f"report fixtures not found: {REPORTS}")
    # A vitis-run stand-in that leaves what Vitis HLS leaves in hls4ml's output folder: hls.app
    # and the C-synthesis XML (the real sample's, DSP48E renamed DSP as Vitis names it).
    fake = tmp_path / "bin" / "vitis-run"
    fake.parent.mkdir()
    report = "myproject_prj/solution1/syn/report"
    fake.write_text(
        "#!/bin/sh\nset -e\n"
        f"mkdir -p {report}\n"
        f"cp {REPORTS}/vivado_hls.app myproject_prj/hls.app\n"
        f"sed s/DSP48E/DSP/g {REPORTS}/myproject_csynth.xml > {report}/myproject_csynth.xml\n"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    with Hls4mlRunner() as runner:
        runner.prepare(tiny[0], RunnerOptions(extra={"synth": True}))
        assert runner.describe().settings["synthesis"] == "ran: vitis-run"
        figures = {f.source: f for f in runner.fpga_figures()}
    assert set(figures) == {"hls-csynth", "estimate"}
    assert (figures["hls-csynth"].dsp, figures["hls-csynth"].latency_cycles) == (73, 10)
    assert figures["hls-csynth"].details["tool"] == "vitis_hls"
    with Hls4mlRunner() as again:  # the reports are kept with the build: no second synthesis
        again.prepare(tiny[0], RunnerOptions(extra={"synth": True}))
        assert again.describe().settings["synthesis"] == "cached: vitis-run"
