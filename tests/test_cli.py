import json
import subprocess
import sys

import numpy as np
import pytest
from cli_runs import one_line_error, tb

from triggerbench import cli
from triggerbench.results import load
from triggerbench.schema import json_schema


def test_schema_command_prints_the_json_schema():
    proc = tb("schema")
    assert proc.returncode == 0 and json.loads(proc.stdout) == json_schema()


def test_list_shows_runners_and_why():
    proc = tb("list")
    assert proc.returncode == 0
    for name in ("keras", "onnxruntime", "openvino", "null"):
        assert name in proc.stdout
    assert "standin-cnn" in proc.stdout


@pytest.fixture(scope="module")
def bad(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad")
    (d / "corrupt.keras").write_bytes(b"not a zip file")
    (d / "corrupt.onnx").write_bytes(b"\x00\x01garbage")
    (d / "model.txt").write_text("x")
    (d / "typo.toml").write_text("[measure]\nmin_duraton_s = 1\n")
    (d / "afile").write_text("")
    np.save(d / "wrong.npy", np.zeros((4, 3, 3), np.float32))
    np.savez(d / "inputs.npz", x=np.zeros((4, 9, 16, 1), np.float32))
    np.save(d / "strings.npy", np.array([["a"] * 16] * 4))
    return d


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--workload", "standin-cnn", "--runner", "tensorrtx"], "unknown runner 'tensorrtx'"),
        (["--workload", "muon-l9", "--runner", "null"], "unknown workload 'muon-l9'"),
        (["--model", "{d}/missing.keras", "--runner", "null"], "model file not found"),
        (["--model", "{d}/corrupt.keras", "--runner", "null"], "cannot load Keras model"),
        (["--model", "{d}/corrupt.onnx", "--runner", "null"], "cannot load ONNX model"),
        (["--model", "{d}/model.txt", "--runner", "null"], "unsupported model file"),
        (
            ["--workload", "standin-cnn", "--runner", "null", "--data", "{d}/wrong.npy"],
            "does not fit the model's input (N, 9, 16, 1)",
        ),
        (
            ["--workload", "standin-cnn", "--runner", "null", "--data", "{d}/inputs.npz"],
            "inputs.npz is an .npz archive (arrays: x); give one array as .npy",
        ),
        (
            ["--workload", "standin-cnn", "--runner", "null", "--data", "{d}/strings.npy"],
            "strings.npy holds <U1 values; inputs must be numbers",
        ),
        (
            ["--workload", "standin-cnn", "--runner", "null", "--threads", "-3"],
            "--threads must be >= 1, got -3",
        ),
        (
            ["--workload", "standin-cnn", "--runner", "onnxruntime", "--threads", "0"],
            "--threads must be >= 1",
        ),
        (
            ["--workload", "standin-cnn", "--runner", "null", "--set", "min_duration_s=inf"],
            "--set min_duration_s: Input should be a finite number",
        ),
        (
            ["--workload", "standin-cnn", "--runner", "null", "--set", "warmup_s=inf"],
            "--set warmup_s: Input should be a finite number",
        ),
        (
            ["--workload", "standin-cnn", "--runner", "null", "--set", "min_duration_s=1e300"],
            "--set min_duration_s: Input should be less than or equal to 86400",
        ),
        (
            [
                "--workload",
                "standin-cnn",
                "--runner",
                "null",
                "--scenario",
                "trigger",
                "--set",
                "event_rate_hz=1e9",
            ],
            "--set: event_rate_hz x stream_duration_s is 3e+08 events; at most 1e+08",
        ),
        (["--workload", "standin-cnn", "--runner", "../x:Y"], "runner '../x:Y': use module:Class"),
        (["--workload", "standin-cnn", "--runner", "null,os:path"], "'os:path' is not a triggerbench Runner"),
        (["--workload", "standin-cnn", "--runner", "nosuchmodule:Y"], "cannot load runner 'nosuchmodule:Y'"),
        (["--workload", "standin-cnn", "--plan", "{d}/typo.toml"], "unknown key 'measure.min_duraton_s'"),
        (["--workload", "standin-cnn", "--runner", "null", "--out", "{d}/afile/out"], "not writable"),
        (
            ["--workload", "standin-cnn", "--runner", "null", "--scenario", "burst"],
            "unknown scenario 'burst'; the scenarios: single-stream (tight-loop or loadgen: one query",
        ),
        (
            ["--workload", "standin-cnn", "--runner", "null", "--harness", "pyperf"],
            "unknown harness 'pyperf'; use auto, tight-loop, loadgen",
        ),
        (["--workload", "standin-cnn", "--runner", "null", "--batch", "0"], "--batch must be >= 1"),
        (["--workload", "standin-cnn", "--runner", "null", "--set", "deadline=1"], "KEY one of: warmup_s"),
        (
            ["--workload", "standin-cnn", "--runner", "null", "--set", "deadline_s=-1"],
            "--set deadline_s: Input should be greater than 0",
        ),
        (["--workload", "standin-cnn", "--runner", "null", "-O", "reuse_factor"], "use KEY=VALUE"),
        (
            ["--workload", "standin-cnn", "--runner", "null,rtl", "-O", "reuse_factor=2"],
            "rtl runner: unknown option(s) reuse_factor; known options: latency_cutoff",
        ),
        (
            ["--workload", "standin-cnn", "--runner", "keras,onnxruntime", "-O", "jit_compile=false"],
            "onnxruntime runner: unknown option(s) jit_compile; it takes none "
            "(scope it to the runner that takes it: keras.jit_compile=VALUE)",
        ),
        (["--workload", "standin-cnn", "--runner", "hls4ml", "-O", "hls4ml.reuse_factor=0"], "reuse_factor"),
        (
            ["--workload", "standin-cnn", "--runner", "hls4ml", "-O", "hsl4ml.reuse_factor=2"],
            "--option hsl4ml.reuse_factor: scoped to a runner this run does not use; runners: hls4ml",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(bad, tmp_path, args, message, monkeypatch, capsys):
    earlier = tmp_path / "results" / "earlier.json"
    earlier.parent.mkdir()
    earlier.write_text("{}")
    # The entry point in this process (a subprocess each would cost seconds of imports): what the
    # console script runs, with its exit code and stderr.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["triggerbench", "run", *[a.format(d=bad) for a in args], "--quick"])
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    proc = subprocess.CompletedProcess(sys.argv, exit_.value.code, "", capsys.readouterr().err)
    one_line_error(proc, message)
    assert [p.name for p in earlier.parent.iterdir()] == ["earlier.json"]


def test_a_bad_value_for_a_runner_s_own_key_gets_no_scoping_hint(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    argv = ["run", "--workload", "standin-cnn", "--runner", "keras", "-O", "backend=Jaxx", "--quick"]
    monkeypatch.setattr(sys, "argv", ["triggerbench", *argv])
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    assert exit_.value.code == 2
    [line] = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("error:")]
    assert line == "error: keras runner: option backend='Jaxx': use one of tensorflow, jax"


def test_report_of_bad_files_is_one_line(tmp_path):
    (tmp_path / "x.json").write_text("{")
    one_line_error(tb("report", str(tmp_path / "x.json"), "--out", str(tmp_path)), "not a readable JSON")
    one_line_error(tb("report", str(tmp_path), "--format", "pdf"), "--format 'pdf': use one of md, tex, html")


def test_run_keeps_going_past_a_failing_runner_then_reports(tmp_path):
    proc = tb(
        "run",
        "--workload",
        "standin-cnn",
        "--runner",
        "null,fake_runners:RaisingRunner,onnxruntime",
        "--batch",
        "1,2",
        "--quick",
        "--out",
        "res",
        cwd=tmp_path,
    )
    assert proc.returncode == 1, proc.stderr  # a failure is data, and the exit code says so
    assert "failed" in proc.stderr
    # stdout is a pipe here, as in a log file: each record's row whole on one line as it is
    # written, the reason whole on one line of stderr, never wrapped at 80 columns.
    rows = [line.split() for line in proc.stdout.splitlines() if "RaisingRunner" in line]
    assert [row[:4] for row in rows] == [
        ["fake_runners:RaisingRunner", "single-stream", b, "failed"] for b in "12"
    ]
    reasons = [
        line for line in proc.stderr.splitlines() if line.startswith("failed fake_runners:RaisingRunner")
    ]
    assert reasons == ["failed fake_runners:RaisingRunner: device lost after 200 calls"], proc.stderr
    header = next(line for line in proc.stdout.splitlines() if line.startswith("runner"))
    assert header.split()[:5] == ["runner", "scenario", "batch", "verdict", "throughput"]
    frame = load([tmp_path / "res"])
    assert len(frame) == 6
    counts = frame.groupby("runner.name")["status"].agg(lambda s: sorted(set(s))).to_dict()
    assert counts == {"null": ["ok"], "fake_runners:RaisingRunner": ["failed"], "onnxruntime": ["ok"]}
    ort = frame[frame["runner.name"] == "onnxruntime"]
    assert (ort["accuracy.max_abs_diff"] < 1e-4).all()

    proc = tb("report", "res", "--out", "rep", "--no-plots", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    text = (tmp_path / "rep" / "report.md").read_text()
    backends = text.split("**Backends: standin-cnn**")[1].split("Not in this table:")[0]
    assert "| null |" in backends and "| onnxruntime |" in backends
    assert "fake\\_runners:RaisingRunner (single-stream, batch 1, 2): failed" in text  # listed, not a row


def test_users_own_onnx_model_with_npy_data(tmp_path, standin_ctx):
    data = tmp_path / "inputs.npy"
    np.save(data, standin_ctx.inputs[:32])
    onnx_path = standin_ctx.artifact.path("onnx")
    proc = tb(
        "run",
        "--model",
        str(onnx_path),
        "--data",
        str(data),
        "--runner",
        "keras,onnxruntime",
        "--quick",
        "--out",
        "res",
        "--no-isolate",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    frame = load([tmp_path / "res"]).set_index("runner.name")
    assert frame.loc["keras", "status"] == "skipped"  # an ONNX file has no Keras source
    assert "reads keras models" in frame.loc["keras", "error.message"]
    assert frame.loc["onnxruntime", "accuracy.reference"] == "onnxruntime-cpu-float32"
    assert frame.loc["onnxruntime", "accuracy.max_abs_diff"] == 0.0


def test_train_quick_writes_models_and_manifest(tmp_path):
    out = tmp_path / "trained"
    proc = tb("train", "--model", "muon-l0-teacher,muon-l0-student-kd", "--quick", "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    manifest = json.loads((out / "manifest.json").read_text())
    assert set(manifest["models"]) == {"muon-l0-teacher", "muon-l0-student-kd"}
    from triggerbench.models.artifact import sha256_file

    for meta in manifest["models"].values():
        assert sha256_file(out / meta["file"]) == meta["sha256"]
        assert "pt_resolution_frac" in meta["metrics"] and meta["train_wall_s"] >= 0
    assert manifest["models"]["muon-l0-student-kd"]["train_config"]["kd_mode"] == "relative"

    # --evaluate-only measures again without training: same weights, fresh metrics.
    teacher = manifest["models"]["muon-l0-teacher"]
    teacher["metrics"] = {"stale": 1.0}
    (out / "manifest.json").write_text(json.dumps(manifest))
    proc = tb("train", "--model", "muon-l0-teacher", "--evaluate-only", "--quick", "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    again = json.loads((out / "manifest.json").read_text())["models"]
    assert "stale" not in again["muon-l0-teacher"]["metrics"]
    assert "pt_resolution_calibrated_frac" in again["muon-l0-teacher"]["metrics"]
    assert again["muon-l0-teacher"]["sha256"] == teacher["sha256"]
    assert again["muon-l0-student-kd"] == manifest["models"]["muon-l0-student-kd"]
    (out / teacher["file"]).write_bytes(b"not a model")
    one_line_error(tb("train", "--all", "--evaluate-only", "--out", str(out)), "does not match its hash")
    empty = tmp_path / "never-trained"
    one_line_error(tb("train", "--all", "--evaluate-only", "--out", str(empty)), "no trained models")
    assert not empty.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [([], "give --all or --model NAME"), (["--model", "muon-l0-grandmaster"], "unknown model(s)")],
)
def test_train_bad_input(args, message):
    one_line_error(tb("train", *args), message)


def test_shipped_quantized_student_runs_on_keras_and_onnxruntime(tmp_path):
    proc = tb(
        "run",
        "--workload",
        "muon-l0-qstudent-4bit",
        "--runner",
        "keras,onnxruntime",
        "--quick",
        "--out",
        "res",
        "--no-isolate",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    frame = load([tmp_path / "res"]).set_index("runner.name")
    assert (frame["status"] == "ok").all()
    assert frame.loc["onnxruntime", "accuracy.max_abs_diff"] < 1e-4
    assert frame.loc["keras", "accuracy.task_metrics.pt_resolution_frac"] > 0
    assert frame.loc["keras", "workload.variant"] == "qstudent-4bit-kd"


def test_runner_options_are_typed_where_they_look_like_numbers():
    from triggerbench.cli import parse_runner_options

    parsed = parse_runner_options(["reuse_factor=4", "clock_period_ns=3.3", "part=xcu50", "stream=true"])
    assert parsed == {"reuse_factor": 4, "clock_period_ns": 3.3, "part": "xcu50", "stream": True}


def test_devices_are_the_available_runners_that_are_not_emulators():
    from triggerbench.runners import registry

    everything, devices = cli.resolve_runners(["all"]), cli.resolve_runners(["devices"])
    assert devices == [n for n in everything if not registry.get(n).emulator]
    assert everything[: len(devices)] == devices  # first: results before any firmware build
    assert {"hls4ml", "rtl"}.isdisjoint(devices) and "onnxruntime" in devices


def test_a_group_keeps_options_scoped_to_a_runner_this_host_cannot_run():
    """`--runner all -O rtl.yosys=false` works on a host without the RTL flow (the demo's command)."""
    from triggerbench.cli.arguments import check_runner_options
    from triggerbench.errors import UserInputError

    check_runner_options(["onnxruntime"], {"rtl.yosys": False}, group=True)
    with pytest.raises(UserInputError, match="scoped to a runner this run does not use"):
        check_runner_options(["onnxruntime"], {"rtl.yosys": False})  # named runners: a mistake
    with pytest.raises(UserInputError, match="scoped to a runner this run does not use"):
        check_runner_options(["onnxruntime"], {"rlt.yosys": False}, group=True)  # no such runner


def test_a_kind_of_warning_is_shown_once_and_its_repeats_counted():
    from triggerbench.cli.run import WarningDigest

    seen = WarningDigest()
    texts = [
        "host busy at start: load average 1.16 on 2 cores",
        "too few queries for p99: 839 < 1000; raise min_query_count",
        "host busy at start: load average 4.61 on 2 cores",  # the same kind: a repeat
        "too few queries for p99.9: 3,781 < 10,000; raise min_query_count",  # numbers only differ
        "too few queries for p99: 201 < 1000; raise min_query_count",
    ]
    assert [seen.first(t) for t in texts] == [True, True, False, False, False]
    assert seen.repeats == 3
