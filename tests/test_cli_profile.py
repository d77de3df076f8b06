"""``triggerbench profile`` as a user runs it: records written, the table, one line per problem."""

from __future__ import annotations

import json

from cli_runs import one_line_error, tb


def _records(folder) -> dict[str, dict]:
    return {r["runner"]["name"]: r for r in (json.loads(p.read_text()) for p in folder.glob("*.json"))}


def test_profile_writes_a_record_per_runner_and_one_line_for_a_backend_without_profiler(tmp_path) -> None:
    out = tmp_path / "results"
    proc = tb(
        "profile", "--workload", "standin-cnn", "--runner", "onnxruntime,null", "--calls", "3", "--quick",
        "--out", str(out), cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    records = _records(out)
    assert set(records) == {"onnxruntime", "null"}
    ort, null = records["onnxruntime"], records["null"]
    assert (ort["status"], ort["scenario"]["name"], ort["scenario"]["harness"]) == (
        "ok",
        "profile",
        "profiler",
    )
    assert {row["layer"] for row in ort["profile"]["layers"] if row["mapped"]} >= {
        "conv",
        "dense",
        "slope_offset",
    }
    assert (null["status"], null["error"]["type"]) == ("skipped", "ProfileUnavailable")
    lines = proc.stdout.splitlines()
    # The backend without a profiler: one line, and no empty column.
    assert [line for line in lines if line.startswith("null")] == [
        "null: not available for this backend: runner 'null' has no per-layer profiler"
    ]
    header = next(line for line in lines if "onnxruntime µs" in line)
    assert "onnxruntime %" in header and "null" not in header
    assert any(line.split("│")[1].strip() == "conv" for line in lines if line.count("│") > 2)
    assert any("sum of layers" in line and "vs whole call" in line for line in lines)
    assert any(line.startswith("  profiler overhead: one call") for line in lines)
    assert any("‡ a backend node that maps to no layer" in line for line in lines)  # ORT's reorders


def test_an_unknown_runner_is_one_line_and_exit_2(tmp_path) -> None:
    proc = tb(
        "profile", "--workload", "standin-cnn", "--runner", "onnxruntime,nosuch", "--out", str(tmp_path / "r")
    )
    one_line_error(proc, "unknown runner 'nosuch'; known runners:")
    assert not list(tmp_path.glob("r/*.json"))


def test_a_bad_batch_or_call_count_is_one_line_and_exit_2(tmp_path) -> None:
    one_line_error(
        tb("profile", "--workload", "standin-cnn", "--runner", "null", "--batch", "0"), "--batch must be >= 1"
    )
    one_line_error(
        tb("profile", "--workload", "standin-cnn", "--runner", "null", "--calls", "x"),
        "--calls must be whole",
    )


def test_an_unknown_workload_is_one_line_and_exit_2() -> None:
    one_line_error(tb("profile", "--workload", "nosuch", "--runner", "null"), "unknown workload 'nosuch'")


def test_values_are_shown_overflows_first_and_a_backend_without_rows_has_no_empty_column() -> None:
    from profile_records import cycles_profile, numerical, profile_record, timed_profile
    from rich.console import Console

    from triggerbench.cli.profile import numerical_table, profile_table

    values = [numerical("conv", "weight", -0.5, 0.5, 6), numerical("dense", "activation", -3.0, 70.0, 6)]
    firmware = profile_record("hls4ml", cycles_profile({}, values))
    cpu = profile_record("onnxruntime", timed_profile({"conv": 30.0, "dense": 10.0}, whole_call_s=5e-5))
    table, _ = profile_table([firmware, cpu], ["conv", "dense"])
    assert [c.header for c in table.columns] == ["layer", "onnxruntime µs", "onnxruntime %"]

    console = Console(width=200, record=True)
    console.print(numerical_table(firmware))
    lines = [line for line in console.export_text().splitlines() if "conv" in line or "dense" in line]
    assert "dense" in lines[0] and "OVERFLOWS" in lines[0] and "37 (3.7 %) saturate" in lines[0]
    assert "conv" in lines[1] and lines[1].split("│")[-2].strip() == "ok"


def test_keras_on_jax_profiles_each_layer(tmp_path) -> None:
    """``stateless_call`` passes keywords straight to ``call``: a Conv2D takes no ``training``."""
    out = tmp_path / "results"
    proc = tb(
        "profile", "--workload", "standin-cnn", "--runner", "keras", "-O", "keras.backend=jax",
        "--calls", "3", "--quick", "--out", str(out), cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    record = _records(out)["keras"]
    assert record["status"] == "ok" and record["runner"]["backend"] == "jax"
    assert [row["layer"] for row in record["profile"]["layers"]] == [
        "conv",
        "max_pooling2d",
        "flatten",
        "dense",
        "slope_offset",
    ]
