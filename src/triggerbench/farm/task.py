"""What a Dask worker runs for one farm job: the measurement in the isolated child, as JSON text.

The workload's context is built once per worker process, on its first job.

Only strings cross the wire both ways (the job and the record as JSON): the driver validates the
record against the schema on arrival, whatever the peer sent.
"""

from __future__ import annotations

import functools
import tempfile
import threading
from pathlib import Path

from triggerbench.measure.isolate import run_isolated
from triggerbench.measure.job import Context, Job, build_context
from triggerbench.measure.settings import MeasureSettings

#: Builds are serialised: a worker with a thread per device would otherwise build one workload
#: twice at once (two jobs of it on the CPU and the GPU).
_build_lock = threading.Lock()


def _scratch_dir() -> Path:
    """The worker's own folder (removed with the worker), else a temp folder outside Dask."""
    try:
        from distributed import get_worker

        return Path(get_worker().local_directory)
    except ValueError:  # not in a Dask worker (a direct call)
        return Path(tempfile.mkdtemp(prefix="triggerbench-farm-"))


@functools.lru_cache(maxsize=16)
def _context(workload: str, settings_json: str) -> tuple[Context, Path]:
    # Keyed by the settings too: the validation samples and their seed come from them.
    settings = MeasureSettings.model_validate_json(settings_json)
    ctx = build_context(settings, workload=workload)
    folder = Path(tempfile.mkdtemp(prefix="context-", dir=_scratch_dir()))
    return ctx, ctx.save(folder / workload)


def context_for(workload: str, settings: MeasureSettings) -> tuple[Context, Path]:
    """The workload's context and its saved folder, built on the first job of it in this process."""
    with _build_lock:
        return _context(workload, settings.model_dump_json())


@functools.lru_cache(maxsize=16)
def _shared(context_dir: str) -> tuple[Context, Path]:
    return Context.load(Path(context_dir)), Path(context_dir)


def measure_job(workload: str, job_json: str, context_dir: str | None = None) -> str:
    """Measure one job in its own child process (with its timeout); return the record as JSON.

    ``context_dir``: the workload's context as the driver saved it on a filesystem this worker
    reads (``farm.contexts``); None: built here, once per worker process. A child that crashes
    or hangs gives a failed record (``run_isolated``); only the death of this worker process
    itself loses the job, and Dask then runs it again elsewhere.
    """
    job = Job.model_validate_json(job_json)
    if context_dir is not None:
        with _build_lock:
            ctx, ctx_dir = _shared(context_dir)
    else:
        ctx, ctx_dir = context_for(workload, job.settings)
    # LoadGen's logs stay on the worker: the driver's output folder is not on this host.
    job = job.model_copy(update={"out_dir": _scratch_dir() / "logs"})
    record = run_isolated(ctx, ctx_dir, job, on_progress=lambda event: None)
    return record.model_dump_json()
