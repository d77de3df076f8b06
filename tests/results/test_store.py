import json
import os
from pathlib import Path

import pytest
from records import make_record

from triggerbench.errors import SchemaVersionError, TriggerbenchSkippedFileWarning, UserInputError
from triggerbench.files import ensure_writable
from triggerbench.results import load, load_records, write_record
from triggerbench.results.migrate import migrate
from triggerbench.results.store import record_filename
from triggerbench.schema import SCHEMA_VERSION, BenchmarkRecord

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


def _v1_with_fpga(fpga) -> str:
    raw = json.loads((GOLDEN / "record-v1.json").read_text())
    raw["fpga"] = fpga
    return json.dumps(raw)


def _pytest_benchmark(benchmarks) -> str:
    return json.dumps({"machine_info": {}, "commit_info": {}, "benchmarks": benchmarks})


def _record_with(**changes) -> str:
    return json.dumps({**make_record().model_dump(mode="json"), **changes})


#: name -> (bytes of a broken file, the reason its skip gives): every way a file in a farm's
#: history can be unreadable, each once (each used to stop the whole load, most with a traceback).
BROKEN = {
    "array": (b"[1, 2]", "not a triggerbench record (a JSON array, not an object)"),
    "null": (b"null", "not a triggerbench record (null, not an object)"),
    "not-utf8": ('{"a": "caf\u00e9"}'.encode("latin-1"), "not a readable JSON file (not UTF-8 text)"),
    "too-deep": (b"[" * 100_000, "not a readable JSON file (nested too deeply)"),
    "v1-fpga-list": (_v1_with_fpga([1, 2]).encode(), "invalid record at fpga.0: Input should be a valid"),
    "v1-fpga-text": (_v1_with_fpga("x").encode(), "invalid record at fpga.0: Input should be a valid"),
    "bench-strings": (_pytest_benchmark(["test_x"]).encode(), "benchmark 0 is not an object"),
    "bench-not-list": (_pytest_benchmark({"a": 1}).encode(), "benchmarks are not a list"),
    "bench-extra-text": (
        _pytest_benchmark([{"name": "t", "extra_info": "record"}]).encode(),
        "benchmark 0 has an extra_info not an object",
    ),
    "bench-bad-record": (
        _pytest_benchmark([{"name": "test_x[keras]", "extra_info": {"record": [1]}}]).encode(),
        "benchmark test_x[keras]: not a triggerbench record (a JSON array, not an object)",
    ),
    "not-json": (b"hello", "not a readable JSON file (Expecting value"),
    "empty": (b" \n", "empty file"),
    "invalid": (_record_with(status="exploded").encode(), "invalid record at status: Input should be 'ok'"),
    "newer": (
        _record_with(schema_version=SCHEMA_VERSION + 1).encode(),
        f"written with schema version {SCHEMA_VERSION + 1}, newer than this triggerbench reads",
    ),
}


@pytest.fixture
def history(tmp_path):
    """A folder with two good records; each test adds broken files."""
    folder = tmp_path / "history"
    write_record(make_record("keras"), folder)
    write_record(make_record("openvino"), folder)
    return folder


@pytest.mark.parametrize("name", BROKEN)
def test_an_unreadable_file_is_skipped_with_its_reason_and_the_rest_load(history, name):
    content, reason = BROKEN[name]
    bad = history / f"{name}.json"
    bad.write_bytes(content)
    skipped = []
    frame = load([history], on_skip=skipped.append)
    assert sorted(frame["runner.name"]) == ["keras", "openvino"]
    assert [s.path for s in skipped] == [bad]
    assert reason in skipped[0].reason and "\n" not in str(skipped[0])
    assert str(skipped[0]) == f"{bad}: {skipped[0].reason}"
    assert [r.runner.name for r in load_records([history], on_skip=lambda s: None)] == ["keras", "openvino"]


@pytest.mark.parametrize("name", BROKEN)
def test_strict_refuses_an_unreadable_file_in_one_line(history, name):
    content, reason = BROKEN[name]
    (history / f"{name}.json").write_bytes(content)
    expected = SchemaVersionError if name in ("array", "null", "newer") else UserInputError
    with pytest.raises(expected) as info:
        load([history], strict=True)
    assert str(info.value).startswith(f"{history / name}.json: ") and reason in str(info.value)
    assert "\n" not in str(info.value)


def test_skipped_files_warn_by_default_one_warning_each(history):
    (history / "a.json").write_text("[]")
    (history / "b.json").write_text("")
    with pytest.warns(TriggerbenchSkippedFileWarning) as caught:
        frame = load([history])
    assert len(frame) == 2
    assert [str(w.message) for w in caught] == [
        f"skipped {history / 'a.json'}: not a triggerbench record (a JSON array, not an object)",
        f"skipped {history / 'b.json'}: empty file (an interrupted write?)",
    ]


def test_nothing_readable_is_still_an_error_naming_the_first_file(tmp_path):
    (tmp_path / "a.json").write_text("[]")
    (tmp_path / "b.json").write_text("")
    skipped = []
    with pytest.raises(
        UserInputError, match=r"no record read: 2 files are unreadable, the first .*a\.json: not"
    ):
        load([tmp_path], on_skip=skipped.append)
    assert skipped == []  # the error says it all: no warning besides it
    with pytest.raises(SchemaVersionError, match=r"a\.json: not a triggerbench record \(a JSON array"):
        load([tmp_path / "a.json"])  # one file: its own reason, as before


def test_a_file_without_records_is_not_a_skip(history, tmp_path):
    (history / "bench.json").write_text(_pytest_benchmark([{"name": "t", "extra_info": {"ratio": 1.1}}]))
    skipped = []
    assert len(load([history], on_skip=skipped.append)) == 2 and skipped == []


def test_a_missing_path_stays_an_error_not_a_skip(history, tmp_path):
    with pytest.raises(UserInputError, match="no such file"):
        load([history, tmp_path / "typo"], on_skip=lambda s: None)


def test_unreadable_and_folder_named_json_are_skipped(history):
    (history / "sub.json").mkdir()
    skipped = []
    assert len(load([history], on_skip=skipped.append)) == 2
    assert [(s.path.name, s.reason) for s in skipped] == [("sub.json", "not readable (Is a directory)")]


def test_the_frame_holds_validated_values_not_the_files_text(tmp_path):
    raw = make_record().model_dump(mode="json")
    raw["performance"]["throughput_samples_per_s"] = "1000"  # the schema takes it, as a number
    (tmp_path / "r.json").write_text(json.dumps(raw))
    frame = load([tmp_path])
    assert frame["performance.throughput_samples_per_s"].tolist() == [1000.0]


def test_migrate_refuses_what_is_not_a_record_and_leaves_its_input_alone():
    for value, kind in (([], "a JSON array"), (None, "null"), (3, "a JSON number"), ("x", "a JSON string")):
        with pytest.raises(SchemaVersionError, match=rf"^record: not a triggerbench record \({kind}"):
            migrate(value)
    with pytest.raises(SchemaVersionError, match=r"^schema_version '2' is not a whole number$"):
        migrate({"schema_version": "2"}, None)
    with pytest.raises(SchemaVersionError, match="not a whole number"):
        migrate({"schema_version": True})
    raw = json.loads((GOLDEN / "record-v1.json").read_text())
    raw["fpga"] = {"source": "estimate", "null_reasons": {"lut": "n/a"}}
    before = json.dumps(raw)
    migrated = migrate(raw)
    assert json.dumps(raw) == before
    assert migrated["fpga"][0]["null_reasons"]["method"] == "not recorded by schema version 1"
    assert migrate({**raw, "fpga": {"null_reasons": [1]}})["fpga"] == [{"null_reasons": [1]}]


def test_golden_v2_record_gains_an_unknown_dirty_flag():
    raw = json.loads((GOLDEN / "record-v2.json").read_text())
    assert raw["schema_version"] == 2 and "git_dirty" not in raw["environment"]
    (record,) = load_records([GOLDEN / "record-v2.json"])
    assert record.schema_version == SCHEMA_VERSION == 6
    assert record.environment.git_dirty is None
    assert record.environment.git_commit == raw["environment"]["git_commit"]
    assert "power_nominal" not in raw and record.power_nominal is None


def test_golden_v3_record_gains_unmeasured_window_and_idle_and_one_request_in_flight():
    raw = json.loads((GOLDEN / "record-v3.json").read_text())
    assert raw["schema_version"] == 3 and "window_s" not in raw["power"]
    (record,) = load_records([GOLDEN / "record-v3.json"])
    assert record.schema_version == SCHEMA_VERSION
    for section in (record.power, record.power_nominal):
        assert section.window_s is None and section.idle is None
        assert section.null_reasons["idle"] == "not recorded by schema version 3"
    assert record.power.null_reasons["power_mean_w"] == raw["power"]["null_reasons"]["power_mean_w"]
    assert record.scenario.requests_in_flight == 1
    assert record.runner.gpu is None and record.runner.device_model is None


@pytest.mark.parametrize("workload", ["m" * 230, "é" * 150])
def test_record_names_fit_any_file_system_whatever_the_workload_name(tmp_path, workload):
    raw = json.loads((GOLDEN / "record-v2.json").read_text())
    raw["workload"]["name"] = workload
    record = BenchmarkRecord.model_validate(migrate(raw))
    name = record_filename(record)
    assert len(name.encode()) <= 200 and name.endswith(f"_{record.run_id[:8]}.json")
    path = write_record(record, tmp_path)
    assert load_records([path])[0].workload.name == workload


def test_golden_v4_record_speaks_todays_precision_vocabulary():
    """A version-4 hls4ml record of the 4-bit student (written by the demo) said ``hgq2``."""
    raw = json.loads((GOLDEN / "record-v4.json").read_text())
    assert raw["schema_version"] == 4 and raw["runner"]["precision"] == "hgq2"
    (record,) = load_records([GOLDEN / "record-v4.json"])
    assert record.schema_version == SCHEMA_VERSION
    assert record.runner.precision == "fixed-point (per layer, from the model's quantizers)"
    assert record.scenario.harness == raw["scenario"]["harness"] == "tight-loop"
    w = record.workload
    assert w.input_dtype is None and w.fixed_batch_size is None and w.quantization is None


def test_golden_v5_record_holds_no_profile():
    raw = json.loads((GOLDEN / "record-v5.json").read_text())
    assert raw["schema_version"] == 5 and "profile" not in raw
    (record,) = load_records([GOLDEN / "record-v5.json"])
    assert record.schema_version == SCHEMA_VERSION and record.profile is None
    assert record.performance == BenchmarkRecord.model_validate({**raw, "schema_version": 6}).performance
