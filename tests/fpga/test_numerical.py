"""Numerical profile: a float model under hls4ml's fixed<16,6> default names the layer that overflows.

The expected counts are computed here with numpy from the model's weights, not with the module.
"""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest

from triggerbench.fpga import hls_config, numerical

pytest.importorskip("hls4ml")

N_EVENTS = 500
LIMIT = 32.0  # fixed<16,6> holds [-32, 32)


@pytest.fixture(scope="module")
def model_and_inputs():
    """4 inputs in [0, 1) -> 'fits' (|a| < 6) -> 'big' (|a| up to ~360) -> 'tiny' (|a| < 0.1)."""
    import keras

    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(3, activation="relu", name="fits"),
            keras.layers.Dense(2, name="big"),
            keras.layers.Dense(2, name="tiny"),
        ]
    )
    fits, big, tiny = model.layers
    fits.set_weights([np.full((4, 3), 1.5, np.float32), np.zeros(3, np.float32)])
    big.set_weights([np.array([[20.0, -20.0]] * 3, np.float32), np.array([1.0, 0.0], np.float32)])
    tiny.set_weights([np.full((2, 2), 1e-4, np.float32), np.zeros(2, np.float32)])
    x = np.random.default_rng(7).random((N_EVENTS, 4), dtype=np.float32)
    return model, x


def convert(model, precision: str):
    import hls4ml

    settings = hls_config.HlsSettings(precision=precision)
    with contextlib.redirect_stdout(io.StringIO()):
        config = hls_config.layer_config(model, settings)
        return hls4ml.converters.convert_from_keras_model(model, hls_config=config, io_type="io_parallel")


def rows_by(rows):
    return {(r.layer, r.tensor): r for r in rows}


def test_default_precision_flags_the_overflowing_layer_only(model_and_inputs, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # hls4ml's default output_dir is relative
    model, x = model_and_inputs
    rows = rows_by(numerical.profile(model, convert(model, "fixed<16,6>"), x))
    # Independent arithmetic: the 'big' layer's outputs and how many leave [-32, 32).
    hidden = np.maximum(x @ np.full((4, 3), 1.5), 0)
    big_out = hidden @ np.array([[20.0, -20.0]] * 3) + np.array([1.0, 0.0])
    expected = int(np.count_nonzero((big_out >= LIMIT) | (big_out < -LIMIT)))
    assert expected > 0  # the fixture really overflows

    big = rows[("big", "activation")]
    assert big.verdict == "overflows"
    assert big.overflow_count == expected
    assert big.overflow_fraction == pytest.approx(expected / big_out.size)
    assert big.overflow_mode == "wrap"  # hls4ml's bare fixed<16,6> is TRN, WRAP
    assert (big.range_min, big.range_max) == (-32.0, 32.0 - 2.0**-10)
    assert big.max == pytest.approx(big_out.max(), rel=1e-5)
    peak = max(big_out.max(), -big_out.min())  # signed: |a| < 2**(I-1)
    assert f"needs integer bits >= {int(np.floor(np.log2(peak))) + 2}" in big.note

    assert [k for k, r in rows.items() if r.verdict == "overflows"] == [("big", "activation")]
    assert rows[("fits", "activation")].verdict == "ok"
    assert rows[("fits_relu", "activation")].verdict == "ok"  # the split-off activation
    assert rows[("big", "weight")].verdict == "ok"  # 20 needs all 6 integer bits


def test_tiny_values_waste_integer_bits(model_and_inputs, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model, x = model_and_inputs
    rows = rows_by(numerical.profile(model, convert(model, "fixed<16,6>"), x))
    weight = rows[("tiny", "weight")]
    # 1e-4 needs floor(log2(1e-4)) + 2 = -12 integer bits; the type has 6.
    assert weight.verdict == "wastes-bits"
    assert weight.wasted_integer_bits == 6 - (int(np.floor(np.log2(1e-4))) + 2)
    assert "round to 0" in weight.note  # below the lsb 2**-10: the firmware holds zeros


def test_a_wide_type_with_saturation_fits(model_and_inputs, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model, x = model_and_inputs
    rows = rows_by(numerical.profile(model, convert(model, "fixed<24,10,RND,SAT>"), x))
    big = rows[("big", "activation")]
    assert big.verdict == "ok" and big.overflow_count == 0
    assert big.overflow_mode == "saturate" and big.precision == "fixed<24,10,RND,SAT>"


def test_fixed_type_ranges_and_rounding():
    ufixed = numerical.FixedType(8, 3, False, "TRN", "WRAP")
    assert ufixed.code_range == (0, 255) and ufixed.lsb == 2**-5
    sym = numerical.FixedType(8, 3, True, "RND", "SAT_SYM")
    assert sym.code_range == (-127, 127) and sym.overflow_mode == "saturate"
    trn = numerical.FixedType(16, 6, True, "TRN", "WRAP")
    # Truncation keeps 32 - lsb/2 in range; rounding pushes it to 32, one past the top code.
    edge = np.array([32 - 2.0**-11])
    assert numerical.tensor_profile("l", "activation", edge, trn).overflow_count == 0
    rnd = numerical.FixedType(16, 6, True, "RND", "WRAP")
    assert numerical.tensor_profile("l", "activation", edge, rnd).overflow_count == 1
    # Negative values in an unsigned type overflow; -4 needs 3 integer bits signed.
    assert numerical.tensor_profile("l", "activation", np.array([-1.0, 2.0]), ufixed).verdict == "overflows"
    assert trn.integer_bits_needed(np.array([-4.0, 1.0])) == 3
    assert numerical.tensor_profile("l", "weight", np.zeros(3), trn).wasted_integer_bits is None
