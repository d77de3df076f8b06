import json
import os
from pathlib import Path

import pytest
from records import make_record

from triggerbench.errors import SchemaVersionError, UserInputError
from triggerbench.results import load, load_records, write_record
from triggerbench.results.store import ensure_writable
from triggerbench.schema import SCHEMA_VERSION

GOLDEN = Path(__file__).parent / "golden"


def test_write_then_load_round_trips(tmp_path):
    record = make_record()
    path = write_record(record, tmp_path)
    assert path.parent == tmp_path and path.name.endswith(".json")
    assert load_records([path]) == [record]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files left


def test_failed_write_leaves_earlier_results_untouched(tmp_path, monkeypatch):
    earlier = write_record(make_record("keras"), tmp_path)
    before = earlier.read_bytes()

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        write_record(make_record("openvino"), tmp_path)
    monkeypatch.undo()
    assert earlier.read_bytes() == before
    assert sorted(tmp_path.iterdir()) == [earlier]  # the temp file was removed


def test_load_reads_folders_run_files_and_pytest_benchmark_files(tmp_path):
    write_record(make_record("keras"), tmp_path / "runs")
    write_record(make_record("openvino", status="failed"), tmp_path / "runs")
    bench = {
        "machine_info": {},
        "commit_info": {},
        "datetime": "x",
        "version": "5.2.3",
        "benchmarks": [
            {"name": "test_x", "extra_info": {"record": make_record().model_dump(mode="json")}},
            {"name": "test_ratio", "extra_info": {"ratio": 1.1}},
        ],
    }
    (tmp_path / "bench.json").write_text(json.dumps(bench))
    frame = load([tmp_path / "runs", tmp_path / "bench.json"])
    assert sorted(frame["runner.name"]) == ["keras", "onnxruntime", "openvino"]
    assert set(frame["status"]) == {"ok", "failed"}
    assert "performance.latency_p99_s" in frame.columns


def test_golden_v1_record_stays_readable():
    (record,) = load_records([GOLDEN / "record-v1.json"])
    assert record.schema_version == SCHEMA_VERSION
    assert record.performance.latency_p99_s == pytest.approx(2e-3)


def test_v1_fpga_section_becomes_a_one_entry_list(tmp_path):
    raw = json.loads((GOLDEN / "record-v1.json").read_text())
    raw["fpga"] = {"source": "estimate", "lut": 12, "null_reasons": {}}
    for name in ("part", "clock_period_ns", "latency_cycles", "latency_s", "interval_cycles", "ff", "dsp"):
        raw["fpga"]["null_reasons"][name] = "not in v1 test"
    for name in ("bram", "uram", "lut_available", "ff_available", "dsp_available", "bram_available"):
        raw["fpga"]["null_reasons"][name] = "not in v1 test"
    raw["fpga"]["null_reasons"]["uram_available"] = "not in v1 test"
    (tmp_path / "v1.json").write_text(json.dumps(raw))
    (record,) = load_records([tmp_path / "v1.json"])
    assert [f.lut for f in record.fpga] == [12]
    assert record.performance.emulated is False


def test_newer_schema_is_refused_with_a_clear_message(tmp_path):
    raw = make_record().model_dump(mode="json")
    raw["schema_version"] = SCHEMA_VERSION + 1
    (tmp_path / "new.json").write_text(json.dumps(raw))
    with pytest.raises(SchemaVersionError, match="newer than this triggerbench reads"):
        load_records([tmp_path / "new.json"])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not a readable JSON file"),
        ('{"a": 1}', "no schema_version"),
        ('{"schema_version": 1}', "invalid record"),
    ],
)
def test_bad_files_give_one_line_errors(tmp_path, content, message):
    (tmp_path / "bad.json").write_text(content)
    with pytest.raises(UserInputError, match=message) as info:
        load_records([tmp_path / "bad.json"])
    assert "\n" not in str(info.value)


def test_missing_path_and_unwritable_dir(tmp_path):
    with pytest.raises(UserInputError, match="no such file"):
        load_records([tmp_path / "nope.json"])
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(UserInputError, match="not writable"):
        ensure_writable(blocker / "sub")
