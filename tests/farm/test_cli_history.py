"""``triggerbench history`` and ``triggerbench farm check`` as a user runs them: output and exit codes."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from cli_runs import one_line_error
from history_nights import commit_of, write_series

from triggerbench import cli


def run(monkeypatch, capsys, *args: str) -> subprocess.CompletedProcess:
    """The entry point in this process (a subprocess each would cost seconds of imports)."""
    monkeypatch.setattr(sys, "argv", ["triggerbench", *args])
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    out = capsys.readouterr()
    return subprocess.CompletedProcess(sys.argv, exit_.value.code, out.out, out.err)


@pytest.fixture(scope="module")
def stepped(tmp_path_factory):
    """30 nights of 2 % noise with a lasting 20 % throughput drop from night 20, and a corrupt night."""
    root = tmp_path_factory.mktemp("stepped")
    values = 1000.0 * np.random.default_rng(1).lognormal(0.0, 0.02, 30)
    values[20:] *= 0.8
    write_series(root, values)
    (root / "copied-by-hand").mkdir()
    (root / "copied-by-hand" / "r.json").write_text("{")
    return root


@pytest.fixture(scope="module")
def one_noisy_night(tmp_path_factory):
    root = tmp_path_factory.mktemp("noisy")
    values = 1000.0 * np.random.default_rng(2).lognormal(0.0, 0.02, 30)
    values[12] *= 0.7
    write_series(root, values)
    return root


def test_farm_check_exits_1_on_a_lasting_step_and_names_night_commit_and_change(stepped, monkeypatch, capsys):
    proc = run(monkeypatch, capsys, "farm", "check", str(stepped))
    assert proc.returncode == 1, proc.stderr
    [line] = [ln for ln in proc.stdout.splitlines() if commit_of(20) in ln]
    assert "throughput" in line and "2026-01-21_00000014_xeon-01" in line and " -> " in line
    change = float(line.split(" %")[0].split()[-1])
    assert change == pytest.approx(-20, abs=3)
    assert "1 regression(s)" in proc.stdout
    assert f"warning skipped {stepped / 'copied-by-hand'}: night left out" in proc.stderr


def test_farm_check_exits_0_on_one_noisy_night(one_noisy_night, monkeypatch, capsys):
    proc = run(monkeypatch, capsys, "farm", "check", str(one_noisy_night))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "no regression" in proc.stdout


def test_farm_check_thresholds_and_window_are_options(stepped, monkeypatch, capsys):
    assert (
        run(monkeypatch, capsys, "farm", "check", str(stepped), "--threshold", "throughput:25%").returncode
        == 0
    )
    assert run(monkeypatch, capsys, "farm", "check", str(stepped), "--last", "5").returncode == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["farm", "check", "{root}/missing"], "no such history folder: {root}/missing"),
        (["farm", "check", "{root}/empty"], "no readable night in {root}/empty (a history root holds"),
        (["farm", "check", "{root}/loose"], "its record files must sit in one sub-folder per night"),
        (["farm", "check", "{root}/loose", "--threshold", "speed:5%"], "--threshold 'speed:5%': unknown"),
        (["history", "{root}/missing"], "no such history folder"),
        (["history", "{root}/empty", "--figure", "latency-p42"], "unknown figure 'latency-p42'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys, args, message):
    (tmp_path / "empty").mkdir()
    (tmp_path / "loose").mkdir()
    (tmp_path / "loose" / "r.json").write_text("{}")
    proc = run(monkeypatch, capsys, *[a.format(root=tmp_path) for a in args])
    one_line_error(proc, message.format(root=tmp_path))


def test_history_shows_the_latest_nights_and_writes_a_trend_plot_per_series(
    stepped, tmp_path, monkeypatch, capsys
):
    out = tmp_path / "plots"
    proc = run(
        monkeypatch,
        capsys,
        "history",
        str(stepped),
        "--last",
        "4",
        "--figure",
        "throughput",
        "--out",
        str(out),
    )
    assert proc.returncode == 0, proc.stderr
    assert "last 4 of 30 nights" in proc.stdout
    assert "2026-01-30" in proc.stdout and "2026-01-26" not in proc.stdout
    assert "standin-cnn onnxruntime (f32) single-stream b1" in proc.stdout
    assert sorted(p.suffix for p in out.iterdir()) == [".pdf", ".png"]
    assert all(p.stat().st_size > 1000 for p in out.iterdir())


def test_history_filters_by_workload_and_names_the_known_ones(stepped, monkeypatch, capsys):
    proc = run(monkeypatch, capsys, "history", str(stepped), "--workload", "nope")
    one_line_error(proc, "--workload 'nope': not in this history; it has standin-cnn")
