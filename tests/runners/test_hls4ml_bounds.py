"""hls4ml runner: saturating firmware is flagged with the overflowing layer; builds are bounded."""

from __future__ import annotations

import os
import re

import numpy as np
import pytest
from artifacts import keras_only_artifact

from triggerbench.errors import ModelUnsupportedError, UserInputError
from triggerbench.fpga import fidelity, hls_config
from triggerbench.runners.base import RunnerOptions
from triggerbench.runners.hls4ml import Hls4mlRunner, _normalise_keras2_flags

SPEC = "triggerbench.runners.hls4ml:Hls4mlRunner"

needs_toolchain = pytest.mark.skipif(not Hls4mlRunner.available()[0], reason=Hls4mlRunner.available()[1])


@pytest.fixture(scope="module")
def loud(tmp_path_factory):
    """4 -> 8 -> 2 whose first Dense reaches ~1e4 on N(0, 1) inputs: beyond fixed<32,12>'s 2048."""
    import keras

    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(8, name="loud"), keras.layers.Dense(2, name="out")]
    )
    rng = np.random.default_rng(1)
    model.get_layer("loud").set_weights(
        [rng.uniform(2000, 4000, (4, 8)).astype(np.float32), np.zeros(8, np.float32)]
    )
    model.get_layer("out").set_weights([np.full((8, 2), 0.01, np.float32), np.zeros(2, np.float32)])
    path = tmp_path_factory.mktemp("hls-loud") / "loud.keras"
    model.save(path)
    return path, model


@pytest.fixture(scope="module")
def loud_ctx(loud, quick_settings):
    from triggerbench.measure.job import build_context

    return build_context(quick_settings, model_path=loud[0])


def test_build_and_fidelity_options_are_validated():
    s = Hls4mlRunner.parse_options({})
    assert (s.build_timeout_s, s.build_memory_mb, s.fidelity_threshold_pct) == (600.0, None, 5.0)
    for extra, message in [
        ({"build_timeout_s": 0}, "build_timeout_s=0"),
        ({"build_memory_mb": 10}, "build_memory_mb=10"),
        ({"fidelity_threshold_pct": -1}, "fidelity_threshold_pct=-1"),
    ]:
        with pytest.raises(UserInputError, match=message):
            Hls4mlRunner.parse_options(extra)


def test_suggested_precision_keeps_the_fractional_bits():
    assert fidelity.integer_range("fixed<32,12,RND_CONV,SAT>") == (32, 12, 2048.0, False)
    assert fidelity.suggested_precision("fixed<32,12,RND_CONV,SAT>", 9000.0) == "fixed<36,16,RND_CONV,SAT>"
    assert fidelity.suggested_precision("ap_fixed<16,6>", 100.0) == "fixed<19,9>"
    ranges = {"a": 9000.0, "b": 10.0}
    assert fidelity.overflowing(ranges, "fixed<32,12>") == [("a", 9000.0)]
    assert not fidelity.fidelity(0.01, np.full(10, 2.0), 5.0).far
    assert fidelity.fidelity(11.0, np.full(10, 75.0), 5.0).far


@needs_toolchain
def test_keras2_int_flags_of_batchnorm_become_bools(tmp_path):
    import hls4ml
    import keras

    model = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(3, name="d"), keras.layers.BatchNormalization(name="bn")]
    )
    model.get_layer("bn").scale = 1  # what a Keras 2 file can hold; hls4ml wants a bool
    config = hls_config.layer_config(model, Hls4mlRunner.parse_options({}))
    with pytest.raises(Exception, match="use_gamma"):
        hls4ml.converters.convert_from_keras_model(model, hls_config=config, output_dir=str(tmp_path / "a"))
    assert _normalise_keras2_flags(model) == ["bn.scale"]
    assert model.get_layer("bn").scale is True
    config = hls_config.layer_config(model, Hls4mlRunner.parse_options({}))
    hls4ml.converters.convert_from_keras_model(model, hls_config=config, output_dir=str(tmp_path / "b"))


@needs_toolchain
def test_saturating_firmware_warns_with_the_layer_and_a_precision(loud_ctx, tmp_path, quick_settings):
    from triggerbench.measure.job import Job
    from triggerbench.measure.session import measure_one

    record = measure_one(loud_ctx, Job(runner=SPEC, settings=quick_settings, out_dir=tmp_path))
    assert record.status == "ok", record.error
    (warning,) = [w for w in record.warnings if "far from the float reference" in w]
    assert "layers loud (max |a|" in warning and "out (" not in warning
    assert "exceed the integer range of precision fixed<32,12,RND_CONV,SAT>" in warning
    suggested = re.search(
        r"try -O hls4ml.precision='(fixed<\d+,(\d+),RND_CONV,SAT>)' \(I >= (\d+)\)", warning
    )
    assert suggested and suggested[2] == suggested[3] and int(suggested[2]) >= 16, warning
    assert record.runner.settings["fidelity_threshold_pct"] == 5.0
    assert record.runner.settings["fidelity_ratio_pct"] > 5.0

    wide = measure_one(
        loud_ctx,
        Job(
            runner=SPEC, settings=quick_settings, out_dir=tmp_path, runner_options={"precision": suggested[1]}
        ),
    )
    assert wide.status == "ok", wide.error
    assert not [w for w in wide.warnings if "far from the float reference" in w]
    assert wide.runner.settings["fidelity_ratio_pct"] < 5.0


@needs_toolchain
def test_build_past_its_time_limit_is_skipped_with_the_reason(loud, loud_ctx, tmp_path, quick_settings):
    from triggerbench import progress
    from triggerbench.measure.job import Job
    from triggerbench.measure.session import measure_one

    # reuse_factor=2: a configuration no other test has built, so the build is attempted.
    options = {"build_timeout_s": 0.5, "reuse_factor": 2}
    events = []
    with progress.sink(events.append):
        record = measure_one(
            loud_ctx, Job(runner=SPEC, settings=quick_settings, out_dir=tmp_path, runner_options=options)
        )
    assert record.status == "skipped" and record.error.type == "ModelUnsupported"
    assert "build exceeded -O build_timeout_s=0.5" in record.error.message
    # The compile is a progress step (shown while it runs), ended as failed by the time limit.
    compile_events = [
        e for e in events if e.description.startswith("hls4ml: compiling the C-simulation of loud (")
    ]
    assert [(e.kind, e.failed) for e in compile_events] == [("start", False), ("end", True)]


@needs_toolchain
def test_build_beyond_the_memory_budget_is_refused(loud, tmp_path, monkeypatch):
    monkeypatch.setenv("TRIGGERBENCH_CACHE", str(tmp_path))  # nothing built yet: a build is needed
    artifact = keras_only_artifact(*loud)
    with pytest.raises(ModelUnsupportedError, match=r"estimated 400 MB .* more than the 100 MB"):
        Hls4mlRunner().prepare(artifact, RunnerOptions(extra={"build_memory_mb": 100}))
    assert not list(tmp_path.glob("hls4ml/*/firmware"))  # refused before writing the project


@needs_toolchain
def test_cli_names_the_saturating_layer_and_skips_a_build_over_its_time_limit(loud, tmp_path):
    """As a user meets both: one warning line naming the layer, one skipped line with the limit."""
    from cli_runs import TINY_WINDOWS, tb

    proc = tb(
        "run", "--model", str(loud[0]), "--runner", "hls4ml", "--out", str(tmp_path / "a"), *TINY_WINDOWS
    )
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    flagged = [line for line in proc.stderr.splitlines() if "firmware outputs far from" in line]
    assert len(flagged) == 1 and "layers loud" in flagged[0] and "-O hls4ml.precision=" in flagged[0]
    # An emulator's few queries: its p99 is not reported, said once under the rows.
    assert proc.stderr.count("p99 —: too few queries to report it") == 1, proc.stderr
    proc = tb(
        "run",
        "--model",
        str(loud[0]),
        "--runner",
        "hls4ml",
        "-O",
        "hls4ml.build_timeout_s=0.5",
        "-O",
        "hls4ml.precision=fixed<40,20>",  # a configuration not built yet: the build runs
        "--out",
        str(tmp_path / "b"),
        *TINY_WINDOWS,
    )
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert any(
        line.startswith("skipped hls4ml: ") and "build_timeout_s=0.5" in line
        for line in proc.stderr.splitlines()
    ), proc.stderr
    # The compile in the measuring child is shown while it runs: in a log, a line as it starts
    # and one as it ends.
    compiling = [
        line for line in proc.stdout.splitlines() if "hls4ml: compiling the C-simulation of loud" in line
    ]
    assert len(compiling) == 2 and compiling[0].endswith("...") and "failed after" in compiling[1], (
        proc.stdout
    )


@needs_toolchain
def test_cli_converts_a_keras2_batchnorm_and_refuses_a_build_over_the_memory_budget(tmp_path):
    """A BatchNormalization with Keras 2's int ``scale=1`` converts (hls4ml alone would refuse it:
    see above); the build then needs more than ``build_memory_mb``: skipped in one line, no build."""
    import keras
    from cli_runs import TINY_WINDOWS, tb

    model = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(3, name="d"), keras.layers.BatchNormalization(name="bn")]
    )
    model.get_layer("bn").scale = 1
    model.save(tmp_path / "bn.keras")
    assert type(keras.models.load_model(tmp_path / "bn.keras").get_layer("bn").scale) is int
    proc = tb(
        "run", "--model", str(tmp_path / "bn.keras"), "--runner", "hls4ml", "-O", "hls4ml.build_memory_mb=64",
        "--out", str(tmp_path / "res"), *TINY_WINDOWS,
        env={**os.environ, "TRIGGERBENCH_CACHE": str(tmp_path / "cache")},
    )  # fmt: skip
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert "use_gamma" not in proc.stderr
    skipped = [line for line in proc.stderr.splitlines() if line.startswith("skipped hls4ml: ")]
    assert len(skipped) == 1, proc.stderr
    assert "more than the 64 MB available (-O build_memory_mb" in skipped[0]
    assert not list((tmp_path / "cache").glob("hls4ml/*/firmware"))
