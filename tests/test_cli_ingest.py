"""``triggerbench ingest-hls``: a project folder in, one record file and a table out."""

from __future__ import annotations

from cli_runs import one_line_error, tb
from fpga.test_hls_reports import make_project

from triggerbench.results.store import load_records


def test_ingest_writes_one_record_and_prints_the_figures(tmp_path):
    root = make_project(tmp_path / "prj", cosim=True)
    proc = tb("ingest-hls", str(root), "--out", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    assert "hls-csynth" in proc.stdout and "vivado-synth" in proc.stdout and "7969" in proc.stdout
    (record,) = load_records([tmp_path / "out"])
    assert record.scenario.name == "firmware-report"
    assert [f.source for f in record.fpga] == ["hls-csynth", "vivado-synth", "hls-cosim"]


def test_bad_project_folder_is_one_line_and_exit_2(tmp_path):
    one_line_error(
        tb("ingest-hls", str(tmp_path / "nope"), "--out", str(tmp_path)), "project folder not found"
    )
    (tmp_path / "empty").mkdir()
    one_line_error(
        tb("ingest-hls", str(tmp_path / "empty"), "--out", str(tmp_path)), "project.tcl is missing"
    )
