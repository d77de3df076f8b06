"""Throughput of the toy physics simulators (events/s on one core).

numpy runs these element-wise kernels on one thread, so the figure is a one-core figure even on a
multi-core host. Goals: simulate_l0 >= 100k events/s (it is the training-data path);
simulate_llp >= 10k events/s (the LLP VGG's 30k training images in 3 s).
"""

from __future__ import annotations

from triggerbench.physics import simulate_l0, simulate_llp

GOAL_L0_EVENTS_PER_S = 100_000
GOAL_LLP_EVENTS_PER_S = 10_000
L0_EVENTS = 100_000
LLP_EVENTS = 10_000


def _events_per_s(benchmark, n_events: int) -> float:
    # The median round is less sensitive than the mean to a neighbour on a shared CI host.
    rate = n_events / benchmark.stats.stats.median
    benchmark.extra_info["events_per_s"] = rate
    benchmark.extra_info["n_events"] = n_events
    return rate


def test_simulate_l0_throughput(benchmark, triggerbench):
    sample = benchmark.pedantic(simulate_l0, args=(L0_EVENTS, 1), rounds=3, warmup_rounds=1)
    assert sample.x.shape[0] == L0_EVENTS
    rate = _events_per_s(benchmark, L0_EVENTS)
    triggerbench.note("simulate_l0", f"{rate:,.0f} events/s (goal >= {GOAL_L0_EVENTS_PER_S:,})")
    assert rate >= GOAL_L0_EVENTS_PER_S, f"simulate_l0: {rate:,.0f} events/s < {GOAL_L0_EVENTS_PER_S:,}"


def test_simulate_llp_throughput(benchmark, triggerbench):
    sample = benchmark.pedantic(simulate_llp, args=(LLP_EVENTS, 1), rounds=3, warmup_rounds=1)
    assert sample.x.shape[0] == LLP_EVENTS
    rate = _events_per_s(benchmark, LLP_EVENTS)
    triggerbench.note("simulate_llp", f"{rate:,.0f} events/s (goal >= {GOAL_LLP_EVENTS_PER_S:,})")
    assert rate >= GOAL_LLP_EVENTS_PER_S, f"simulate_llp: {rate:,.0f} events/s < {GOAL_LLP_EVENTS_PER_S:,}"
