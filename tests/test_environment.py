import subprocess
from pathlib import Path

import pytest

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
