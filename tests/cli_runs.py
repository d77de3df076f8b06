"""The ``triggerbench`` command as a user runs it in tests: a subprocess, its exit code and stderr."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

#: The smallest measuring windows ``run`` takes, for tests that check behaviour, not speed.
TINY_WINDOWS = ["--quick", "--set", "min_duration_s=0.05", "--set", "min_query_count=5", "--set", "repeats=1"]


def tb(
    *args: str, cwd: Path | None = None, env: dict | None = None, timeout: float = 600
) -> subprocess.CompletedProcess:
    """Run ``python -m triggerbench.cli ARGS``; output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "triggerbench.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=timeout,
    )


def error_lines(stderr: str) -> list[str]:
    """The ``error:`` lines of a run's stderr; a traceback fails the test."""
    assert "Traceback" not in stderr, stderr
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def one_line_error(proc: subprocess.CompletedProcess, message: str) -> None:
    """Exit 2 with exactly one ``error:`` line holding ``message``, and no traceback."""
    assert proc.returncode == 2, proc.stderr
    lines = error_lines(proc.stderr)
    assert len(lines) == 1 and message in lines[0], proc.stderr
