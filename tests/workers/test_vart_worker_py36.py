"""The files that run in the Vitis AI 1.4.1 container must run on its Python 3.6.

vermin checks them statically (the worker, the protocol beside it, whose version check is the
handshake, the preparation script and the test doubles); where a Python 3.6 with numpy exists (pyenv, or
``$TRIGGERBENCH_PY36``), the worker and the script's input checks also run on it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).parents[2]
WORKER = ROOT / "src/triggerbench/workers/vart_worker.py"
PROTOCOL = ROOT / "src/triggerbench/workers/protocol.py"
PY36_FILES = [
    WORKER,
    PROTOCOL,
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


def test_the_protocol_version_check_is_in_the_36_check():
    assert PROTOCOL in PY36_FILES and "PROTOCOL_VERSION = " in PROTOCOL.read_text()


@pytest.mark.parametrize("path", [WORKER, PROTOCOL], ids=lambda p: p.name)
def test_the_container_files_import_nothing_from_triggerbench(path):
    # they are copied, side by side, into the container: only the standard library and numpy
    source = path.read_text()
    assert "triggerbench" not in "".join(
        line.strip() + "\n" for line in source.splitlines() if line.strip().startswith(("import ", "from "))
    )


def _python36() -> str:
    """A Python 3.6 with numpy ($TRIGGERBENCH_PY36, python3.6 on PATH, or pyenv's), else skip."""
    candidates = [os.environ.get("TRIGGERBENCH_PY36"), shutil.which("python3.6")]
    candidates += sorted(str(p) for p in Path.home().glob(".pyenv/versions/3.6*/bin/python"))
    for python in filter(None, candidates):
        probe = subprocess.run([python, "-c", "import numpy"], capture_output=True, check=False)
        if probe.returncode == 0:
            return python
    pytest.skip("no Python 3.6 with numpy here (set TRIGGERBENCH_PY36)")


def test_the_worker_runs_on_python_36(tmp_path, monkeypatch):
    """The real check behind vermin's: the worker and the double on a 3.6 interpreter."""
    from triggerbench.errors import RunnerError
    from triggerbench.models.artifact import ModelArtifact
    from triggerbench.runners.base import RunnerOptions
    from triggerbench.runners.vart import VartRunner

    python = _python36()
    weights = np.array([[1, -2, 3, -4, 5, -6], [7, 0, -1, 2, 2, 1]])
    dpu = {
        "name": "dpu",
        "device": "DPU",
        "inputs": [{"name": "i", "dims": [4, 2, 3], "dtype": "xint8", "fix_point": 4}],
        "outputs": [{"name": "o", "dims": [4, 2], "dtype": "xint8", "fix_point": 2}],
        "weights": weights.tolist(),
        "shift": 3,
    }
    xmodel = tmp_path / "m.xmodel"
    xmodel.write_text(json.dumps({"subgraphs": [dpu]}))
    cpu_only = tmp_path / "cpu.xmodel"
    cpu_only.write_text(json.dumps({"subgraphs": [{"name": "softmax", "device": "CPU"}]}))
    artifact = ModelArtifact("m", "keras", {"keras": xmodel}, (2, 3), (2,), None, {"keras": "0" * 64})
    monkeypatch.setenv("PYTHONPATH", str(ROOT / "tests" / "doubles"))
    monkeypatch.setenv("TRIGGERBENCH_VART_WORKER", f"{python} {WORKER}")

    x = np.random.default_rng(3).normal(size=(7, 2, 3)).astype(np.float32) * 3
    with VartRunner() as runner:
        runner.prepare(artifact, RunnerOptions(batch_size=7, extra={"xmodel": str(xmodel), "n_runners": 2}))
        out = runner.infer(runner.stage(x))
        assert runner.describe().settings["worker_python"].startswith("3.6.")
    q = np.clip(np.round(x.reshape(7, -1) * 16), -128, 127)
    want = np.clip(np.floor(q @ weights.T / 8 + 0.5), -128, 127) / 4
    np.testing.assert_array_equal(out, want.astype(np.float32))
    with pytest.raises(RunnerError, match="xmodel has no DPU subgraph"):
        VartRunner().prepare(artifact, RunnerOptions(extra={"xmodel": str(cpu_only)}))


def test_the_preparation_script_runs_on_python_36_up_to_tensorflow(tmp_path):
    # Before importing TensorFlow the script checks its inputs: run that part on 3.6 for real.
    python = _python36()
    (tmp_path / "model.json").write_text(
        json.dumps(
            {
                "format": "triggerbench-legacy-keras",
                "version": 1,
                "input_shape": [9, 16, 1],
                "calibration": {"file": "calibration.npy"},
            }
        )
    )
    np.save(tmp_path / "calibration.npy", np.zeros((5, 16, 9, 1), np.float32))
    result = subprocess.run(
        [python, str(ROOT / "scripts/vitis_ai/prepare_xmodel.py"), str(tmp_path), "--skip-compile"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr == (
        "prepare_xmodel: error: calibration set has shape [5, 16, 9, 1]; the model needs (events, 9, 16, 1)\n"
    )
