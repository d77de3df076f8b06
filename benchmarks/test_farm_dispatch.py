"""What the farm adds to a job: the same null-runner jobs run directly and through a LocalCluster.

Each job measures in its own child process either way (``run_isolated``); through the farm it is
also submitted to Dask, run by a worker, and its record sent back as JSON, validated and written
by the driver. Goal (issue 17): under 1 s per job beyond the job itself. The worker is warmed up
first (imports, the shared context), as a farm's long-lived workers are.
"""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path

import dask
from distributed import Client, LocalCluster

from triggerbench.farm.contexts import driver_context, share
from triggerbench.farm.dispatch import run_jobs, scheduler_config
from triggerbench.farm.plan import FarmJob, expand
from triggerbench.measure.isolate import run_isolated
from triggerbench.measure.settings import MeasureSettings
from triggerbench.plan import Plan, RunSection

GOAL_OVERHEAD_PER_JOB_S = 1.0
#: Tiny windows: the job's own time is not what is measured here, only what the farm adds.
TINY = MeasureSettings.quick().model_copy(
    update={"min_duration_s": 0.05, "min_query_count": 5, "repeats": 1, "accuracy_samples": 64}
)


def _jobs(n: int, base: Path, name: str) -> list[FarmJob]:
    run = RunSection(workloads=["standin-cnn"], runners=["null"], batch_sizes=list(range(1, n + 1)))
    return expand(Plan(run=run, measure=TINY), base / "plan.toml", base / name)


def test_dispatch_overhead_per_job(benchmark, triggerbench):
    n_jobs = 5 if triggerbench.quick else 20
    base = Path(tempfile.mkdtemp(prefix="triggerbench-farm-bench-"))
    shared = base / "shared"
    ctx = driver_context("standin-cnn", TINY.model_dump_json())
    ctx_dir = share(ctx, shared / "direct")

    t0 = time.perf_counter()
    for fj in _jobs(n_jobs, base, "direct"):
        run_isolated(ctx, ctx_dir, fj.job, on_progress=lambda event: None)
    direct_s = time.perf_counter() - t0

    cluster_options = dict(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1")
    with (
        dask.config.set(scheduler_config(2)),
        LocalCluster(
            **cluster_options, dashboard_address=None, resources={"cpu": 1}, silence_logs=logging.ERROR
        ) as cluster,
        Client(cluster) as client,
    ):
        run_jobs(client, _jobs(1, base, "warm-up"), base / "warm-up", shared_dir=shared)
        t0 = time.perf_counter()
        summary = benchmark.pedantic(
            run_jobs,
            args=(client, _jobs(n_jobs, base, "farm"), base / "farm"),
            kwargs={"shared_dir": shared},
            rounds=1,
            iterations=1,
        )
        farm_s = time.perf_counter() - t0

    overhead_s = (farm_s - direct_s) / n_jobs
    benchmark.extra_info.update(direct_s=direct_s, farm_s=farm_s, overhead_per_job_s=overhead_s, jobs=n_jobs)
    triggerbench.note(
        "farm dispatch",
        f"{n_jobs} null jobs: direct {direct_s / n_jobs:.2f} s/job, through a LocalCluster "
        f"{farm_s / n_jobs:.2f} s/job: {overhead_s:+.2f} s/job (goal < {GOAL_OVERHEAD_PER_JOB_S:g} s)",
    )
    assert summary.written == n_jobs and summary.failed == 0
    assert overhead_s < GOAL_OVERHEAD_PER_JOB_S, f"the farm adds {overhead_s:.2f} s per job"
