import json
import math
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from records import PERF_OK, make_record
from typer.testing import CliRunner

from triggerbench.cli import app
from triggerbench.errors import UserInputError
from triggerbench.results import load, write_record
from triggerbench.results.compare import (
    FIGURES,
    FailOn,
    compare,
    parse_fail_on,
    resolve,
    to_json,
)

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def perf(**changes) -> dict:
    return {**PERF_OK, **changes}


def write(folder, *records):
    for record in records:
        write_record(record, folder)
    return folder


def rows_by(comparison, runner: str) -> dict:
    rows = comparison.rows[comparison.rows["runner.name"] == runner]
    return {r["figure"]: r for _, r in rows.iterrows()}


def thresholds(*texts, frames=()):
    return [resolve(parse_fail_on(t), frames=frames) for t in texts]


def tb(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "triggerbench.cli", *args], capture_output=True, text=True, timeout=300
    )


def one_line_error(proc: subprocess.CompletedProcess, message: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], proc.stderr


@pytest.fixture
def sides(tmp_path):
    """Base and new: onnxruntime slower, keras faster, openvino only in base, null only in new."""
    base = write(
        tmp_path / "base",
        make_record("onnxruntime", performance=perf()),
        make_record("keras", performance=perf()),
        make_record("openvino"),
    )
    new = write(
        tmp_path / "new",
        make_record("onnxruntime", performance=perf(throughput_samples_per_s=900.0, latency_p99_s=2.5e-3)),
        make_record("keras", performance=perf(throughput_samples_per_s=1100.0, latency_p99_s=1.5e-3)),
        make_record("null"),
    )
    return base, new


def test_records_match_by_key_and_one_sided_ones_are_listed(sides):
    base, new = sides
    result = compare(load([base]), load([new]))
    assert set(result.rows["runner.name"]) == {"onnxruntime", "keras"}
    assert list(result.only_in_base["runner.name"]) == ["openvino"]
    assert list(result.only_in_new["runner.name"]) == ["null"]
    lines = result.uncompared()
    assert "only in base: standin-cnn openvino (f32) single-stream b1 (ok)" in lines
    assert "only in new: standin-cnn null (f32) single-stream b1 (ok)" in lines


def test_a_different_batch_or_precision_is_another_key(tmp_path):
    def variant(**runner_changes):
        record = make_record()
        return record.model_copy(update={"runner": record.runner.model_copy(update=runner_changes)})

    base = write(tmp_path / "b", make_record())
    new = write(tmp_path / "n", variant(batch_size=8), variant(precision="int8"))
    result = compare(load([base]), load([new]))
    assert result.rows.empty
    assert len(result.only_in_base) == 1 and len(result.only_in_new) == 2


def test_direction_follows_each_figures_sense(sides):
    base, new = sides
    result = compare(load([base]), load([new]))
    ort, keras = rows_by(result, "onnxruntime"), rows_by(result, "keras")
    # Throughput down and latency up are both worse; the opposite moves are both better.
    assert ort["throughput"]["direction"] == "worse" and ort["latency_p99"]["direction"] == "worse"
    assert keras["throughput"]["direction"] == "better" and keras["latency_p99"]["direction"] == "better"
    assert ort["throughput"]["change_frac"] == pytest.approx(-0.10)
    assert ort["latency_p99"]["change_frac"] == pytest.approx(0.25)
    assert ort["latency_p50"]["direction"] == "same" and ort["latency_p50"]["change_frac"] == 0


def test_failed_and_skipped_records_are_listed_not_compared(tmp_path):
    base = write(tmp_path / "b", make_record("onnxruntime"), make_record("keras", status="failed"))
    new = write(
        tmp_path / "n",
        make_record("onnxruntime", status="failed", error=dict(type="E", message="device lost\ntrace")),
        make_record("keras"),
    )
    result = compare(load([base]), load([new]))
    assert result.rows.empty
    notes = dict(zip(result.status_changes["runner.name"], result.status_changes["note"], strict=True))
    assert notes == {"onnxruntime": "now failed: device lost", "keras": "now ok (was failed: device lost)"}


def test_a_null_figure_is_never_compared_as_zero(tmp_path):
    null_p99 = perf(latency_p99_s=None, null_reasons={"latency_p99_s": "too few queries"})
    base = write(tmp_path / "b", make_record(performance=null_p99))
    new = write(tmp_path / "n", make_record(performance=perf(latency_p99_s=5.0)))
    result = compare(load([base]), load([new]), thresholds("latency_p99:1%"))
    assert "latency_p99" not in set(result.rows["figure"])
    assert result.crossed.empty
    assert any("latency_p99: null in base for 1 pair(s)" in n for n in result.notes)
    # Figures no record has (no power meter, no trigger stream) are absent, not zero rows.
    assert not {"energy_per_inference", "power", "deadline_miss"} & set(result.rows["figure"])


def test_tails_nulled_for_too_few_queries_do_not_break_a_comparison(tmp_path):
    from records import perf_few_queries

    base = write(tmp_path / "b", make_record(performance=perf_few_queries(64)))
    new = write(tmp_path / "n", make_record(performance=perf_few_queries(500)))
    result = compare(load([base]), load([new]), thresholds("latency_p99:1%", "latency_p999:1%"))
    figures = set(result.rows["figure"])
    assert "latency_p50" in figures and not {"latency_p99", "latency_p999"} & figures
    assert any("latency_p99: null in base for 1 pair(s)" in n for n in result.notes)
    assert any("--fail-on latency_p999: no pair has it on both sides" in n for n in result.notes)
    assert result.crossed.empty
    assert json.loads(to_json(result, [base], [new]))["rows"]


def test_the_latest_of_repeated_runs_is_compared(tmp_path):
    base = write(tmp_path / "b", make_record())
    new = write(
        tmp_path / "n",
        make_record(timestamp_utc=T0 + timedelta(hours=2), performance=perf(throughput_samples_per_s=500.0)),
        make_record(timestamp_utc=T0 + timedelta(hours=3), performance=perf(throughput_samples_per_s=2000.0)),
        make_record(timestamp_utc=T0 + timedelta(hours=1), performance=perf(throughput_samples_per_s=100.0)),
    )
    result = compare(load([base]), load([new]))
    assert rows_by(result, "onnxruntime")["throughput"]["new"] == 2000.0
    assert any(n.startswith("new: repeated runs for 1 key(s)") and "x3" in n for n in result.notes)


def test_a_change_from_zero_is_infinite_and_never_divides_by_zero(tmp_path):
    acc = dict(reference="keras-float32", n_samples=64, max_abs_diff=0.0, mean_abs_diff=0.0)
    base = write(tmp_path / "b", make_record(accuracy=acc))
    new = write(tmp_path / "n", make_record(accuracy={**acc, "max_abs_diff": 1e-6}))
    result = compare(load([base]), load([new]), thresholds("max_abs_diff:50%"))
    row = rows_by(result, "onnxruntime")
    assert row["max_abs_diff"]["direction"] == "worse" and math.isinf(row["max_abs_diff"]["change_frac"])
    assert row["mean_abs_diff"]["direction"] == "same"
    assert list(result.crossed["figure"]) == ["max_abs_diff"]


@pytest.mark.parametrize(
    ("text", "field", "pct", "better"),
    [
        ("throughput:5%", "throughput", 5.0, None),
        ("latency_p99:10", "latency_p99", 10.0, None),
        ("performance.n_queries:2.5%:higher", "performance.n_queries", 2.5, "higher"),
    ],
)
def test_parse_fail_on(text, field, pct, better):
    assert parse_fail_on(text) == FailOn(text, field, pct, better)


@pytest.mark.parametrize("text", ["x", "throughput", "throughput:", "throughput:-5%", "throughput:5%%", ":5"])
def test_malformed_fail_on_is_refused(text):
    with pytest.raises(UserInputError, match="use FIELD:N%, e.g. throughput:5%"):
        parse_fail_on(text)


def test_fail_on_takes_names_columns_and_leaves(sides):
    frames = (load([sides[0]]), load([sides[1]]))
    (by_name, by_column, by_leaf) = thresholds(
        "latency_p99:1", "performance.latency_p99_s:1", "latency_p99_s:1", frames=frames
    )
    assert (
        by_name.figure
        == by_column.figure
        == by_leaf.figure
        == next(f for f in FIGURES if f.name == "latency_p99")
    )
    with pytest.raises(UserInputError, match="unknown figure 'speed'; known figures: throughput, "):
        thresholds("speed:5%", frames=frames)
    with pytest.raises(UserInputError, match="add :higher or :lower"):
        thresholds("n_queries:5%", frames=frames)
    with pytest.raises(UserInputError, match="not a numeric figure"):
        thresholds("runner.backend:5%:higher", frames=frames)
    with pytest.raises(UserInputError, match="throughput is higher-is-better"):
        thresholds("throughput:5%:lower", frames=frames)
    (custom,) = thresholds("n_queries:5%:higher", frames=frames)
    assert custom.figure.column == "performance.n_queries" and custom.figure.better == "higher"


def test_threshold_crossing_exits_1_and_not_crossing_exits_0(sides, tmp_path):
    base, new = map(str, sides)
    runner = CliRunner()

    crossed = runner.invoke(app, ["compare", base, new, "--fail-on", "throughput:5%"])
    assert crossed.exit_code == 1, crossed.output
    assert "threshold crossed throughput -10 % (limit 5 %)" in crossed.output
    assert "standin-cnn onnxruntime (f32) single-stream b1" in crossed.output

    # -10 % throughput is within 15 %; keras's +10 % is better and never fails, however small N.
    within = runner.invoke(
        app, ["compare", base, new, "--fail-on", "throughput:15", "--json", f"{tmp_path}/c.json"]
    )
    assert within.exit_code == 0, within.output
    assert "threshold crossed" not in within.output
    document = json.loads((tmp_path / "c.json").read_text())
    throughput = [r for r in document["rows"] if r["figure"] == "throughput"]
    assert sorted(r["new"] for r in throughput) == [900.0, 1100.0]
    assert all(r["crossed_limit_pct"] is None for r in document["rows"])
    assert [r["runner.name"] for r in document["only_in_base"]] == ["openvino"]

    # Latency p99 of onnxruntime rose by 25 %: that crosses 10 % (N with or without '%').
    latency = runner.invoke(
        app, ["compare", base, new, "--fail-on", "throughput:15%", "--fail-on", "latency_p99:10"]
    )
    assert latency.exit_code == 1 and "threshold crossed latency_p99 +25 %" in latency.output


def test_no_fail_on_never_fails_and_shows_the_table(sides):
    base, new = map(str, sides)
    result = CliRunner().invoke(app, ["compare", base, new, "--all-figures"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for text in ("throughput", "latency_p999", "max_abs_diff", "worse", "better", "only in new"):
        assert text in result.output


def test_bad_input_is_one_line_and_exit_2(sides, tmp_path):
    base, new = map(str, sides)
    (tmp_path / "empty").mkdir()
    one_line_error(
        tb("compare", base, new, "--fail-on", "x"), "--fail-on 'x': use FIELD:N%, e.g. throughput:5%"
    )
    one_line_error(tb("compare", str(tmp_path / "empty"), new), f"BASE: no records in {tmp_path / 'empty'}")
    one_line_error(tb("compare", base, str(tmp_path / "missing")), "NEW: no such file or directory")
    one_line_error(tb("compare", base, new, "--fail-on", "speed:5%"), "known figures: throughput, ")


def test_a_comparison_across_environments_says_so(tmp_path):
    base = write(tmp_path / "b", make_record())
    other_host = make_record()
    other_host = other_host.model_copy(
        update={"environment": other_host.environment.model_copy(update={"hostname": "elsewhere"})}
    )
    new = write(tmp_path / "n", other_host)
    (note,) = compare(load([base]), load([new])).notes
    assert "different environments (environment.hostname" in note and "h -> elsewhere" in note


def test_one_side_may_join_several_paths_with_commas(sides, tmp_path):
    base, new = sides
    extra = write(tmp_path / "extra", make_record("openvino"))
    result = CliRunner().invoke(app, ["compare", f"{base},{extra}", str(new), "--json", f"{tmp_path}/c.json"])
    assert result.exit_code == 0, result.output
    document = json.loads((tmp_path / "c.json").read_text())
    assert document["base"] == [str(base), str(extra)]
    assert [r["runner.name"] for r in document["only_in_base"]] == ["openvino"]


def test_a_gate_fails_when_a_measurement_now_fails(tmp_path):
    base = write(tmp_path / "b", make_record("onnxruntime"), make_record("keras", status="failed"))
    new = write(
        tmp_path / "n",
        make_record("onnxruntime", status="failed", error=dict(type="E", message="device lost")),
        make_record("keras"),
    )
    runner = CliRunner()
    gate = runner.invoke(app, ["compare", str(base), str(new), "--fail-on", "throughput:5%"])
    assert gate.exit_code == 1 and "now failed standin-cnn onnxruntime" in gate.output, gate.output
    assert runner.invoke(app, ["compare", str(base), str(new)]).exit_code == 0  # no gate: a report only
    was_failed = write(tmp_path / "f", make_record("keras", status="failed"))
    now_ok = write(tmp_path / "o", make_record("keras"))
    fixed = runner.invoke(app, ["compare", str(was_failed), str(now_ok), "--fail-on", "throughput:5%"])
    assert fixed.exit_code == 0, fixed.output  # failed -> ok is not a regression
