"""Progress events: what a long step (a compile, a build, an export) is doing, for whoever shows it.

Code anywhere wraps a long step in ``step``; whoever displays progress (the CLI's status line)
installs a sink, which receives a ``ProgressEvent`` when each step starts and ends. With no sink
installed ``step`` does nothing. A measurement child forwards its events to the parent over the
out-of-process protocol (``measure.worker``, ``measure.isolate.run_isolated``), so a step in the
child reaches the parent's sink as one in the parent would.

Example::

    with progress.step("building the Verilator model"):
        build()

    with progress.sink(lambda event: print(event.kind, event.description)):
        run()
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Literal, NamedTuple


class ProgressEvent(NamedTuple):
    """A step started (``kind="start"``) or ended (``kind="end"``)."""

    kind: Literal["start", "end"]
    #: What the step does, as a status line shows it: "compiling the hls4ml firmware".
    description: str
    #: Seconds since the step started (0 at the start).
    elapsed_s: float = 0.0
    #: The step ended by an exception.
    failed: bool = False


Sink = Callable[[ProgressEvent], None]

#: One sink for the whole process, not per thread: steps in worker threads must reach it too.
_sink: Sink | None = None
_NO_STEP: AbstractContextManager[None] = contextlib.nullcontext()


def set_sink(new: Sink | None) -> Sink | None:
    """Install ``new`` (None: none) as the receiver of every event; the previous one is returned."""
    global _sink
    previous, _sink = _sink, new
    return previous


@contextlib.contextmanager
def sink(new: Sink | None) -> Iterator[None]:
    """Install ``new`` for the ``with`` block, then put the previous sink back."""
    previous = set_sink(new)
    try:
        yield
    finally:
        set_sink(previous)


def emit(event: ProgressEvent) -> None:
    """Hand ``event`` to the installed sink (no sink: dropped), e.g. one forwarded from a child."""
    current = _sink
    if current is not None:
        current(event)


def step(description: str) -> AbstractContextManager[None]:
    """Report the ``with`` block as a step: a ``start`` event, then an ``end`` (even on an error).

    Without a sink it is a shared do-nothing context: cheap enough for any step worth naming.
    """
    current = _sink
    if current is None:
        return _NO_STEP
    return _step(current, description)


@contextlib.contextmanager
def _step(current: Sink, description: str) -> Iterator[None]:
    # The end goes to the sink that saw the start, even if another was installed meanwhile.
    t0 = time.perf_counter()
    current(ProgressEvent("start", description))
    try:
        yield
    except BaseException:
        current(ProgressEvent("end", description, time.perf_counter() - t0, failed=True))
        raise
    current(ProgressEvent("end", description, time.perf_counter() - t0))
