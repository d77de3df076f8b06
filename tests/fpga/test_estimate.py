"""The analytic FPGA estimate: the formula, and its error against a real HLS report."""

from __future__ import annotations

import numpy as np
import pytest
from fpga.test_hls_reports import by_source, make_project

from triggerbench.fpga import hls_reports
from triggerbench.fpga.estimate import dsp_per_product, estimate, layer_costs


@pytest.fixture(scope="module")
def keras():
    import keras

    return keras


@pytest.fixture(scope="module")
def sample_model(keras):
    """The model behind the sample report (hls4ml's test_report: Dense(5, relu) on 16 inputs)."""
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((16,)), keras.layers.Dense(5, activation="relu", name="fc1")])
    assert np.count_nonzero(model.layers[0].kernel.numpy()) == 80
    return model


def test_the_formula_on_the_sample_model(sample_model):
    # The sample's settings: io_stream, fixed<16,6> (hls4ml's default), reuse factor 1, 5 ns.
    est = estimate(sample_model, reuse_factor=1, weight_bits=16, clock_period_ns=5.0, io_type="io_stream")
    assert est.source == "estimate" and "analytic" in est.method
    assert est.details["multiplications"] == 80
    assert est.dsp == 80  # one DSP per 16x16 product
    # Dense (R + 2) + ReLU stage (1), + 1 FIFO per stage under io_stream = 6 cycles
    assert est.latency_cycles == 6
    assert est.latency_s == pytest.approx(6 * 5e-9)
    assert est.interval_cycles is None and "io_stream" in est.null_reasons["interval_cycles"]


def test_sample_report_dsp_and_latency_within_the_stated_error(sample_model, tmp_path):
    """The estimate against what Vivado HLS 2020.1 reported for the same model and settings.

    The error stated here (fpga/estimate.py leaves it to this test): DSP within 10 % (the tool
    maps a few of the 16x16 products to LUTs: +9.6 % on this sample); latency low by at most half
    under io_stream (the estimate misses its serial read/write cycles: -40 % on this sample).
    """
    reports = hls_reports.read(make_project(tmp_path))
    csynth = by_source(hls_reports.figures(reports))["hls-csynth"]
    est = estimate(
        sample_model,
        reuse_factor=1,
        weight_bits=16,
        clock_period_ns=csynth.target_clock_period_ns,
        io_type="io_stream",
    )
    assert abs(est.dsp - csynth.dsp) / csynth.dsp <= 0.10
    assert 0.5 <= est.latency_cycles / csynth.latency_cycles <= 1.0


def test_reuse_factor_divides_dsp_and_sets_the_interval(sample_model):
    one = estimate(sample_model, reuse_factor=1)
    four = estimate(sample_model, reuse_factor=4)
    assert (one.dsp, four.dsp) == (80, 20)
    assert (one.interval_cycles, four.interval_cycles) == (1, 4)
    assert four.latency_cycles - one.latency_cycles == 3


def test_conv_multiplications_are_output_positions_times_kernel(keras):
    keras.utils.set_random_seed(2)
    inp = keras.Input((9, 16, 1))
    x = keras.layers.Conv2D(4, (3, 3), name="conv")(inp)
    x = keras.layers.MaxPooling2D(2, name="pool")(x)
    x = keras.layers.Flatten()(x)
    out = keras.layers.Dense(2, name="fc")(x)
    model = keras.Model(inp, out)
    kernel = model.get_layer("conv").kernel
    kernel.assign(np.where(np.arange(36).reshape(3, 3, 1, 4) == 0, 0.0, kernel.numpy()))  # one zero weight
    costs = {c.name: c for c in layer_costs(model, reuse_factor=1)}
    assert costs["conv"].mults == 7 * 14 * (3 * 3 * 1 * 4 - 1)  # zero weights are dropped, as hls4ml does
    # hls4ml's default ParallelizationFactor 1: one kernel of multipliers, 98 positions in series.
    assert (costs["conv"].multipliers, costs["conv"].cycles, costs["conv"].interval) == (35, 98 + 2, 98)
    assert costs["pool"].mults == 0 and costs["pool"].cycles == 1
    assert costs["fc"].mults == costs["fc"].multipliers == 3 * 7 * 4 * 2
    assert "flatten" not in costs  # reshapes cost nothing
    full = {c.name: c for c in layer_costs(model, reuse_factor=2, parallelization={"conv": 98})}["conv"]
    assert (full.multipliers, full.cycles, full.interval) == (98 * 35 // 2, 2 + 2, 2)
    est = estimate(model, reuse_factor=1, parallelization={"conv": 98})
    assert est.dsp == 98 * 35 + 3 * 7 * 4 * 2 and est.interval_cycles == 1


def test_dsp_per_product_follows_the_27x18_multiplier():
    assert [dsp_per_product(b) for b in (8, 16, 18, 27, 32)] == [1, 1, 1, 2, 4]


def test_quantizer_decided_widths_give_no_dsp_figure(sample_model):
    est = estimate(sample_model, weight_bits=None, part="xcu50-fsvh2104-2-e")
    assert est.dsp is None and "LUT" in est.null_reasons["dsp"]
    assert est.part == "xcu50-fsvh2104-2-e"


def test_known_parts_give_their_totals_for_percent_of_part(sample_model):
    est = estimate(sample_model, part="xcvu13p-fhga2104-2L-e")
    assert (est.lut_available, est.ff_available, est.dsp_available) == (1_728_000, 3_456_000, 12_288)
    assert (est.bram_available, est.uram_available) == (5_376, 1_280)  # 18K BRAM halves, URAM blocks
    unknown = estimate(sample_model, part="xc7z020-clg400-1")
    assert unknown.dsp_available is None and "table of part totals" in unknown.null_reasons["dsp_available"]
