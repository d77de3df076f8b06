"""``triggerbench farm run`` as a user runs it: a local cluster, and the mistakes that stop it."""

from __future__ import annotations

import json
import os
from pathlib import Path

from cli_runs import error_lines, one_line_error, tb

FARM_TESTS = Path(__file__).parent
PLAN = """\
[run]
workloads = ["standin-cnn"]
runners = {runners}
timeout_s = 600

[measure]
min_duration_s = 0.05
min_query_count = 5
repeats = 1
accuracy_samples = 64
"""


def plan(tmp_path: Path, runners: str) -> Path:
    path = tmp_path / "plan.toml"
    path.write_text(PLAN.format(runners=runners))
    return path


def env() -> dict[str, str]:
    # farm_doubles (tests/farm) must import in the cluster's worker processes and their children.
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(FARM_TESTS), os.environ.get("PYTHONPATH", "")])}


def test_a_job_that_kills_its_worker_is_a_failed_record_once_retries_are_spent(tmp_path) -> None:
    runners = '["null", "farm_doubles:WorkerKillingRunner"]'
    out = tmp_path / "night"
    proc = tb("farm", "run", str(plan(tmp_path, runners)), "--out", str(out), "--retries", "0", env=env())
    assert proc.returncode == 1, proc.stderr
    assert error_lines(proc.stderr) == []
    records = {r["runner"]["name"]: r for r in (json.loads(p.read_text()) for p in out.glob("*.json"))}
    assert records["null"]["status"] == "ok"
    killed = records["farm_doubles:WorkerKillingRunner"]
    assert (killed["status"], killed["error"]["type"]) == ("failed", "KilledWorker")
    assert "allowed-failures is spent" in killed["error"]["message"]
    assert "2 of 2 record(s) written" in proc.stderr and "1 failed" in proc.stderr


def test_an_unreachable_scheduler_is_one_line(tmp_path) -> None:
    proc = tb(
        "farm",
        "run",
        str(plan(tmp_path, '["null"]')),
        "--out",
        str(tmp_path / "o"),
        "--scheduler",
        "tcp://127.0.0.1:9",
    )
    one_line_error(proc, "cannot reach the Dask scheduler at tcp://127.0.0.1:9 within 10 s")


def test_a_scheduler_that_is_no_address_is_one_line(tmp_path) -> None:
    proc = tb(
        "farm", "run", str(plan(tmp_path, '["null"]')), "--out", str(tmp_path / "o"), "--scheduler", "myhost"
    )
    one_line_error(proc, "--scheduler 'myhost': give tcp://HOST:PORT, tls://HOST:PORT or 'local'")


def test_a_plan_without_named_runners_is_one_line(tmp_path) -> None:
    proc = tb("farm", "run", str(plan(tmp_path, '["all"]')), "--out", str(tmp_path / "o"))
    one_line_error(proc, "[run] runners must name each runner for the farm")


def test_a_plan_needing_a_gpu_on_a_host_without_one_fails_fast(tmp_path) -> None:
    proc = tb(
        "farm", "run", str(plan(tmp_path, '["null", "keras-gpu"]')), "--out", str(tmp_path / "o"), timeout=300
    )
    one_line_error(
        proc,
        "no worker has the resources these jobs need: gpu=1 (runner keras-gpu); the workers offer: cpu=1",
    )


def test_a_night_goes_to_its_own_folder_under_the_history_root(tmp_path) -> None:
    import socket
    from datetime import UTC, datetime

    root = tmp_path / "history"
    proc = tb("farm", "run", str(plan(tmp_path, '["null"]')), "--history", str(root), env=env())
    assert proc.returncode == 0, proc.stderr
    (night,) = root.iterdir()
    date, commit, hosts = night.name.split("_", 2)
    assert date == datetime.now(UTC).strftime("%Y-%m-%d") and len(commit) == 8
    assert hosts == socket.gethostname().replace("_", "-")
    (record,) = (json.loads(p.read_text()) for p in night.glob("*.json"))
    assert record["status"] == "ok" and record["environment"]["git_commit"].startswith(commit)
    check = tb("farm", "check", str(root))
    assert check.returncode == 0, check.stdout + check.stderr


def test_out_and_history_together_are_one_line(tmp_path) -> None:
    path = str(plan(tmp_path, '["null"]'))
    proc = tb("farm", "run", path, "--out", str(tmp_path / "o"), "--history", str(tmp_path))
    one_line_error(proc, "give exactly one of --out DIR or --history ROOT")
