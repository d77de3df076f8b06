"""The LoadGen system under test: chunks of a query run by ``query()``, or kept in flight on a queue.

``ChunkedSut`` is what LoadGen issues queries to; ``queue_calls_per_s`` calibrates the schedule
of a queued SUT (offline and server with an ``AsyncQueue``); ``start_test`` runs one LoadGen test
on a SUT. ``measure.loadgen`` builds the settings and reads the results back.
"""

from __future__ import annotations

import functools
import time
from pathlib import Path
from typing import Any

import mlperf_loadgen as lg

from triggerbench.measure.outcome import QueryFn
from triggerbench.runners.base import AsyncQueue

#: Samples LoadGen may index; our queries run a staged batch and never read them.
_QSL_SAMPLE_COUNT = 1024
#: The burst that calibrates a queue's rate with all its requests busy: this long, and at least
#: this many queries per request in flight (the first round, untimed, warms every request).
_QUEUE_BURST_S = 0.1
_QUEUE_BURST_ROUNDS = 4


class ChunkedSut:
    """LoadGen SUT: runs ``query()`` once per chunk of ``batch_size`` samples of a query.

    Without a queue, every scenario runs the chunks inside LoadGen's issue callback, server
    included. LoadGen times each sample from its query's *scheduled* time, so a query that
    waits while the SUT is busy has that wait in its latency: blocking the issue thread is a
    single-server FIFO queue, measured honestly. A worker thread would add GIL hand-offs
    (measured here: p99 of 180 ms against 0.4 ms at the same QPS for a 12 us model), which
    dwarf a tiny model.

    With a queue, the issue callback submits each chunk and returns; it blocks only while all
    ``n_in_flight`` requests are busy (an N-server FIFO queue, measured as honestly). The
    chunk's samples are completed from the queue's ``on_done``: on the backend's thread as soon
    as they are done (server), or when the queue reuses the request (offline).
    """

    def __init__(self, query: QueryFn, batch_size: int, queue: AsyncQueue | None = None) -> None:
        self._query = query
        self._batch_size = batch_size
        self._queue = queue
        self._error: BaseException | None = None
        #: Submitted chunks not completed yet: token -> their responses. Whoever pops a token
        #: (the queue's callback, or ``_drain`` after a failure) completes it: exactly once.
        self._pending: dict[int, list[Any]] = {}
        self._next_token = 0
        self.n_query_calls = 0
        self.first_issue_ns: int | None = None
        self.last_complete_ns: int | None = None

    def issue(self, samples: list[Any]) -> None:
        """LoadGen's IssueQuery callback."""
        if self.first_issue_ns is None:
            self.first_issue_ns = time.perf_counter_ns()
        size = self._batch_size
        for start in range(0, len(samples), size):
            chunk = samples[start : start + size]
            if self._queue is not None:
                # Built here, on the issue thread, so that the callback only hands them over.
                self._submit([lg.QuerySampleResponse(s.id, 0, 0) for s in chunk])
                continue
            # A short last chunk still runs the full padded batch, as a fixed-batch
            # accelerator would: query() always processes batch_size samples.
            if self._error is None:
                try:
                    self._query()
                    self.n_query_calls += 1
                except Exception as exc:
                    # Re-raised once LoadGen ends; meanwhile complete the samples anyway,
                    # or LoadGen would wait for them forever.
                    self._error = exc
            lg.QuerySamplesComplete([lg.QuerySampleResponse(s.id, 0, 0) for s in chunk])
            self.last_complete_ns = time.perf_counter_ns()

    def _submit(self, responses: list[Any]) -> None:
        """Start one chunk on the queue; after an error, complete it at once without running it."""
        assert self._queue is not None
        token = self._next_token
        self._next_token += 1
        self._pending[token] = responses
        if self._error is not None:  # the queue was drained when the error came
            self._complete(token)
            return
        try:
            self._queue.submit(functools.partial(self._complete, token))
            self.n_query_calls += 1
        except Exception as exc:
            self._error = exc  # re-raised once LoadGen ends, as without a queue
            self._drain()

    def _complete(self, token: int) -> None:
        """The queue's ``on_done`` for one chunk (any thread): hand its samples back to LoadGen."""
        responses = self._pending.pop(token, None)  # atomic: one of callback and drain wins
        if responses is not None:
            lg.QuerySamplesComplete(responses)
            self.last_complete_ns = time.perf_counter_ns()

    def _drain(self) -> None:
        """Wait for the queue, then complete every chunk it did not call back for.

        A failed request may never call back (OpenVINO's does not); LoadGen would wait for its
        samples forever.
        """
        if self._queue is not None:
            try:
                self._queue.wait_all()
            except Exception as exc:
                if self._error is None:
                    self._error = exc
        for token in list(self._pending):
            self._complete(token)

    def flush(self) -> None:
        """LoadGen's FlushQueries callback, after the last query is issued: drain the queue."""
        if self._queue is not None:
            self._drain()

    def __enter__(self) -> ChunkedSut:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._error is not None and exc[0] is None:
            raise self._error


def queue_calls_per_s(queue: AsyncQueue, duration_s: float = _QUEUE_BURST_S) -> float:
    """The rate of queries with all of ``queue``'s requests busy, from a short burst.

    One untimed round of ``n_in_flight`` queries first warms every request; then queries are
    submitted back to back for ``duration_s`` (and at least ``_QUEUE_BURST_ROUNDS`` rounds) and
    the rate is the count over the time to the last completion, as ``benchmark_app`` counts.
    """
    n = queue.n_in_flight
    for _ in range(n):
        queue.submit(noop)
    queue.wait_all()
    perf_counter_ns = time.perf_counter_ns
    start_ns = perf_counter_ns()
    end_ns = start_ns + int(duration_s * 1e9)
    submitted = 0
    while submitted < _QUEUE_BURST_ROUNDS * n or perf_counter_ns() < end_ns:
        queue.submit(noop)
        submitted += 1
    queue.wait_all()
    return submitted / ((perf_counter_ns() - start_ns) * 1e-9)


def start_test(sut: ChunkedSut, test_settings: Any, log_dir: Path) -> None:
    """Run one LoadGen test with its logs written into ``log_dir``."""
    log_settings = lg.LogSettings()
    log_settings.log_output.outdir = str(log_dir)
    log_settings.log_output.copy_summary_to_stdout = False
    log_settings.log_output.copy_detail_to_stdout = False
    # The trace is megabytes per second of run and nothing here reads it.
    log_settings.enable_trace = False
    sut_handle = lg.ConstructSUT(sut.issue, sut.flush)
    qsl_handle = lg.ConstructQSL(_QSL_SAMPLE_COUNT, _QSL_SAMPLE_COUNT, _noop_load, _noop_load)
    try:
        with sut:
            # A stray audit.config in the working directory would silently change the
            # settings (it is meant for compliance audits); point LoadGen at one that does
            # not exist.
            lg.StartTestWithLogSettings(
                sut_handle, qsl_handle, test_settings, log_settings, str(log_dir / "audit.config")
            )
    finally:
        lg.DestroyQSL(qsl_handle)
        lg.DestroySUT(sut_handle)


def _noop_load(_indices: list[int]) -> None:
    """QSL load/unload: the staged batch lives in the runner, nothing to load per sample."""


def noop() -> None:
    """A query that does nothing: only the harness is timed."""
