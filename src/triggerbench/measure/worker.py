"""Child process that measures jobs for ``measure.isolate``, over the out-of-process protocol.

It speaks the JSON-lines protocol of ``runners.outofprocess`` (the one the VART worker speaks):
``{"op": "measure", "context_dir": ..., "job": {...}}`` -> ``{"ok": true, "record": {...}}``;
``{"op": "close"}`` ends it. A backend that crashes or hangs takes only this process down, and
the parent records it as failed.

Usage: ``python -m triggerbench.measure.worker`` (requests on stdin, replies on stdout).
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any, BinaryIO

from triggerbench.measure.job import Context, Job
from triggerbench.measure.session import measure_one
from triggerbench.runners.base import one_line
from triggerbench.runners.outofprocess import encode_message


def handle(request: dict[str, Any]) -> dict[str, Any]:
    """Answer one request (``measure_one`` turns backend failures into failed records itself)."""
    op = request.get("op")
    if op == "close":
        return {}
    if op != "measure":
        raise ValueError(f"unknown op {op!r}")
    job = Job.model_validate(request["job"])
    record = measure_one(Context.load(Path(request["context_dir"])), job)
    return {"record": record.model_dump(mode="json")}


def serve(stdin: BinaryIO, channel: BinaryIO) -> None:
    """One reply per request line until ``close`` or the end of input."""
    for line in stdin:
        op = None
        try:
            request = json.loads(line)
            op = request.get("op")
            reply = {"ok": True, **handle(request)}
        except Exception as exc:  # answered, not fatal: the parent records the reason
            traceback.print_exc(file=sys.stderr)
            message = one_line(exc).removeprefix(f"{type(exc).__name__}: ")  # the type has its own field
            reply = {"ok": False, "error": {"type": type(exc).__name__, "message": message}}
        channel.write(encode_message(reply))
        channel.flush()
        if op == "close":
            break


def main() -> int:
    """Serve on a private copy of stdout: TensorFlow and vendor libraries print to fd 1."""
    channel = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    try:
        serve(sys.stdin.buffer, channel)
    finally:
        channel.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
