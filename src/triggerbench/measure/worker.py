"""Child process that measures jobs for ``measure.isolate``, over the out-of-process protocol.

It is served by the worker side of the protocol that the VART worker has
(``workers.vart_worker.serve``): ``{"op": "measure", "context_dir": ..., "job": {...}}`` ->
``{"ok": true, "record": {...}}``; ``{"op": "close"}`` ends it. A backend that crashes or hangs
takes only this process down, and the parent records it as failed.

Usage: ``python -m triggerbench.measure.worker`` (requests on stdin, replies on stdout).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from pathlib import Path
from typing import Any, BinaryIO

from triggerbench.workers import vart_worker

#: Set by the parent to its pid, so that a child started after the parent died knows to exit.
PARENT_PID_ENV = "TRIGGERBENCH_PARENT_PID"


class MeasureWorker:
    """Answers ``measure`` requests (``measure_one`` turns backend failures into failed records)."""

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        """One reply per request; an unknown op raises (answered as an error by ``serve``)."""
        op = request.get("op")
        if op == "close":
            return {}
        if op != "measure":
            raise ValueError(f"unknown op {op!r}")
        # Imported here, not at the top: they take seconds (Keras, TensorFlow), and the
        # parent-death signal must be armed before that (see ``die_with_parent``).
        from triggerbench.measure.job import Context, Job
        from triggerbench.measure.session import measure_one

        job = Job.model_validate(request["job"])
        record = measure_one(Context.load(Path(request["context_dir"])), job)
        return {"record": record.model_dump(mode="json")}


def serve(stdin: BinaryIO, channel: BinaryIO) -> None:
    """One reply per request until ``close`` or the end of input."""
    vart_worker.serve(stdin, channel, MeasureWorker())


#: prctl(2) option: the signal this process gets when its parent dies (Linux).
_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Have Linux kill this process when the parent dies, even by SIGKILL (else a no-op).

    A parent that is killed outright cannot kill its child; without this the child would be
    orphaned and measure on, or hang forever in a stuck backend.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux
        return
    expected = os.environ.get(PARENT_PID_ENV)
    if expected and os.getppid() != int(expected):  # the parent died before prctl took effect
        os._exit(1)


if __name__ == "__main__":
    die_with_parent()
    sys.exit(vart_worker.main(MeasureWorker()))
