"""``triggerbench hosts``: what this host has, the runners it enables, the Dask resources it advertises."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from triggerbench.cli.app import app
from triggerbench.cli.display import console

_HOST_CONFIG_HELP = "Host configuration (TOML): resources to add or override, the VART worker command."


def worker_command_line(resources: dict[str, float], vart_worker_command: str | None) -> str:
    """The shell line that starts this host's Dask worker (the scheduler's address left to fill)."""
    from triggerbench.farm.resources import format_resources
    from triggerbench.runners.vart import WORKER_ENV

    env = f"{WORKER_ENV}={shlex.quote(vart_worker_command)} " if vart_worker_command else ""
    # One thread per device resource: jobs on different devices of the host may overlap.
    return (
        f"{env}dask worker tcp://SCHEDULER:8786 --nworkers 1 --nthreads {max(1, len(resources))} "
        f'--resources "{format_resources(resources)}"'
    )


@app.command()
def hosts(
    host_config: Annotated[
        Path | None,
        typer.Option(help=_HOST_CONFIG_HELP, show_default="$TRIGGERBENCH_HOST_CONFIG, else none"),
    ] = None,
) -> None:
    """Show this host's devices, the runners they enable and the Dask resources its worker advertises."""
    from triggerbench.farm.capabilities import detect
    from triggerbench.farm.host_config import load_host_config

    caps = detect(load_host_config(host_config))
    cards = [f"{c.model or '?'} ({c.bdf}, {c.shell})" for c in caps.alveo_cards]
    found = {
        "CPU": f"{caps.cpu_model or 'unknown model'}, {caps.cpu_cores} cores",
        "NVIDIA GPUs": ", ".join(caps.gpus) or f"none: {caps.gpu_reason}",
        "Alveo cards": ", ".join(cards) or f"none: {caps.alveo_reason}",
        "HLS tools": ", ".join(f"{t} ({p})" for t, p in caps.hls_tools.items()) or "none on PATH",
        "VART worker": caps.vart_worker_command or "none configured",
    }
    devices = Table(title="this host")
    devices.add_column("what")
    devices.add_column("found")
    for what, text in found.items():
        devices.add_row(what, escape(text))  # tool output and paths are text, never markup
    console.print(devices)
    runners = Table(title="runners")
    for column in ("runner", "enabled", "reason"):
        runners.add_column(column)
    for s in caps.runners:
        runners.add_row(escape(s.name), "[green]yes[/]" if s.available else "[red]no[/]", escape(s.reason))
    console.print(runners)
    resources = Table(title="Dask resources")
    resources.add_column("resource")
    resources.add_column("capacity", justify="right")
    for name, value in caps.resources.items():
        resources.add_row(escape(name), f"{value:g}")
    console.print(resources)
    console.print("start this host's worker with:")
    console.print(worker_command_line(caps.resources, caps.vart_worker_command), markup=False, soft_wrap=True)
