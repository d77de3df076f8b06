"""The farm's fan-out on a real Dask cluster: three local worker processes with different resources."""

from __future__ import annotations

import json
import logging
import os
import signal
import time
from pathlib import Path

import dask
import pytest
from distributed import Client, Nanny, Scheduler, SpecCluster, get_task_stream

from triggerbench.errors import UserInputError
from triggerbench.farm.dispatch import run_jobs, scheduler_config, worker_resources
from triggerbench.farm.plan import FarmJob, expand
from triggerbench.measure.settings import MeasureSettings
from triggerbench.plan import Plan, RunSection

#: Each worker advertises one device; two share the CPU kind, so a killed one has a stand-in.
WORKERS = {"cpu-a": {"cpu": 1}, "cpu-b": {"cpu": 1}, "gpu-c": {"gpu": 1}}
#: The shortest windows a job measures in: these tests check where records go, not speed.
TINY = MeasureSettings.quick().model_copy(
    update={"min_duration_s": 0.05, "min_query_count": 5, "repeats": 1, "accuracy_samples": 64}
)


@pytest.fixture(scope="module")
def client():
    spec = {
        name: {"cls": Nanny, "options": {"nthreads": 1, "resources": res, "host": "127.0.0.1"}}
        for name, res in WORKERS.items()
    }
    scheduler = {"cls": Scheduler, "options": {"host": "127.0.0.1", "dashboard_address": None}}
    with (
        dask.config.set(scheduler_config(retries=2)),
        SpecCluster(workers=spec, scheduler=scheduler, silence_logs=logging.ERROR) as cluster,
        Client(cluster) as client,
    ):
        client.wait_for_workers(len(WORKERS), timeout=120)
        yield client


def farm_jobs(
    tmp_path: Path, runners: list[str], batches: list[int], timeout_s: float = 300
) -> list[FarmJob]:
    run = RunSection(workloads=["standin-cnn"], runners=runners, batch_sizes=batches, timeout_s=timeout_s)
    return expand(Plan(run=run, measure=TINY), tmp_path / "plan.toml", tmp_path / "out")


@pytest.fixture(scope="module")
def shared(tmp_path_factory) -> Path:
    """One folder for the workload's context, built once by this (the driver's) process."""
    return tmp_path_factory.mktemp("shared")


def written(out: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(out.glob("*.json"))]


def test_jobs_land_only_on_workers_with_their_resources(client, tmp_path, shared) -> None:
    jobs = farm_jobs(tmp_path, ["null", "keras-gpu"], [1, 2])
    with get_task_stream(client) as stream:
        done = run_jobs(client, jobs, tmp_path / "out", shared_dir=shared)
    assert (done.written, done.unrecorded) == (4, [])
    names = {addr: info["name"] for addr, info in client.scheduler_info()["workers"].items()}
    ran_on = {t["key"]: names.get(t["worker"]) for t in stream.data}
    by_runner = {fj.job.runner: set() for fj in jobs}
    for fj in jobs:
        key = next(k for k in ran_on if fj.job.run_id in str(k))
        by_runner[fj.job.runner].add(ran_on[key])
    assert by_runner["keras-gpu"] == {"gpu-c"}
    assert by_runner["null"] <= {"cpu-a", "cpu-b"} and by_runner["null"]
    statuses = {(r["runner"]["name"], r["status"]) for r in written(tmp_path / "out")}
    # No GPU here: keras-gpu is skipped with its reason, on the only worker that says it has one.
    assert statuses == {("null", "ok"), ("keras-gpu", "skipped")}


def test_a_crashing_or_hanging_job_is_a_failed_record_and_the_plan_finishes(client, tmp_path, shared) -> None:
    # Only the hanging job has a short timeout: the others may take long to start on a busy host.
    jobs = farm_jobs(tmp_path, ["fake_runners:DyingRunner", "null"], [1])
    jobs += farm_jobs(tmp_path, ["fake_runners:HangingRunner"], [1], timeout_s=5)
    done = run_jobs(client, jobs, tmp_path / "out", shared_dir=shared)
    assert (done.written, done.failed, done.unrecorded) == (3, 2, [])
    errors = {
        r["runner"]["name"]: (r["status"], (r["error"] or {}).get("type")) for r in written(tmp_path / "out")
    }
    assert errors == {
        "fake_runners:DyingRunner": ("failed", "WorkerDied"),
        "fake_runners:HangingRunner": ("failed", "Timeout"),
        "null": ("ok", None),
    }


def test_a_plan_needing_a_resource_no_worker_has_fails_before_submitting(client, tmp_path) -> None:
    jobs = farm_jobs(tmp_path, ["null", "vart"], [1])
    started = time.monotonic()
    with pytest.raises(
        UserInputError, match=r"no worker has the resources these jobs need: vart=1 \(runner vart\)"
    ):
        run_jobs(client, jobs, tmp_path / "out")
    assert time.monotonic() - started < 30  # refused, not waited for
    assert not any(client.processing().values())  # nothing was submitted
    assert not (tmp_path / "out").exists()


def test_a_worker_killed_mid_plan_loses_no_record_and_duplicates_none(client, tmp_path, shared) -> None:
    jobs = farm_jobs(tmp_path, ["null"], [1, 2, 3, 4, 5, 6])
    pids = client.run(os.getpid)
    killed: list[str] = []

    def kill_a_busy_cpu_worker(fj, record) -> None:
        if killed:
            return
        busy = [addr for addr, keys in client.processing().items() if keys and addr in pids]
        busy = [addr for addr in busy if worker_resources(client).get(addr, {}).get("cpu")]
        if busy:  # the first record is in and jobs are still running: take one worker down
            os.kill(pids[busy[0]], signal.SIGKILL)
            killed.append(busy[0])

    done = run_jobs(client, jobs, tmp_path / "out", on_record=kill_a_busy_cpu_worker, shared_dir=shared)
    assert killed, "no worker was busy after the first record"
    records = written(tmp_path / "out")
    assert (done.written, done.duplicates, done.unrecorded) == (6, 0, [])
    assert sorted(r["run_id"] for r in records) == sorted(fj.job.run_id for fj in jobs)
    assert {r["status"] for r in records} == {"ok"}
    client.wait_for_workers(len(WORKERS), timeout=120)  # the nanny restarts it


def test_a_worker_without_a_shared_folder_builds_the_context_itself(tmp_path) -> None:
    """The task as a worker runs it, called here directly: it builds the workload, then measures."""
    from triggerbench.farm.task import measure_job
    from triggerbench.schema import BenchmarkRecord

    (fj,) = farm_jobs(tmp_path, ["null"], [1])
    record = BenchmarkRecord.model_validate_json(measure_job(fj.workload, fj.job.model_dump_json()))
    assert (record.run_id, record.status, record.workload.name) == (fj.job.run_id, "ok", "standin-cnn")
