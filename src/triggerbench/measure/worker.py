"""Child process that measures jobs for ``measure.isolate``, over the out-of-process protocol.

It is served by the worker side of the protocol that the VART worker has
(``workers.vart_worker.serve``): ``{"op": "measure", "context_dir": ..., "job": {...}}`` ->
``{"ok": true, "record": {...}}``; ``{"op": "close"}`` ends it. A backend that crashes or hangs
takes only this process down, and the parent records it as failed.

Usage: ``python -m triggerbench.measure.worker`` (requests on stdin, replies on stdout).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, BinaryIO

from triggerbench.measure.job import Context, Job
from triggerbench.measure.session import measure_one
from triggerbench.workers import vart_worker


class MeasureWorker:
    """Answers ``measure`` requests (``measure_one`` turns backend failures into failed records)."""

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        """One reply per request; an unknown op raises (answered as an error by ``serve``)."""
        op = request.get("op")
        if op == "close":
            return {}
        if op != "measure":
            raise ValueError(f"unknown op {op!r}")
        job = Job.model_validate(request["job"])
        record = measure_one(Context.load(Path(request["context_dir"])), job)
        return {"record": record.model_dump(mode="json")}


def serve(stdin: BinaryIO, channel: BinaryIO) -> None:
    """One reply per request until ``close`` or the end of input."""
    vart_worker.serve(stdin, channel, MeasureWorker())


if __name__ == "__main__":
    sys.exit(vart_worker.main(MeasureWorker()))
