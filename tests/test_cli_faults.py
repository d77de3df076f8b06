"""Faults a run meets after it has started: a full disk, stop signals, a killed child, a hostile folder.

Each promise here is README's: nothing measured is lost, the child never outlives the run, no
temp folder is left behind, and nothing in the folder where the user runs triggerbench executes.
"""

import errno
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from cli_runs import error_lines, tb

from triggerbench import cli
from triggerbench.results import load
from triggerbench.schema import BenchmarkRecord

TB = [sys.executable, "-m", "triggerbench.cli"]


# --- a full or failing output folder ------------------------------------------------------------


@pytest.fixture
def tmpfs(tmp_path):
    """Mount a small tmpfs; skipped where mounting is not allowed (not root, no CAP_SYS_ADMIN)."""
    mounted: list[Path] = []

    def mount(size: str) -> Path:
        where = tmp_path / f"tmpfs-{len(mounted)}"
        where.mkdir()
        proc = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True
        )
        if proc.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.decode().strip()}")
        mounted.append(where)
        return where

    if shutil.which("mount") is None:
        pytest.skip("no mount command")
    yield mount
    for where in mounted:
        subprocess.run(["umount", str(where)], check=False)


def test_a_full_output_folder_is_refused_before_measuring(tmp_path, tmpfs):
    full = tmpfs("64k")
    proc = tb(
        "run", "--workload", "standin-cnn", "--runner", "null", "--quick", "--out", str(full), cwd=tmp_path
    )
    assert proc.returncode == 2, proc.stderr
    [line] = error_lines(proc.stderr)
    assert f"output directory {full} has only" in line and "KiB free" in line
    assert "preparing" not in proc.stdout  # refused before any model was loaded
    assert list(full.iterdir()) == []


def test_a_disk_that_fills_while_measuring_stops_the_run_and_keeps_the_record(tmp_path, tmpfs):
    out = tmpfs("2m")  # passes the probe; the runner fills it before the record is written
    env = {**os.environ, "TRIGGERBENCH_TEST_FILL": str(out / "filler.bin"), "TMPDIR": str(tmp_path)}
    proc = tb(
        "run", "--workload", "standin-cnn", "--runner", "fake_runners:DiskFillingRunner", "--batch", "1,2",
        "--quick", "--out", str(out), cwd=tmp_path, env=env,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    [line] = error_lines(proc.stderr)
    assert "cannot write a record to" in line and "No space left on device" in line
    assert "0 record(s) written" in line and "2 of 2 measurement(s) not recorded" in line
    kept = Path(line.split("the record just measured is saved in ")[1])
    assert kept.parent == tmp_path
    record = BenchmarkRecord.model_validate_json(kept.read_text())
    assert record.runner.name == "fake_runners:DiskFillingRunner" and record.runner.batch_size == 1
    assert [p.name for p in out.iterdir()] == ["filler.bin"]  # no half-written record


def test_a_failing_write_names_where_the_record_went(tmp_path, monkeypatch, capsys):
    """The same path without a tmpfs: any OSError from the write, in-process (runs everywhere)."""
    from triggerbench.results import store

    def no_space(path, text):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(store, "atomic_write_text", no_space)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    argv = ["run", "--workload", "standin-cnn", "--runner", "null", "--quick", "--out", "res", "--no-isolate"]
    monkeypatch.setattr(sys, "argv", ["triggerbench", *argv])
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    assert exit_.value.code == 2
    [line] = error_lines(capsys.readouterr().err)
    assert "cannot write a record to res: No space left on device; the run stopped: 0 record(s)" in line
    kept = Path(line.split("saved in ")[1])
    assert BenchmarkRecord.model_validate_json(kept.read_text()).runner.name == "null"


def test_a_model_file_name_too_long_for_a_record_name_still_writes_the_record(tmp_path, standin_ctx):
    model = tmp_path / ("m" * 230 + ".onnx")
    shutil.copy(standin_ctx.artifact.path("onnx"), model)
    proc = tb("run", "--model", str(model), "--runner", "null", "--quick", "--out", "res", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    [written] = (tmp_path / "res").iterdir()
    assert len(written.name.encode()) <= 200
    assert load([written])["workload.name"].tolist() == ["m" * 230]


# --- stop signals -------------------------------------------------------------------------------


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(c) for c in text.split()]


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has ended; only its parent's wait is missing


def wait_for(condition, timeout_s: float = 300.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def start_hanging_run(tmp_path: Path) -> tuple[subprocess.Popen, int]:
    """A run whose first job finishes and whose second hangs; returns it and the hung child."""
    if not Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").exists():
        pytest.skip("needs Linux /proc/PID/task/TID/children")
    (tmp_path / "tmp").mkdir()
    env = {**os.environ, "TMPDIR": str(tmp_path / "tmp")}
    argv = [
        "run",
        "--workload",
        "standin-cnn",
        "--runner",
        "null,fake_runners:HangingRunner",
        "--quick",
        "--out",
        "res",
    ]
    proc = subprocess.Popen(
        [*TB, *argv], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    res = tmp_path / "res"
    wait_for(
        lambda: res.is_dir() and any(res.glob("*.json")) or proc.poll() is not None, what="the first record"
    )
    wait_for(lambda: children(proc.pid) or proc.poll() is not None, what="the second job's child")
    assert proc.poll() is None, proc.communicate()
    [child] = children(proc.pid)  # wherever it is (starting, preparing), it must go with the run
    return proc, child


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_stop_signal_kills_the_child_removes_temp_folders_and_keeps_finished_records(
    tmp_path, signum, code
):
    proc, child = start_hanging_run(tmp_path)
    proc.send_signal(signum)  # to the parent only: it must stop the child itself
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert "Traceback" not in err
    name = signal.Signals(signum).name
    doing = "measuring standin-cnn on fake_runners:HangingRunner (single-stream, batch 1)"
    done = "1 record(s) written to res; 1 of 2 measurement(s) not recorded"
    assert f"interrupted by {name} while {doing}; {done}" in " ".join(err.split())
    wait_for(lambda: not alive(child), timeout_s=120, what="the child to end")
    assert list((tmp_path / "tmp").iterdir()) == []  # context and child temp folders removed
    assert load([tmp_path / "res"])["runner.name"].tolist() == ["null"]
    assert "null" in out  # the finished measurement's summary row is shown


def test_a_killed_parent_takes_its_child_with_it(tmp_path):
    if sys.platform != "linux":
        pytest.skip("the child dies with its parent through Linux's PR_SET_PDEATHSIG")
    proc, child = start_hanging_run(tmp_path)
    proc.kill()  # SIGKILL: no cleanup can run in the parent
    proc.communicate(timeout=60)
    wait_for(lambda: not alive(child), timeout_s=120, what="the orphaned child to end")


def test_a_child_killed_by_a_signal_is_reported_by_the_signal_s_name(tmp_path):
    proc = tb(
        "run",
        "--workload",
        "standin-cnn",
        "--runner",
        "fake_runners:KilledRunner",
        "--quick",
        "--out",
        "res",
        cwd=tmp_path,
    )
    assert proc.returncode == 1, proc.stderr
    [message] = load([tmp_path / "res"])["error.message"].tolist()
    assert message == "runner process killed by signal 9 (SIGKILL) without a record"


# --- nothing from the working folder runs -------------------------------------------------------


def test_modules_in_the_working_folder_do_not_run_in_the_runner_child(tmp_path):
    marker = tmp_path / "shadowed"
    for module in ("pydantic", "numpy", "triggerbench"):
        (tmp_path / f"{module}.py").write_text(f"open({str(marker)!r}, 'a').write('{module}\\n')\n")
    # -P keeps the folder off the parent's sys.path too; the child must keep it off its own
    argv = ["run", "--workload", "standin-cnn", "--runner", "null", "--quick", "--out", "res"]
    proc = subprocess.run(
        [sys.executable, "-P", "-m", "triggerbench.cli", *argv], capture_output=True, text=True, cwd=tmp_path
    )
    assert not marker.exists(), marker.read_text()
    assert proc.returncode == 0, proc.stderr
    assert load([tmp_path / "res"])["status"].tolist() == ["ok"]


def test_a_pickled_npy_is_refused(tmp_path):
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}] * 4, dtype=object), allow_pickle=True)
    proc = tb(
        "run",
        "--workload",
        "standin-cnn",
        "--runner",
        "null",
        "--data",
        "objects.npy",
        "--quick",
        cwd=tmp_path,
    )
    assert proc.returncode == 2, proc.stderr
    [line] = error_lines(proc.stderr)
    assert "cannot read objects.npy as a .npy array" in line and "Python objects" in line


def test_a_keras_lambda_layer_is_refused_by_safe_mode(tmp_path):
    import keras

    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Lambda(lambda x: x * 2)(inputs))
    model.save(tmp_path / "lambda.keras")
    proc = tb("run", "--model", "lambda.keras", "--runner", "null", "--quick", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    [line] = error_lines(proc.stderr)
    assert "cannot load Keras model lambda.keras" in line and "safe_mode" in line


def test_onnx_external_data_outside_the_model_folder_is_refused(tmp_path, standin_ctx):
    import onnx
    from onnx.external_data_helper import convert_model_to_external_data

    model = onnx.load(str(standin_ctx.artifact.path("onnx")))
    convert_model_to_external_data(
        model, all_tensors_to_one_file=True, location="weights.bin", size_threshold=0
    )
    (tmp_path / "model").mkdir()
    onnx.save(model, str(tmp_path / "model" / "net.onnx"))
    shutil.move(tmp_path / "model" / "weights.bin", tmp_path / "weights.bin")
    for tensor in model.graph.initializer:  # point at ../weights.bin, outside the model's folder
        for entry in tensor.external_data:
            if entry.key == "location":
                entry.value = "../weights.bin"
    (tmp_path / "model" / "net.onnx").write_bytes(model.SerializeToString())
    proc = tb("run", "--model", "model/net.onnx", "--runner", "null", "--quick", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    [line] = error_lines(proc.stderr)
    assert "cannot load ONNX model" in line
    assert "'../weights.bin' points outside the directory" in line
