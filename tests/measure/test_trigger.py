import functools

import numpy as np
import pytest
from fake_queries import busy

import triggerbench.measure.trigger as trigger_mod
from triggerbench.measure.settings import MeasureSettings
from triggerbench.measure.trigger import run_trigger, search_sustained_rate, stream
from triggerbench.schema import RateTrial, ScenarioInfo, TriggerFigures

SERVICE_US = 100


class VirtualClock:
    """A clock that only moves when read (by ``tick_ns``) or when the fake model runs."""

    def __init__(self, tick_ns: int = 500) -> None:
        self.now_ns = 10**12
        self.tick_ns = tick_ns
        self.calls = 0
        self.sleeps = 0

    def __call__(self) -> int:
        self.now_ns += self.tick_ns
        return self.now_ns

    def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        self.now_ns += int(seconds * 1e9) + 60_000  # sleeping wakes up late

    def model(self, service_ns: int):
        def query():
            self.calls += 1
            self.now_ns += service_ns

        return query


# --- exact queue behaviour on a virtual clock (no dependence on the box's load) ---


def test_virtual_light_load_never_queues():
    clock = VirtualClock()
    r = stream(clock.model(100_000), 1, 1_000.0, 0.3, 1e-3, clock=clock, sleep=clock.sleep)
    assert r.n_events == 300 == r.n_query_calls == clock.calls
    assert clock.sleeps == 299  # slept through each 900 us gap, spun its last 200 us
    assert r.deadline_miss_frac == 0 and r.n_missed == 0
    assert r.queue_depth_max_events == 1
    # served at once: latency = service + a few clock ticks
    assert (r.latencies_ns >= 100_000).all() and (r.latencies_ns < 105_000).all()
    assert r.busy_frac == pytest.approx(0.1, rel=0.05)
    assert r.service_time_mean_s == pytest.approx(100e-6, rel=0.01)


def test_virtual_dynamic_batching_keeps_up():
    clock = VirtualClock()
    # 50 kHz, 100 us per batch: ~5 events arrive during each batch and the next takes them all
    r = stream(clock.model(100_000), 64, 50_000.0, 0.3, 1e-3, clock=clock, sleep=clock.sleep)
    assert r.n_events == 15_000
    assert r.deadline_miss_frac == 0
    assert r.queue_depth_max_events <= 7
    assert r.n_query_calls < r.n_events / 4
    assert r.latencies_ns.max() < 250_000  # waited at most one batch, then ran in the next


def test_virtual_overload_misses_and_gives_up_draining():
    clock = VirtualClock()
    r = stream(clock.model(100_000), 1, 50_000.0, 0.1, 1e-3, clock=clock, sleep=clock.sleep, max_drain_s=0.05)
    assert r.n_events == 5_000
    # capacity 10 kHz: in 0.1 s stream + 0.05 s drain about 1500 events ran, the rest waited
    assert 1_400 <= r.n_query_calls <= 1_510
    assert r.n_events_unserved == r.n_events - r.n_query_calls
    assert r.deadline_miss_frac > 0.95
    assert r.queue_depth_max_events > 3_000
    # the unserved count as misses with a latency at least their waiting time
    assert (r.latencies_ns[-r.n_events_unserved :] > 1e6).all()
    # throughput counts only the events that ran: about the 10 kHz capacity
    assert r.throughput_events_per_s == pytest.approx(r.n_query_calls / r.span_s)
    assert r.throughput_events_per_s == pytest.approx(10_000, rel=0.03)


def test_virtual_full_drain_serves_every_event():
    clock = VirtualClock(tick_ns=1)
    r = stream(
        clock.model(100_000), 1, 20_000.0, 0.05, 1e-3, clock=clock, sleep=clock.sleep, max_drain_s=10.0
    )
    assert r.n_events == 1_000 == r.n_query_calls and r.n_events_unserved == 0
    # a D/D/1 queue at twice its capacity: event i (arriving at i * 50 us) completes at
    # (i + 1) * 100 us, give or take the clock's ticks
    i = np.arange(1_000)
    expected_ns = (i + 1) * 100_000 - i * 50_000
    assert np.abs(r.latencies_ns - expected_ns).max() < 10_000
    assert r.deadline_miss_frac == pytest.approx(np.mean(expected_ns > 1e6), abs=0.002)
    assert r.span_s == pytest.approx(0.1, rel=0.001)


def test_run_trigger_seeds_the_search_with_the_capacity_and_finds_the_sustained_rate(monkeypatch):
    clock = VirtualClock()
    # run_trigger's main stream and every trial of the rate search run on the virtual clock
    monkeypatch.setattr(trigger_mod, "stream", functools.partial(stream, clock=clock, sleep=clock.sleep))
    settings = MeasureSettings(
        warmup_s=0.0,
        warmup_queries=5,
        event_rate_hz=3_000.0,
        stream_duration_s=0.3,
        deadline_s=10e-3,
        miss_frac_limit=0.2,
        rate_search_trials=6,
        rate_search_trial_s=0.2,
    )
    outcome = run_trigger(clock.model(SERVICE_US * 1000), 1, settings)
    assert outcome.harness == "trigger-stream"
    tf, perf = outcome.trigger, outcome.performance
    for section in (tf, perf, outcome.validity):  # the record's JSON round trip
        assert type(section).model_validate_json(section.model_dump_json()) == section
    ScenarioInfo(name="trigger", harness=outcome.harness, settings=outcome.settings)  # scalars only
    assert outcome.validity.verdict == "UNCHECKED"
    assert outcome.validity.reasons == ["trigger scenario has no LoadGen verdict"]

    # A query() call lasts 100 us plus the tick of the clock read that ends it: the search starts
    # at the capacity that service time gives.
    capacity_hz = 1e9 / (SERVICE_US * 1000 + clock.tick_ns)
    rates = [t.event_rate_hz for t in tf.rate_search]
    assert len(rates) == 6 and rates[:2] == pytest.approx([capacity_hz, 2 * capacity_hz])
    # Each dispatch reads the clock twice more (1 us), so the server really serves one event per
    # 101.5 us. Above that its queue grows, and a 10 ms deadline holds through 80 % of a 0.2 s
    # trial (miss limit 0.2) only up to ~1.05x the search's capacity.
    assert capacity_hz <= tf.max_sustained_rate_hz <= 1.06 * capacity_hz
    passing = [t.event_rate_hz for t in tf.rate_search if t.deadline_miss_frac < 0.2]
    assert tf.max_sustained_rate_hz == max(passing)
    assert tf.n_events == 900 == perf.n_samples == perf.n_queries
    assert tf.latency_p99_s == perf.latency_p99_s
    # light load: served at once, latency = service + a few clock ticks
    assert SERVICE_US * 1e-6 <= perf.latency_p50_s <= perf.latency_max_s < (SERVICE_US + 5) * 1e-6
    assert perf.throughput_samples_per_s == pytest.approx(3_000, rel=0.01)
    # neither inside query() nor idle: the three clock reads between the idle wait's end, the
    # dispatch and query()'s start, and after its end
    assert perf.harness_overhead_per_query_s == pytest.approx(3 * clock.tick_ns * 1e-9, rel=0.01)
    assert outcome.settings["event_rate_hz"] == 3_000.0
    assert outcome.settings["warmup_queries"] == 5 and outcome.settings["window_preset"] == "custom"
    # 900 events: p99 is reported but thin (warned about), p99.9 has no event beyond it
    assert any("p99:" in w for w in outcome.warnings)
    assert perf.latency_p999_s is None
    assert perf.null_reasons["latency_p999_s"] == "p99.9 needs >= 1,000 events, 900 measured"


@pytest.mark.parametrize(("duration_s", "n_events"), [(0.099, 99), (0.1, 100), (0.999, 999), (1.0, 1_000)])
def test_trigger_percentiles_need_events_beyond_them(monkeypatch, duration_s, n_events):
    clock = VirtualClock()
    monkeypatch.setattr(trigger_mod, "stream", functools.partial(stream, clock=clock, sleep=clock.sleep))
    settings = MeasureSettings(
        warmup_s=0.0,
        warmup_queries=0,
        event_rate_hz=1_000.0,
        stream_duration_s=duration_s,
        rate_search_trials=0,
    )
    outcome = run_trigger(clock.model(SERVICE_US * 1000), 1, settings)
    tf, perf = outcome.trigger, outcome.performance
    assert tf.n_events == n_events and perf.latency_p50_s is not None and perf.latency_max_s is not None
    assert (perf.latency_p99_s is None) == (n_events < 100)
    assert (perf.latency_p999_s is None) == (n_events < 1_000)
    if n_events < 100:
        assert perf.null_reasons["latency_p99_s"] == f"p99 needs >= 100 events, {n_events} measured"
        assert tf.latency_p99_s is None
        assert tf.null_reasons["latency_p99_s"].startswith(f"p99 needs >= 100 events, {n_events} measured")
    else:
        assert tf.latency_p99_s == perf.latency_p99_s and "latency_p99_s" not in tf.null_reasons
    if n_events < 1_000:
        assert perf.null_reasons["latency_p999_s"] == f"p99.9 needs >= 1,000 events, {n_events} measured"


# --- real time: the default clock and sleep drive the same loop ---------------------------------
# Only what holds on any host is asserted: the busy query never ends sooner than its spin, so
# latencies have a floor and an overload is certain; how close a host comes to the ideal queue
# is a speed figure (benchmarks/), the queue's logic is checked exactly on the virtual clock above.


def check_bookkeeping(r) -> None:
    assert r.n_missed == np.count_nonzero(r.latencies_ns > r.deadline_s * 1e9)
    assert r.deadline_miss_frac == r.n_missed / r.n_events
    assert r.latencies_ns.size == r.n_events
    assert r.busy_s >= r.n_query_calls * SERVICE_US * 1e-6  # each call spins at least that long


def test_real_clock_light_load():
    r = stream(busy(SERVICE_US), 1, 1_000.0, 0.3, 1e-3)
    check_bookkeeping(r)
    assert r.n_events == 300 == r.n_query_calls + r.n_events_unserved
    assert (r.latencies_ns >= SERVICE_US * 1000).all()
    assert r.span_s >= 299 / 1_000.0  # the last event arrives 299 ms in, and is then served


def test_real_clock_overload_and_dynamic_batching():
    # 50 kHz into a model that takes at least 100 us: event i ends >= (i + 1) * 100 us after the
    # start but arrives at i * 20 us, so from i = 12 on every event is >= 1 ms late, on any host.
    one = stream(busy(SERVICE_US), 1, 50_000.0, 0.3, 1e-3)
    check_bookkeeping(one)
    assert one.n_events == 15_000 == one.n_query_calls + one.n_events_unserved
    assert one.deadline_miss_frac > 0.99
    assert one.queue_depth_max_events > 1_000
    # With batches of 64, each call after the first finds the >= 5 events that arrived during
    # the previous one (>= 100 us at 20 us intervals) and takes them all.
    many = stream(busy(SERVICE_US), 64, 50_000.0, 0.3, 1e-3)
    check_bookkeeping(many)
    assert many.n_events == 15_000
    assert many.n_query_calls <= many.n_events / 4


# --- the search's logic, with a stand-in stream ---


def fake_stream(threshold_hz: float):
    def run(query, batch_size, rate, duration_s, deadline_s):
        n = int(rate * duration_s)
        return type("R", (), {"deadline_miss_frac": 0.0 if rate < threshold_hz else 0.5, "n_events": n})

    return run


def test_search_brackets_then_bisects(monkeypatch):
    monkeypatch.setattr(trigger_mod, "stream", fake_stream(7_000.0))
    settings = MeasureSettings(rate_search_trials=8, rate_search_trial_s=10.0, miss_frac_limit=1e-3)
    result = search_sustained_rate(lambda: None, 1, settings, 10_000.0)
    rates = [t.event_rate_hz for t in result.trials]
    assert rates[:3] == pytest.approx([10_000.0, 5_000.0, 5_000.0 * 2**0.5])
    assert 6_500 < result.max_sustained_rate_hz < 7_000
    assert result.notes == []
    assert all(isinstance(t, RateTrial) for t in result.trials)


def test_search_without_upper_bound_or_resolution(monkeypatch):
    monkeypatch.setattr(trigger_mod, "stream", fake_stream(1e9))
    settings = MeasureSettings(rate_search_trials=3, rate_search_trial_s=0.01, miss_frac_limit=1e-3)
    result = search_sustained_rate(lambda: None, 1, settings, 1_000.0)
    assert [t.event_rate_hz for t in result.trials] == [1_000.0, 2_000.0, 4_000.0]
    assert result.max_sustained_rate_hz == 4_000.0
    assert any("at least" in n for n in result.notes)
    assert any("too few to resolve" in n for n in result.notes)


def test_no_search_and_no_passing_rate(monkeypatch):
    base = dict(warmup_s=0.0, warmup_queries=1, event_rate_hz=1_000.0, stream_duration_s=0.02)
    outcome = run_trigger(lambda: None, 1, MeasureSettings(**base, rate_search_trials=0))
    assert outcome.trigger.max_sustained_rate_hz is None
    assert "disabled" in outcome.trigger.null_reasons["max_sustained_rate_hz"]
    assert outcome.trigger.rate_search == []
    assert outcome.performance.n_warmup == 1

    failing = trigger_mod.RateSearch(
        trials=[RateTrial(event_rate_hz=5.0, deadline_miss_frac=1.0, n_events=3)],
        max_sustained_rate_hz=None,
        notes=["a note"],
    )
    monkeypatch.setattr(trigger_mod, "search_sustained_rate", lambda *a: failing)
    outcome = run_trigger(lambda: None, 1, MeasureSettings(**base, rate_search_trials=1))
    assert outcome.trigger.max_sustained_rate_hz is None
    assert "down to 5 Hz" in outcome.trigger.null_reasons["max_sustained_rate_hz"]
    assert "a note" in outcome.warnings
    assert TriggerFigures.model_validate_json(outcome.trigger.model_dump_json()) == outcome.trigger


def test_search_with_no_passing_rate(monkeypatch):
    monkeypatch.setattr(trigger_mod, "stream", fake_stream(0.0))
    settings = MeasureSettings(rate_search_trials=3, rate_search_trial_s=10.0)
    result = search_sustained_rate(lambda: None, 1, settings, 8_000.0)
    assert [t.event_rate_hz for t in result.trials] == [8_000.0, 4_000.0, 2_000.0]
    assert result.max_sustained_rate_hz is None
