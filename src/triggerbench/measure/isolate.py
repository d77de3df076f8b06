"""Run a job in a child process with a timeout, so a crashing backend cannot take the run down."""

from __future__ import annotations

import sys
from pathlib import Path

from triggerbench.errors import RunnerError
from triggerbench.measure.job import Context, Job
from triggerbench.measure.session import unmeasured_record
from triggerbench.runners.outofprocess import WorkerDiedError, WorkerProcess, WorkerTimeoutError
from triggerbench.schema import BenchmarkRecord, ErrorInfo, Status


def run_isolated(ctx: Context, context_dir: Path, job: Job) -> BenchmarkRecord:
    """Measure ``job`` in a child worker; a child that dies or hangs gives a failed record.

    The child speaks the out-of-process protocol (``runners.outofprocess``), the same one the
    VART worker speaks in its container.
    """
    worker = WorkerProcess(
        [sys.executable, "-m", "triggerbench.measure.worker"], timeout_s=job.timeout_s, name="runner process"
    )
    try:
        worker.start()
        reply = worker.request(
            "measure", context_dir=str(context_dir), job=job.model_dump(mode="json"), timeout_s=job.timeout_s
        )
        return BenchmarkRecord.model_validate(reply["record"])
    except WorkerTimeoutError as exc:
        message = f"runner did not finish within {job.timeout_s:g} s"
        error = ErrorInfo(type="Timeout", message=message, stderr=exc.stderr_tail)
    except WorkerDiedError as exc:
        error = ErrorInfo(
            type="WorkerDied",
            message=f"runner process exited with code {exc.exit_code} without a record",
            errcode=exc.exit_code,
            stderr=exc.stderr_tail,
        )
    except RunnerError as exc:  # the worker answered with an error (e.g. a context it cannot load)
        error = ErrorInfo(type="WorkerError", message=str(exc), stderr=worker.stderr_tail())
    finally:
        worker.close(grace_s=2.0)
    return unmeasured_record(ctx, job, Status.FAILED, error)
