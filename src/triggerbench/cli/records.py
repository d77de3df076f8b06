"""Writing records as they arrive, for the commands that measure (run, profile, farm run)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from triggerbench.errors import ResultsWriteError
from triggerbench.schema import BenchmarkRecord


@dataclass
class RunState:
    """What a run has done so far, for the message when it stops early."""

    out_dir: Path
    n_jobs: int
    written: int = 0
    doing: str = "starting"

    def summary(self) -> str:
        """How many records were written, and how many of the planned ones were not."""
        not_run = self.n_jobs - self.written
        return f"{self.written} record(s) written to {self.out_dir}" + (
            f"; {not_run} of {self.n_jobs} measurement(s) not recorded" if not_run else ""
        )


def write_or_stop(record: BenchmarkRecord, state: RunState) -> None:
    """Write a measured record; if that fails, keep it elsewhere and stop the run in one line."""
    # Here, not at the top: the store imports pandas, which `triggerbench list` does not need.
    from triggerbench.results.store import save_unwritten, write_record

    try:
        write_record(record, state.out_dir)
    except OSError as exc:
        kept = save_unwritten(record)
        if kept is None:  # the temp folder is no better: the record goes to stderr as JSON
            sys.stderr.write(record.model_dump_json() + "\n")
        where = f"saved in {kept}" if kept else "printed above as JSON"
        raise ResultsWriteError(
            f"cannot write a record to {state.out_dir}: {exc.strerror or exc}; "
            f"the run stopped: {state.summary()}; the record just measured is {where}"
        ) from None
    state.written += 1
