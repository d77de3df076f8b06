"""``triggerbench farm ...``: the nightly farm's sub-commands register on ``farm_app``."""

from __future__ import annotations

import typer

from triggerbench.cli.app import app

farm_app = typer.Typer(
    no_args_is_help=True,
    help="Run a plan on a Dask cluster of hosts and check nightly history for regressions.",
)
app.add_typer(farm_app, name="farm")
