"""``run -O KEY=VALUE`` for the keras and openvino runners: checked before measuring, and applied."""

import pytest
from cli_runs import TINY_WINDOWS, tb

from triggerbench.results.store import load_records

#: One single-stream batch in the smallest windows: these tests check options, not speed.
TINY = ["--scenario", "single-stream", "--batch", "1", *TINY_WINDOWS]


@pytest.mark.parametrize(
    ("runner", "option", "message"),
    [
        ("keras", "jit_compile=maybe", "keras runner: option jit_compile='maybe': use true or false"),
        ("keras", "xla=true", "keras runner: unknown option(s) xla; known options: jit_compile"),
        (
            "openvino",
            "performance_hint=FASTEST",
            "openvino runner: option performance_hint='FASTEST': use one of LATENCY, THROUGHPUT,",
        ),
        (
            "openvino",
            "jit_compile=maybe",
            "openvino runner: unknown option(s) jit_compile; known options: performance_hint",
        ),
        ("openvino", "requests=0", "openvino runner: option requests=0: use a whole number >= 1"),
        (
            "onnxruntime",
            "graph_optimization_level=basic",
            "onnxruntime runner: unknown option(s) graph_optimization_level; it takes none",
        ),
    ],
)
def test_a_bad_option_is_one_error_line_and_exit_2_before_measuring(tmp_path, runner, option, message):
    proc = tb(
        "run",
        "--workload",
        "standin-cnn",
        "--runner",
        runner,
        "-O",
        option,
        *TINY,
        "--out",
        "res",
        cwd=tmp_path,
    )
    assert proc.returncode == 2, proc.stderr[-3000:]
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and message in lines[0], proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "res").exists() or not any((tmp_path / "res").iterdir())  # nothing measured


def test_jit_compile_false_as_text_really_turns_xla_off(tmp_path):
    # The CLI passes "False" as text (only lower-case true/false are JSON); bool("False") is True.
    proc = tb(
        "run",
        "--workload",
        "standin-cnn",
        "--runner",
        "keras",
        "-O",
        "jit_compile=False",
        *TINY,
        "--no-isolate",
        "--out",
        "res",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (record,) = load_records([tmp_path / "res"])
    assert record.status == "ok", record.error
    assert record.runner.settings["jit_compile"] is False
