"""Run a job in a child process with a timeout, so a crashing backend cannot take the run down."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from triggerbench.measure.job import Context, Job
from triggerbench.measure.session import unmeasured_record
from triggerbench.schema import BenchmarkRecord, ErrorInfo, Status

STDERR_TAIL_CHARS = 4000


def run_isolated(ctx: Context, context_dir: Path, job: Job) -> BenchmarkRecord:
    """Measure ``job`` in a child; a child that dies or hangs gives a failed record."""
    with tempfile.TemporaryDirectory(prefix="triggerbench-job-") as tmp:
        job_file, record_file = Path(tmp) / "job.json", Path(tmp) / "record.json"
        job_file.write_text(job.model_dump_json())
        cmd = [
            sys.executable,
            "-m",
            "triggerbench.measure.worker",
            str(context_dir),
            str(job_file),
            str(record_file),
        ]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=job.timeout_s)
        except subprocess.TimeoutExpired as exc:
            stderr = (exc.stderr or b"")[-STDERR_TAIL_CHARS:]
            return unmeasured_record(
                ctx,
                job,
                Status.FAILED,
                ErrorInfo(
                    type="Timeout",
                    message=f"runner did not finish within {job.timeout_s:g} s",
                    stderr=stderr.decode(errors="replace") if isinstance(stderr, bytes) else stderr,
                ),
            )
        if record_file.exists():
            return BenchmarkRecord.model_validate_json(record_file.read_text())
        return unmeasured_record(
            ctx,
            job,
            Status.FAILED,
            ErrorInfo(
                type="WorkerDied",
                message=f"runner process exited with code {proc.returncode} without a record",
                errcode=proc.returncode,
                stderr=proc.stderr[-STDERR_TAIL_CHARS:],
            ),
        )
