"""``triggerbench report`` and ``compare`` over a history holding broken files: skipped, or --strict."""

import json
import shutil
import subprocess
from pathlib import Path

import cli_runs
import pytest

from triggerbench.schema import SCHEMA_VERSION

DEMO_RUN = Path(__file__).parent / "reports" / "data" / "demo-run"
GOLDEN_V1 = Path(__file__).parent / "results" / "golden" / "record-v1.json"


def tb(*args: str) -> subprocess.CompletedProcess:
    return cli_runs.tb(*args, timeout=300)


def _broken() -> dict[str, tuple[bytes, str]]:
    """File name -> (content, the reason its warning gives); one file per way of being broken."""
    record = json.loads(next(DEMO_RUN.glob("*.json")).read_text())
    v1 = json.loads(GOLDEN_V1.read_text())
    return {
        "array.json": (b"[1, 2]", "not a triggerbench record (a JSON array, not an object)"),
        "null.json": (b"null", "not a triggerbench record (null, not an object)"),
        "latin1.json": ('{"a": "caf\u00e9"}'.encode("latin-1"), "not a readable JSON file (not UTF-8 text)"),
        "deep.json": (b"[" * 100_000, "not a readable JSON file (nested too deeply)"),
        "v1-fpga.json": (json.dumps({**v1, "fpga": [1]}).encode(), "invalid record at fpga.0: "),
        "bench.json": (
            json.dumps({"machine_info": {}, "benchmarks": ["test_x", 3]}).encode(),
            "pytest-benchmark file whose benchmark 0 is not an object",
        ),
        "text.json": (b"not json at all", "not a readable JSON file (Expecting value"),
        "empty.json": (b"", "empty file"),
        "invalid.json": (json.dumps({**record, "status": "exploded"}).encode(), "invalid record at status: "),
        "newer.json": (
            json.dumps({**record, "schema_version": SCHEMA_VERSION + 1}).encode(),
            f"written with schema version {SCHEMA_VERSION + 1}, newer than this triggerbench reads",
        ),
    }


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    """The demo run's records plus one broken file of each kind; and a copy without them."""
    root = tmp_path_factory.mktemp("history")
    clean, broken = root / "clean", root / "broken"
    shutil.copytree(DEMO_RUN, clean)
    shutil.copytree(DEMO_RUN, broken)
    for name, (content, _) in _broken().items():
        (broken / name).write_bytes(content)
    return clean, broken


def skip_lines(proc: subprocess.CompletedProcess) -> dict[str, str]:
    """Each 'warning skipped PATH: REASON' line of stderr, by file name; each file once."""
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("warning skipped ")]
    by_name = {Path(ln.removeprefix("warning skipped ").split(": ", 1)[0]).name: ln for ln in lines}
    assert len(by_name) == len(lines), proc.stderr
    return by_name


def assert_each_broken_file_skipped(proc: subprocess.CompletedProcess, folder: Path) -> None:
    assert "Traceback" not in proc.stderr
    skipped = skip_lines(proc)
    assert sorted(skipped) == sorted(_broken())
    for name, (_, reason) in _broken().items():
        assert skipped[name].startswith(f"warning skipped {folder / name}: "), skipped[name]
        assert reason in skipped[name], skipped[name]


def only_error(proc: subprocess.CompletedProcess, message: str) -> None:
    """Exit 2 and nothing on stderr but one ``error:`` line holding ``message``."""
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], proc.stderr


def test_report_skips_each_broken_file_with_its_reason_and_reports_the_rest(history, tmp_path):
    _, broken = history
    proc = tb("report", str(broken), "--out", str(tmp_path), "--layout", "backends", "--no-plots")
    assert proc.returncode == 0, proc.stderr
    assert_each_broken_file_skipped(proc, broken)
    n_records = len(list(DEMO_RUN.glob("*.json")))
    assert f"{n_records} record(s), {len(_broken())} unreadable file(s) skipped ->" in proc.stdout
    assert (tmp_path / "report.md").is_file()


def test_report_strict_refuses_the_first_broken_file(history, tmp_path):
    _, broken = history
    proc = tb("report", str(broken), "--out", str(tmp_path / "rep"), "--no-plots", "--strict")
    only_error(proc, f"{broken / 'array.json'}: not a triggerbench record (a JSON array, not an object)")
    assert not (tmp_path / "rep").exists()


def test_compare_skips_broken_files_and_strict_refuses_them(history):
    clean, broken = history
    proc = tb("compare", str(clean), str(broken))
    assert proc.returncode == 0, proc.stderr
    assert_each_broken_file_skipped(proc, broken)
    assert "same" in proc.stdout  # the records in common were compared
    only_error(
        tb("compare", str(broken), str(clean), "--strict"),
        f"BASE: {broken / 'array.json'}: not a triggerbench record",
    )
    only_error(tb("compare", str(clean), str(broken), "--strict"), f"NEW: {broken / 'array.json'}: ")


def test_nothing_readable_is_one_error_line(tmp_path):
    for name, (content, _) in _broken().items():
        (tmp_path / name).write_bytes(content)
    message = f"no record read: {len(_broken())} files are unreadable, the first {tmp_path / 'array.json'}: "
    only_error(tb("report", str(tmp_path), "--out", str(tmp_path / "rep")), message)
    only_error(tb("compare", str(DEMO_RUN), str(tmp_path)), f"NEW: {message}")
    only_error(tb("compare", str(tmp_path / "latin1.json"), str(DEMO_RUN)), "not UTF-8 text")
