"""An ``AsyncQueue`` of N worker threads, for a backend whose synchronous call releases the GIL.

ONNX Runtime's ``run_with_iobinding`` is thread-safe and runs without the GIL, so N threads,
each calling it on an IOBinding of its own, keep N requests in flight on one session.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence

from triggerbench.errors import RunnerError
from triggerbench.runners.base import AsyncQueue, one_line


class ThreadedQueue(AsyncQueue):
    """One worker thread per ``runs[i]`` (a query on buffers of its own), ``n_in_flight = len(runs)``.

    ``submit`` waits while all N are busy, then hands ``on_done`` to an idle worker, which
    runs its query and calls ``on_done`` on its own thread as soon as the query returns: always
    promptly, whatever ``prompt`` asked (a worker holds the GIL for the call anyway). A query or
    an ``on_done`` that raises is not called back for; its error is kept, and raised (as a
    ``RunnerError``) by every later ``submit`` and by ``wait_all``. ``close`` lets the queued
    queries finish and joins the threads.
    """

    def __init__(self, runs: Sequence[Callable[[], object]], runner: str) -> None:
        self.n_in_flight = len(runs)
        self._runner = runner
        self._jobs: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._cond = threading.Condition()
        self._busy = 0  # submitted and not finished
        self._error: BaseException | None = None
        self._threads = [
            threading.Thread(target=self._work, args=(run,), name=f"{runner}-request-{i}", daemon=True)
            for i, run in enumerate(runs)
        ]
        for thread in self._threads:
            thread.start()

    def _work(self, run: Callable[[], object]) -> None:
        while (on_done := self._jobs.get()) is not None:
            error = None
            try:
                run()
            except BaseException as exc:
                error = exc if isinstance(exc, RunnerError) else self._wrap("inference failed", exc)
            else:
                try:
                    on_done()
                except BaseException as exc:
                    error = self._wrap("completion callback failed", exc)
            with self._cond:
                if error is not None and self._error is None:
                    self._error = error
                self._busy -= 1
                self._cond.notify_all()

    def _wrap(self, what: str, exc: BaseException) -> RunnerError:
        error = RunnerError(f"{self._runner} runner: {what}: {one_line(exc)}")
        error.__cause__ = exc
        return error

    def _raise_error(self) -> None:  # with self._cond held
        if self._error is not None:
            raise RunnerError(str(self._error)) from self._error

    def submit(self, on_done: Callable[[], None]) -> None:
        """Hand one query to an idle worker (waits while all are busy)."""
        with self._cond:
            self._raise_error()
            if not self._threads:
                raise RunnerError(f"{self._runner} runner: submit() on a closed queue")
            while self._busy >= self.n_in_flight:
                self._cond.wait()
            self._raise_error()  # a query that failed while this waited
            self._busy += 1
        self._jobs.put(on_done)

    def wait_all(self) -> None:
        """Wait until no query is in flight; raise the error one had."""
        with self._cond:
            while self._busy:
                self._cond.wait()
            self._raise_error()

    def close(self) -> None:
        """Let the queued queries finish, then stop and join the workers."""
        for _ in self._threads:
            self._jobs.put(None)
        for thread in self._threads:
            thread.join()
        self._threads = []
