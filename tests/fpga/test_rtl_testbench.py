"""The RTL testbench: clock edges counted in the Verilator simulation, and what makes it fail."""

from __future__ import annotations

import numpy as np
import pytest
from test_rtl_build import tiny_rtl

from triggerbench.errors import RunnerError
from triggerbench.fpga import rtl_testbench as tb


def test_latency_and_interval_are_counted():
    rtl = tiny_rtl()
    result = tb.measure(rtl)
    # The generated top registers the input, then each stage's output: stages + 1 edges.
    assert result.latency_cycles == rtl.n_stages + 1
    assert rtl.n_stages >= 2, "the tiny config should cut at least two stages"
    assert result.interval_cycles == 1
    assert "rising clock edges" in result.method and "Verilator" in result.method


def test_lane_conversion_round_trips_model_outputs():
    comb = tiny_rtl().comb
    events = tb.random_events(comb, 100)
    values = comb.predict(events)
    lanes = tb.to_lanes_out(comb, values)
    assert np.array_equal(tb.from_lanes(comb, lanes), values)
    assert lanes.min() >= 0, "the binder reads lanes unsigned"


def test_random_events_lie_on_the_input_grid():
    comb = tiny_rtl().comb
    events = tb.random_events(comb, 200)
    for j, q in enumerate(comb.inp_qint):
        col = events[:, j]
        assert col.min() >= q.min and col.max() <= q.max
        assert np.allclose(np.round((col - q.min) / q.step) * q.step + q.min, col)


@pytest.fixture
def bench():
    rtl = tiny_rtl()
    comb = rtl.comb
    b = tb._Bench(tb.compile_testbench(rtl), len(comb.inp_qint), len(comb.out_qint))
    yield rtl, b
    b.close()


def test_a_wrong_expectation_is_caught(bench):
    rtl, b = bench
    comb = rtl.comb
    events = tb.random_events(comb, 3, seed=11)
    lanes, want = tb.to_lanes(comb, events), tb.to_lanes_out(comb, comb.predict(events))
    never = want[1] ^ 1  # a value the output never takes for this input
    with pytest.raises(RunnerError):
        tb._latency(b, lanes[0], lanes[1], want[0], never)


def test_interval_check_rejects_outputs_out_of_order(bench):
    rtl, b = bench
    comb = rtl.comb
    events = tb.random_events(comb, 32, seed=5)
    lanes, want = tb.to_lanes(comb, events), tb.to_lanes_out(comb, comb.predict(events))
    latency = rtl.n_stages + 1
    assert tb._interval_ok(b, lanes, want, latency, 1)
    assert not tb._interval_ok(b, lanes, np.roll(want, 1, axis=0), latency, 1)
    assert not tb._interval_ok(b, lanes, want, latency + 1, 1), "a latency one too long must not pass"
