import subprocess
from pathlib import Path

import pytest

from triggerbench import environment
from triggerbench.environment import capture, git_state


def git(folder: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=folder, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def checkout(tmp_path):
    git(tmp_path, "init", "-q")
    (tmp_path / "code.py").write_text("x = 1\n")
    git(tmp_path, "add", "code.py")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "first")
    return tmp_path


def test_a_clean_checkout_names_its_commit_and_is_not_dirty(checkout):
    assert git_state(checkout) == (git(checkout, "rev-parse", "HEAD").strip(), False)


def test_untracked_files_do_not_make_a_checkout_dirty(checkout):
    (checkout / "results.json").write_text("{}")
    assert git_state(checkout)[1] is False


def test_a_changed_tracked_file_makes_it_dirty(checkout):
    (checkout / "code.py").write_text("x = 2\n")
    commit, dirty = git_state(checkout)
    assert commit == git(checkout, "rev-parse", "HEAD").strip() and dirty is True


def test_outside_a_checkout_both_are_unknown(tmp_path):
    assert git_state(tmp_path) == (None, None)


def test_the_record_carries_the_flag_with_the_commit():
    env = capture()
    assert (env.git_commit is None) == (env.git_dirty is None)


def _stat(running: int) -> str:
    return f"cpu  1 2 3 4\nctxt 5\nprocs_running {running}\nprocs_blocked 0\n"


def test_runnable_others_leaves_out_the_measuring_thread(tmp_path, monkeypatch):
    stat = tmp_path / "stat"
    stat.write_text(_stat(3))
    monkeypatch.setattr(environment, "PROC_STAT", stat)
    assert environment.runnable_others(samples=3, interval_s=0) == 2
    stat.write_text(_stat(1))
    assert environment.runnable_others(samples=1) == 0
    monkeypatch.setattr(environment, "PROC_STAT", tmp_path / "absent")
    assert environment.runnable_others() is None


def test_busy_is_judged_by_what_runs_now_not_by_the_load_average():
    env = capture().model_copy(update={"cores_used": [0, 1], "loadavg_1m_5m_15m": [1.8, 1.0, 0.5]})
    # The load average still remembers the previous measurement; nothing else runs now.
    assert environment.load_problems(env.model_copy(update={"runnable_threads_others": 0})) == []
    assert environment.load_problems(env.model_copy(update={"runnable_threads_others": 2})) == [
        "host busy at start: 2 other threads runnable on 2 cores"
    ]
    unknown = env.model_copy(update={"runnable_threads_others": None})
    assert environment.load_problems(unknown) == ["host busy at start: load average 1.80 on 2 cores"]
