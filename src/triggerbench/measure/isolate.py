"""Run a job in a child process with a timeout, so a crashing backend cannot take the run down."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from triggerbench import progress
from triggerbench.errors import RunnerError
from triggerbench.measure.job import Context, Job
from triggerbench.measure.profile import not_profilable, unprofiled_record
from triggerbench.measure.session import not_measurable, runner_options_for, unmeasured_record
from triggerbench.measure.worker import PARENT_PID_ENV
from triggerbench.runners import registry
from triggerbench.runners.outofprocess import (
    WorkerDiedError,
    WorkerProcess,
    WorkerTimeoutError,
    describe_exit,
)
from triggerbench.schema import BenchmarkRecord, ErrorInfo, Status


def worker_command() -> list[str]:
    """The child's command line: ``-P`` keeps the current folder off ``sys.path``.

    Without it a ``numpy.py`` or ``pydantic.py`` in the folder where the user runs
    triggerbench would be imported, and run, by every child. ``-I`` would also drop the user's
    site-packages and ``PYTHONPATH``, where triggerbench itself may be installed.
    """
    return [sys.executable, "-P", "-m", "triggerbench.measure.worker"]


def _runner_env(job: Job) -> dict[str, str]:
    """What the job's runner needs set before its child imports anything (``Runner.child_env``)."""
    try:
        return registry.get(job.runner).child_env(runner_options_for(job.runner, job.runner_options))
    except Exception:  # a runner that cannot load fails in the child, with the reason recorded
        return {}


#: What each op of the child does before it starts (the record of a job that cannot start)
#: and how it records a child that failed; ``measure.worker.HANDLERS`` answers the op itself.
_OPS = {
    "measure": (not_measurable, unmeasured_record),
    "profile": (not_profilable, unprofiled_record),
}


def run_isolated(
    ctx: Context,
    context_dir: Path,
    job: Job,
    on_progress: Callable[[progress.ProgressEvent], None] | None = None,
    op: Literal["measure", "profile"] = "measure",
    **request: Any,
) -> BenchmarkRecord:
    """Measure (or, with ``op="profile"``, profile) ``job`` in a child worker.

    A child that dies or hangs gives a failed record. The child speaks the out-of-process
    protocol (``workers.protocol``), the same one the VART worker speaks in its container.
    Each ``progress.step`` in the child is handed to ``on_progress`` while the job runs; None
    hands it to this process's sink (``progress.emit``), so the child's steps reach it as this
    process's own would. ``request``: the op's further fields (``n_calls`` for a profile).
    """
    precheck, failed_record = _OPS[op]
    if (record := precheck(ctx, job)) is not None:
        return record  # a runner that cannot start costs no process
    # The child's temp files go in a folder removed here, even when the child is killed.
    child_tmp = tempfile.mkdtemp(prefix="triggerbench-child-", dir=context_dir.parent)
    worker = WorkerProcess(
        worker_command(),
        timeout_s=job.timeout_s,
        env={**os.environ, **_runner_env(job), "TMPDIR": child_tmp, PARENT_PID_ENV: str(os.getpid())},
        name="runner process",
    )
    try:
        worker.start()
        worker.hello(timeout_s=job.timeout_s)
        reply = worker.request(
            op,
            **request,
            context_dir=str(context_dir),
            job=job.model_dump(mode="json"),
            timeout_s=job.timeout_s,
            on_progress=progress.emit if on_progress is None else on_progress,
        )
        return BenchmarkRecord.model_validate(reply["record"])
    except WorkerTimeoutError as exc:
        message = f"runner did not finish within {job.timeout_s:g} s"
        error = ErrorInfo(type="Timeout", message=message, stderr=exc.stderr_tail)
    except WorkerDiedError as exc:
        error = ErrorInfo(
            type="WorkerDied",
            message=f"runner process {describe_exit(exc.exit_code)} without a record",
            errcode=exc.exit_code,
            stderr=exc.stderr_tail,
        )
    except RunnerError as exc:  # the worker answered with an error (e.g. a context it cannot load)
        error = ErrorInfo(type="WorkerError", message=str(exc), stderr=worker.stderr_tail())
    except BaseException:  # interrupted (Ctrl-C, SIGTERM): a busy child cannot be asked to close
        worker.kill()
        raise
    finally:
        worker.close(grace_s=2.0)
        shutil.rmtree(child_tmp, ignore_errors=True)
    return failed_record(ctx, job, Status.FAILED, error)
