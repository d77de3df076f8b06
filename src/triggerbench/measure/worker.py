"""Child process entry: measure one job from a saved context, write the record as JSON.

Usage: ``python -m triggerbench.measure.worker CONTEXT_DIR JOB_JSON RECORD_OUT``
"""

from __future__ import annotations

import sys
from pathlib import Path

from triggerbench.measure.job import Context, Job
from triggerbench.measure.session import measure_one


def main(argv: list[str]) -> int:
    """Run the job; the parent reads the record file (its absence means the child died)."""
    context_dir, job_file, record_out = map(Path, argv)
    job = Job.model_validate_json(job_file.read_text())
    record = measure_one(Context.load(context_dir), job)
    tmp = record_out.with_suffix(".tmp")
    tmp.write_text(record.model_dump_json())
    tmp.replace(record_out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
