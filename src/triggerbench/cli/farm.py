"""``triggerbench farm ...``: the nightly farm's sub-commands register on ``farm_app``.

``farm run`` is here; ``farm check`` (regressions over the nights' history) is in ``cli.history``.
"""

from __future__ import annotations

import contextlib
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from triggerbench.cli.app import app
from triggerbench.cli.display import err_console, run_display
from triggerbench.errors import UserInputError

farm_app = typer.Typer(
    no_args_is_help=True,
    help="Run a plan on a Dask cluster of hosts and check nightly history for regressions.",
)
app.add_typer(farm_app, name="farm")

#: What ``farm run`` prints of each record as it is written (``reports.summary``'s columns).
FARM_COLUMNS = ("runner", "scenario", "batch", "verdict", "throughput", "p50", "p99")


@farm_app.command("run")
def farm_run(
    plan: Annotated[
        Path, typer.Argument(help="Plan file (TOML), as for `run --plan`, with workloads = [...].")
    ],
    out: Annotated[Path | None, typer.Option(help="Folder for the night's result files.")] = None,
    history: Annotated[
        Path | None,
        typer.Option(
            help="History root: the records go to a new night folder in it, named by date, "
            "commit and the workers' hosts (instead of --out).",
        ),
    ] = None,
    scheduler: Annotated[
        str,
        typer.Option(
            help="Dask scheduler address (tcp://HOST:8786, tls://HOST:8786), or 'local': "
            "a cluster on this host, on loopback, with this host's resources."
        ),
    ] = "local",
    workers: Annotated[
        int, typer.Option(min=1, help="Worker processes of a local cluster (each advertises this host).")
    ] = 1,
    retries: Annotated[
        int,
        typer.Option(min=0, help="Times a job is run again after its worker died or its task raised."),
    ] = 2,
    job_timeout: Annotated[
        float | None,
        typer.Option(
            "--job-timeout",
            min=0.001,
            help="Seconds one measurement may take.",
            show_default="the plan's timeout_s",
        ),
    ] = None,
    shared_dir: Annotated[
        Path | None,
        typer.Option(
            help="A folder every worker reads (NFS, AFS, EOS): each workload is built there once, "
            "by this driver, and every worker measures those very files.",
            show_default="a temp folder for 'local'; else none: each worker builds its own",
        ),
    ] = None,
    host_config: Annotated[
        Path | None,
        typer.Option(
            help="Host configuration (TOML) for a local cluster's resources.",
            show_default="$TRIGGERBENCH_HOST_CONFIG, else none",
        ),
    ] = None,
) -> None:
    """Fan a plan out over a Dask cluster: one job per workload, runner, scenario and batch."""
    from triggerbench import environment
    from triggerbench.farm import dispatch
    from triggerbench.farm.capabilities import detect
    from triggerbench.farm.history import night_name
    from triggerbench.farm.host_config import load_host_config
    from triggerbench.farm.plan import expand
    from triggerbench.files import ensure_writable
    from triggerbench.plan import load_plan
    from triggerbench.reports import summary

    if (out is None) == (history is None):
        raise UserInputError("give exactly one of --out DIR or --history ROOT")
    loaded = load_plan(plan)
    expand(loaded, plan, out or Path(history), job_timeout)  # a plan it cannot expand fails here, first
    resources = detect(load_host_config(host_config)).resources if scheduler == dispatch.LOCAL else {}
    with contextlib.ExitStack() as stack:
        if shared_dir is None and scheduler == dispatch.LOCAL:  # the workers are on this host
            shared_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="triggerbench-farm-")))
        client = stack.enter_context(
            dispatch.connect(scheduler, resources, n_workers=workers, retries=retries)
        )
        if history is not None:
            when, commit = datetime.now(UTC), environment.capture().git_commit
            out = history / night_name(when, commit, dispatch.worker_hosts(client))
        jobs = expand(loaded, plan, out, job_timeout)
        out_dir = ensure_writable(out)
        runner_width = max(len(fj.job.runner) for fj in jobs)
        widths = [
            max(len(h), runner_width if c == "runner" else 9)
            for c, h in zip(FARM_COLUMNS, summary.headers(FARM_COLUMNS), strict=True)
        ]
        with run_display(len(jobs)) as shown:
            shown.doing(f"{len(jobs)} job(s) on {scheduler}")

            def on_record(fj, record) -> None:
                shown.say(
                    f"{fj.workload}  " + summary.aligned([summary.cells(record, FARM_COLUMNS)], widths)[0]
                )
                shown.advance()

            done = dispatch.run_jobs(
                client, jobs, out_dir, retries=retries, on_record=on_record, shared_dir=shared_dir
            )
    for line in done.unrecorded:
        err_console.print(f"[red]not recorded[/] {escape(line)}", highlight=False, soft_wrap=True)
    err_console.print(
        f"{done.written} of {done.n_jobs} record(s) written to {out_dir}"
        + (f"; {done.failed} failed (their records say why)" if done.failed else ""),
        highlight=False,
        soft_wrap=True,
    )
    if done.failed or done.unrecorded:
        raise typer.Exit(1)
