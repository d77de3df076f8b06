"""Termination signals as an exception, so an interrupted run unwinds like Ctrl-C does.

Python turns only SIGINT into ``KeyboardInterrupt``; SIGTERM (``kill``, a batch system's
time limit) and SIGHUP (a closed ssh session) end the process at once, leaving the runner
child measuring and the temp folders behind. Inside :func:`signals_interrupt` all three raise
:class:`Interrupted`, whose unwinding kills the child and removes temp folders (``finally`` and
context managers), while the records already written stay.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

#: The signals that stop a run: Ctrl-C, kill / a batch system's limit, a closed terminal.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupted(KeyboardInterrupt):
    """A stop signal arrived; a ``KeyboardInterrupt`` so that ``except Exception`` lets it pass."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def signal_name(self) -> str:
        """``SIGTERM``."""
        return signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        """128 + the signal number, as a shell reports a process its signal ended (130, 143)."""
        return 128 + self.signum


@contextmanager
def signals_interrupt() -> Iterator[None]:
    """Within the block, a stop signal raises :class:`Interrupted`.

    It is raised once: repeats are ignored while the unwinding cleans up.
    A signal already ignored stays ignored (``nohup`` ignores SIGHUP, a shell's ``&`` SIGINT).
    Outside the main thread signals cannot be caught: a no-op there.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def raise_interrupted(signum: int, frame: object) -> None:
        for s in previous:  # a second Ctrl-C must not cut the cleanup short
            signal.signal(s, signal.SIG_IGN)
        raise Interrupted(signum)

    caught = [s for s in STOP_SIGNALS if signal.getsignal(s) is not signal.SIG_IGN]
    previous = {s: signal.signal(s, raise_interrupted) for s in caught}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
