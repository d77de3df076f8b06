"""A plan file expanded for the farm: one job per (workload, runner, scenario, batch) with its resources.

The plan is the one ``triggerbench run --plan`` reads, with ``workloads = [...]`` for several
models. Runners are named explicitly: 'all' would mean what the *driver's* host can run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from triggerbench import scenarios as scenario_table
from triggerbench.errors import UserInputError
from triggerbench.farm.resources import resources_for
from triggerbench.measure.job import Job
from triggerbench.models import workloads as workload_table
from triggerbench.plan import Plan
from triggerbench.runners import registry


@dataclass(frozen=True)
class FarmJob:
    """One job as the farm submits it: the workload by name (each worker builds its context)."""

    workload: str
    job: Job
    resources: dict[str, float]

    @property
    def label(self) -> str:
        """``workload runner scenario bBATCH``, for progress lines and messages."""
        return f"{self.workload} {self.job.runner} {self.job.scenario} b{self.job.batch_size}"


def _check(plan: Plan, path: Path) -> None:
    run = plan.run
    if run.model is not None or run.data is not None:
        raise UserInputError(
            f"{path}: the farm runs named workloads only (a model or data file is not copied to the "
            "workers); remove [run] model / data"
        )
    if not run.workload_names():
        raise UserInputError(f'{path}: [run] names no workload; give workloads = ["NAME", ...]')
    if not run.runners or "all" in run.runners or "devices" in run.runners:
        raise UserInputError(
            f"{path}: [run] runners must name each runner for the farm (not 'all': that is what this "
            f"host can run); known runners: {', '.join(registry.names())}"
        )
    for w in run.workload_names():
        workload_table.get(w)  # an unknown name lists the known ones
    known = registry.names()
    for name in run.runners:
        if ":" in name:
            registry.get(name)  # a module:Class that does not load is a typo
        elif name not in known:
            raise UserInputError(f"{path}: unknown runner {name!r}; known runners: {', '.join(known)}")
    scenario_table.check_harness(run.harness)


def expand(plan: Plan, path: Path, out_dir: Path, job_timeout_s: float | None = None) -> list[FarmJob]:
    """Every job of ``plan``: workloads x scenarios x batch sizes x runners (the order ``run`` uses).

    Refuses (one line) what a farm cannot run: no workload, unnamed runners, a model file.
    """
    _check(plan, path)
    run = plan.run
    jobs = []
    for workload in run.workload_names():
        for scenario in run.scenarios or ["single-stream"]:
            for batch in run.batch_sizes or [1]:
                for runner in run.runners:
                    job = Job(
                        runner=runner,
                        scenario=scenario,
                        harness=run.harness,
                        batch_size=batch,
                        threads=run.threads,
                        precision=run.precision,
                        runner_options=run.runner_options,
                        settings=plan.measure,
                        out_dir=out_dir,
                        timeout_s=job_timeout_s or run.timeout_s,
                    )
                    jobs.append(FarmJob(workload, job, resources_for(runner, run.runner_options)))
    return jobs
