"""The files that run in the Vitis AI 1.4.1 container must run on its Python 3.6."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
PY36_FILES = [
    ROOT / "src/triggerbench/workers/vart_worker.py",
    ROOT / "scripts/vitis_ai/prepare_xmodel.py",
    ROOT / "tests/doubles/xir.py",
    ROOT / "tests/doubles/vart.py",
]


def _vermin() -> str:
    found = shutil.which("vermin") or str(Path(sys.executable).with_name("vermin"))
    if not Path(found).exists():
        pytest.skip("vermin is not installed")
    return found


@pytest.mark.parametrize("path", PY36_FILES, ids=lambda p: p.name)
def test_vermin_finds_nothing_newer_than_python_36(path):
    result = subprocess.run(
        [_vermin(), "-t=3.6-", "--no-tips", "--violations", "--no-parse-comments", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_vermin_would_catch_a_37_feature(tmp_path):
    # the check is real: a module using 3.7+ syntax/API fails it
    newer = tmp_path / "newer.py"
    newer.write_text("import dataclasses\nx = 1\nprint(f'{x=}')\n")
    result = subprocess.run(
        [_vermin(), "-t=3.6-", "--no-tips", "--violations", str(newer)], capture_output=True, check=False
    )
    assert result.returncode != 0


def test_the_worker_imports_nothing_from_triggerbench():
    # it is copied alone into the container: only the standard library and numpy
    source = PY36_FILES[0].read_text()
    assert "triggerbench" not in "".join(
        line for line in source.splitlines(keepends=True) if line.startswith(("import ", "from "))
    )
