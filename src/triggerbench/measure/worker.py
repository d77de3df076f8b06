"""Child process that measures jobs for ``measure.isolate``, over the out-of-process protocol.

It serves ``workers.protocol``, as the VART worker does in its container:
``{"op": "measure", "context_dir": ..., "job": {...}}`` -> ``{"ok": true, "record": {...}}``;
``{"op": "profile", ..., "n_calls": N}`` answers the same way with a per-layer profile record;
``{"op": "close"}`` ends it. Each ``progress.step`` while measuring is sent to the parent as a
progress message before the reply. A backend that crashes or hangs takes only this process
down, and the parent records it as failed.

Usage: ``python -m triggerbench.measure.worker`` (requests on stdin, replies on stdout).
"""

from __future__ import annotations

import ctypes
import os
import signal
from pathlib import Path
from typing import Any, BinaryIO

from triggerbench import progress
from triggerbench.workers import protocol

#: Set by the parent to its pid, so that a child started after the parent died knows to exit.
PARENT_PID_ENV = "TRIGGERBENCH_PARENT_PID"


def measure(request: dict[str, Any]) -> dict[str, Any]:
    """Answer a ``measure`` request (``measure_one`` turns backend failures into failed records)."""
    # Imported here, not at the top: they take seconds (Keras, TensorFlow), and the
    # parent-death signal must be armed before that (see ``die_with_parent``).
    from triggerbench.measure.job import Context, Job
    from triggerbench.measure.session import measure_one

    job = Job.model_validate(request["job"])
    record = measure_one(Context.load(Path(request["context_dir"])), job)
    return {"record": record.model_dump(mode="json")}


def profile(request: dict[str, Any]) -> dict[str, Any]:
    """Answer a ``profile`` request (``profile_one`` turns backend failures into records)."""
    from triggerbench.measure.job import Context, Job
    from triggerbench.measure.profile import DEFAULT_CALLS, profile_one

    job = Job.model_validate(request["job"])
    n_calls = int(request.get("n_calls") or DEFAULT_CALLS)
    record = profile_one(Context.load(Path(request["context_dir"])), job, n_calls)
    return {"record": record.model_dump(mode="json")}


HANDLERS = {"measure": measure, "profile": profile}


def serve(stdin: BinaryIO, channel: BinaryIO) -> None:
    """One reply per request until ``close`` or the end of input; progress sent as it happens."""

    def forward(event: progress.ProgressEvent) -> None:
        protocol.send_progress(channel, event.kind, event.description, event.elapsed_s, event.failed)

    with progress.sink(forward):
        protocol.serve(stdin, channel, HANDLERS, name="runner process")


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
    stdin, channel = protocol.take_stdio()
    with channel:
        serve(stdin, channel)
