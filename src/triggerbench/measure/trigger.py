"""The trigger scenario: events at a fixed rate into one server that must answer each in time.

No benchmark suite has it. Events arrive on a fixed schedule ``t_i = t0 + i / rate`` (as into a
high-level trigger farm at, say, 100 kHz). One server (the model) takes, whenever it is free,
all events that have arrived and not been started, up to ``batch_size`` (dynamic batching), and
runs ``query()`` once on them. Each event's latency runs from its arrival to the completion of
its batch; it misses if that exceeds the deadline.

The arrival schedule is virtual (computed from the clock), the processing is real: this measures
a real single-server queue without a producer thread, whose own jitter would pollute the figures.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from triggerbench.errors import UserInputError
from triggerbench.measure.outcome import QueryFn, ScenarioOutcome
from triggerbench.measure.settings import WARMUP_FIELDS, MeasureSettings
from triggerbench.measure.stats import LatencyStats, percentile_null_reason, stability_problems
from triggerbench.measure.tight_loop import warm_up
from triggerbench.schema import PerformanceFigures, RateTrial, TriggerFigures, Validity

#: Once the stream has ended, drain for at most this many stream durations; events still
#: waiting after that are certain misses (see ``stream``), which keeps an overloaded stream
#: (100 kHz into a 1 kHz model) from draining for minutes.
MAX_DRAIN_FACTOR = 4.0
#: A miss fraction below ``limit`` needs about this many / limit events to be told from zero.
RESOLVE_EVENTS = 10
#: While idle, sleep until this long before the next arrival, then spin. Sleep alone is too
#: coarse (it wakes ~50-100 us late), hence the spin for the last stretch; a pure spin, though,
#: looks CPU-hungry to the Linux scheduler, which on a busy box then preempts it for
#: milliseconds (measured on a shared 2-core box at 1 kHz, 100 us model, 1 ms deadline:
#: 15-40 % misses spinning, ~1 % with this). At trigger rates (gaps of ~10 us) it only spins.
SPIN_BEFORE_ARRIVAL_NS = 200_000
#: Sleep only for gaps at least this much longer than the spin (a shorter sleep is not worth it).
_MIN_SLEEP_NS = 100_000
#: Bracketing step of the sustained-rate search (rates are multiplied or divided by it).
BRACKET_FACTOR = 2.0


@dataclass(frozen=True)
class StreamResult:
    """One stream of events at a fixed rate through the model."""

    event_rate_hz: float
    stream_duration_s: float
    deadline_s: float
    batch_size: int
    n_events: int
    n_missed: int
    deadline_miss_frac: float
    n_query_calls: int
    queue_depth_max_events: int
    queue_depth_mean_events: float
    latencies_ns: np.ndarray
    n_events_unserved: int
    span_s: float
    busy_s: float
    idle_s: float

    @property
    def busy_frac(self) -> float:
        """Fraction of the span (first arrival to last completion) spent inside ``query()``."""
        return self.busy_s / self.span_s if self.span_s > 0 else 0.0

    @property
    def service_time_mean_s(self) -> float:
        """Mean duration of one ``query()`` call during the stream."""
        return self.busy_s / self.n_query_calls if self.n_query_calls else math.nan

    @property
    def harness_overhead_per_query_s(self) -> float:
        """Time per dispatch that was neither inside ``query()`` nor waiting for an event."""
        if not self.n_query_calls:
            return math.nan
        return max(0.0, self.span_s - self.busy_s - self.idle_s) / self.n_query_calls

    @property
    def throughput_events_per_s(self) -> float:
        """Events run to completion (unserved ones excluded) per second of span."""
        served = self.n_events - self.n_events_unserved
        return served / self.span_s if self.span_s > 0 else 0.0


def stream(
    query: QueryFn,
    batch_size: int,
    event_rate_hz: float,
    stream_duration_s: float,
    deadline_s: float,
    *,
    max_drain_s: float | None = None,
    clock: Callable[[], int] = time.perf_counter_ns,
    sleep: Callable[[float], None] = time.sleep,
) -> StreamResult:
    """Feed events at ``event_rate_hz`` for ``stream_duration_s`` into ``query`` and time each.

    Events with arrival time before the end of the stream are all admitted; once the stream
    has ended the queue is drained and drained events count with their latency. If draining
    has lasted ``max_drain_s`` (default: ``MAX_DRAIN_FACTOR`` stream durations) and even the
    last event has waited longer than the deadline, the rest are certain misses: they are not
    run, count as missed with their waiting time so far as a lower bound on their latency, and
    ``n_events_unserved`` says how many. The miss fraction stays exact.

    Args:
        query: Runs one batch of ``batch_size`` samples synchronously.
        batch_size: The most events one ``query()`` call takes (1: one event at a time).
        event_rate_hz: Arrival rate of events.
        stream_duration_s: How long events arrive.
        deadline_s: Latency budget of each event.
        max_drain_s: How long to drain before unserved certain misses are given up.
        clock: Monotonic clock in nanoseconds (tests pass a virtual one).
        sleep: Sleeps for given seconds (tests pass one that moves the virtual clock).

    Returns:
        Per-event latencies, miss fraction, queue depth and server busy time.
    """
    if batch_size < 1 or event_rate_hz <= 0 or stream_duration_s <= 0 or deadline_s <= 0:
        raise UserInputError("stream needs batch_size >= 1 and positive rate, duration, deadline")
    if max_drain_s is None:
        max_drain_s = MAX_DRAIN_FACTOR * stream_duration_s
    period_ns = 1e9 / event_rate_hz
    rate_per_ns = event_rate_hz * 1e-9
    # Events i = 0 .. n_total-1 arrive strictly before the end of the stream.
    # (less a hair, so float noise in 0.3 * 1000 cannot add an event at the very end)
    n_total = max(1, math.ceil(stream_duration_s * event_rate_hz - 1e-9))
    last_arrival_off_ns = (n_total - 1) * period_ns
    drain_deadline_off_ns = stream_duration_s * 1e9 + max_drain_s * 1e9
    deadline_ns = deadline_s * 1e9

    # Per dispatch only two list appends: the per-event bookkeeping is done with numpy after
    # the stream, so the loop costs the same for batch 1 and batch 1000.
    done_ns: list[int] = []
    takes: list[int] = []
    depth_max = 0
    depth_sum = 0
    busy_ns = 0
    idle_ns = 0
    started = 0  # events taken by the server so far (they are taken in arrival order)
    unserved_at_ns: int | None = None
    t0 = clock()
    while started < n_total:
        now = clock()
        # floor((now - t0) * rate) + 1 events have arrived by now.
        arrived = min(n_total, int((now - t0) * rate_per_ns) + 1)
        if arrived <= started:
            # Nothing waiting: wait for the next arrival, spinning its last stretch (see
            # SPIN_BEFORE_ARRIVAL_NS).
            target = t0 + math.ceil(started * period_ns)
            if target - now > SPIN_BEFORE_ARRIVAL_NS + _MIN_SLEEP_NS:
                sleep((target - now - SPIN_BEFORE_ARRIVAL_NS) * 1e-9)
            while clock() < target:
                pass
            idle_ns += clock() - now
            continue
        if now - t0 > drain_deadline_off_ns and now - t0 - last_arrival_off_ns > deadline_ns:
            unserved_at_ns = now
            break
        depth = arrived - started
        depth_max = max(depth_max, depth)
        depth_sum += depth
        take = min(depth, batch_size)
        begin = clock()
        query()  # always the full staged batch, however many events it stands for
        end = clock()
        busy_ns += end - begin
        done_ns.append(end)
        takes.append(take)
        started += take

    n_calls = len(takes)
    completion_ns = np.repeat(np.asarray(done_ns, dtype=np.int64), takes)
    if unserved_at_ns is not None:
        # Lower bound for events never run: they had waited this long when given up.
        completion_ns = np.concatenate(
            [completion_ns, np.full(n_total - started, unserved_at_ns, dtype=np.int64)]
        )
    arrival_ns = t0 + np.round(np.arange(n_total, dtype=np.float64) * period_ns).astype(np.int64)
    latencies_ns = completion_ns - arrival_ns
    # Unserved events have waited past the deadline (the drain stops only then), so their
    # lower-bound latencies already count them as misses.
    n_missed = int(np.count_nonzero(latencies_ns > deadline_ns))
    span_ns = int(completion_ns.max() - t0) if completion_ns.size else 0
    return StreamResult(
        event_rate_hz=event_rate_hz,
        stream_duration_s=stream_duration_s,
        deadline_s=deadline_s,
        batch_size=batch_size,
        n_events=n_total,
        n_missed=n_missed,
        deadline_miss_frac=n_missed / n_total,
        n_query_calls=n_calls,
        queue_depth_max_events=depth_max,
        queue_depth_mean_events=depth_sum / n_calls if n_calls else 0.0,
        latencies_ns=latencies_ns,
        n_events_unserved=n_total - started,
        span_s=span_ns * 1e-9,
        busy_s=busy_ns * 1e-9,
        idle_s=idle_ns * 1e-9,
    )


@dataclass(frozen=True)
class RateSearch:
    """Result of the sustained-rate search."""

    trials: list[RateTrial]
    max_sustained_rate_hz: float | None
    notes: list[str]


def search_sustained_rate(
    query: QueryFn,
    batch_size: int,
    settings: MeasureSettings,
    capacity_hz: float,
) -> RateSearch:
    """Find the highest event rate whose miss fraction stays below ``settings.miss_frac_limit``.

    Starts at ``capacity_hz``, multiplies or divides by ``BRACKET_FACTOR`` until one rate passes
    and one fails, then bisects geometrically; ``settings.rate_search_trials`` streams of
    ``settings.rate_search_trial_s`` each.
    """
    limit = settings.miss_frac_limit
    trials: list[RateTrial] = []
    notes: list[str] = []
    passed: float | None = None  # highest rate that met the limit
    failed: float | None = None  # lowest rate that did not
    rate = capacity_hz
    for _ in range(settings.rate_search_trials):
        result = stream(query, batch_size, rate, settings.rate_search_trial_s, settings.deadline_s)
        trials.append(
            RateTrial(
                event_rate_hz=rate,
                deadline_miss_frac=result.deadline_miss_frac,
                n_events=result.n_events,
            )
        )
        if result.deadline_miss_frac < limit:
            passed = rate if passed is None else max(passed, rate)
        else:
            failed = rate if failed is None else min(failed, rate)
        if passed is not None and failed is not None:
            rate = math.sqrt(passed * failed)
        elif passed is not None:
            rate = passed * BRACKET_FACTOR
        else:
            rate = rate / BRACKET_FACTOR

    unresolved = [t for t in trials if t.n_events < RESOLVE_EVENTS / limit]
    if unresolved:
        notes.append(
            f"{len(unresolved)} of {len(trials)} rate-search trials had fewer than "
            f"{math.ceil(RESOLVE_EVENTS / limit)} events (10 / miss_frac_limit), too few to "
            f"resolve a miss fraction of {limit:g}; raise rate_search_trial_s"
        )
    if passed is not None and failed is None:
        notes.append(
            f"every trial rate met the miss limit: the sustained rate is at least {passed:.4g} Hz "
            "(no upper bound found; raise rate_search_trials)"
        )
    return RateSearch(trials=trials, max_sustained_rate_hz=passed, notes=notes)


def _performance(main: StreamResult, latency: LatencyStats, n_warmup: int) -> PerformanceFigures:
    """Per-event figures of the main stream (a query here is one ``query()`` call)."""
    figures, reasons = latency.figures(noun="events")
    reasons["repeat_throughput_rel_stdev"] = (
        "one stream at a fixed rate: throughput is set by the arrival rate"
    )
    queries_per_s = main.n_query_calls / main.span_s if main.n_query_calls else None
    if queries_per_s is None:
        reasons["throughput_queries_per_s"] = "no query() call completed"
    return PerformanceFigures(
        throughput_samples_per_s=main.throughput_events_per_s,
        throughput_queries_per_s=queries_per_s,
        **figures,
        n_queries=main.n_query_calls,
        n_samples=main.n_events - main.n_events_unserved,
        n_warmup=n_warmup,
        duration_s=main.span_s,
        harness_overhead_per_query_s=main.harness_overhead_per_query_s,
        null_reasons=reasons,
    )


def run_trigger(query: QueryFn, batch_size: int, settings: MeasureSettings) -> ScenarioOutcome:
    """Run the trigger scenario: one stream at ``settings.event_rate_hz``, then the rate search.

    Args:
        query: Runs one batch of ``batch_size`` samples synchronously.
        batch_size: The most events one ``query()`` call takes.
        settings: Rate, stream duration, deadline, miss limit and the search's trials.

    Returns:
        The outcome with harness "trigger-stream", trigger figures and per-event performance.
    """
    n_warmup = warm_up(query, settings)
    main = stream(query, batch_size, settings.event_rate_hz, settings.stream_duration_s, settings.deadline_s)
    # Computed once: the performance figures and the trigger section read the same statistics.
    latency = LatencyStats.from_ns(main.latencies_ns)
    warnings = stability_problems(main.n_events, None)
    if main.n_events_unserved:
        warnings.append(
            f"{main.n_events_unserved} of {main.n_events} events were still waiting "
            f"{MAX_DRAIN_FACTOR:g} stream durations after the stream ended and were not run: "
            "they count as misses, and their latency as the lower bound of their waiting time"
        )

    reasons: dict[str, str] = {}
    p99_null = percentile_null_reason(99.0, main.n_events, "events")
    if p99_null is not None:
        reasons["latency_p99_s"] = f"{p99_null}; raise stream_duration_s or event_rate_hz"
    search = RateSearch(trials=[], max_sustained_rate_hz=None, notes=[])
    if settings.rate_search_trials == 0:
        reasons["max_sustained_rate_hz"] = "rate search disabled (rate_search_trials = 0)"
    else:
        # Capacity: a full batch per mean service time, the rate at which the server
        # would be busy all the time with full batches.
        capacity_hz = batch_size / main.service_time_mean_s
        search = search_sustained_rate(query, batch_size, settings, capacity_hz)
        warnings += search.notes
        if search.max_sustained_rate_hz is None:
            lowest = min(t.event_rate_hz for t in search.trials)
            reasons["max_sustained_rate_hz"] = (
                f"no trial rate met the miss limit {settings.miss_frac_limit:g}, down to "
                f"{lowest:.4g} Hz (deadline {settings.deadline_s:g} s)"
            )

    trigger = TriggerFigures(
        event_rate_hz=settings.event_rate_hz,
        stream_duration_s=settings.stream_duration_s,
        deadline_s=settings.deadline_s,
        n_events=main.n_events,
        deadline_miss_frac=main.deadline_miss_frac,
        queue_depth_max_events=main.queue_depth_max_events,
        latency_p99_s=None if p99_null else latency.p99_s,
        max_sustained_rate_hz=search.max_sustained_rate_hz,
        sustained_miss_frac_limit=settings.miss_frac_limit,
        rate_search=search.trials,
        null_reasons=reasons,
    )
    return ScenarioOutcome(
        harness="trigger-stream",
        performance=_performance(main, latency, n_warmup),
        validity=Validity(verdict="UNCHECKED", reasons=["trigger scenario has no LoadGen verdict"]),
        settings={
            **settings.windows(WARMUP_FIELDS),
            "event_rate_hz": settings.event_rate_hz,
            "stream_duration_s": settings.stream_duration_s,
            "deadline_s": settings.deadline_s,
            "batch_size": batch_size,
            "batch_policy": (
                "dynamic: each query() takes all waiting events up to batch_size and always "
                "runs the full batch"
            ),
            "miss_frac_limit": settings.miss_frac_limit,
            "rate_search_trials": settings.rate_search_trials,
            "rate_search_trial_s": settings.rate_search_trial_s,
            "max_drain_s": MAX_DRAIN_FACTOR * settings.stream_duration_s,
        },
        trigger=trigger,
        warnings=warnings,
    )
