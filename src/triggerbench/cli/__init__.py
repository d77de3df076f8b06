"""The ``triggerbench`` command: list, run, profile, report, compare, train, hosts, farm, history.

Each command lives in its own module and registers on one typer application (``cli.app``);
``main`` is the entry point.
"""

from __future__ import annotations

import sys

from rich.markup import escape

from triggerbench import quiet

# Each module registers its commands, in the order --help lists them.
from triggerbench.cli import run  # noqa: F401

# isort: split
from triggerbench.cli import profile  # noqa: F401

# isort: split
from triggerbench.cli import results  # noqa: F401

# isort: split
from triggerbench.cli import train  # noqa: F401

# isort: split
from triggerbench.cli import hosts  # noqa: F401

# isort: split
from triggerbench.cli import farm  # noqa: F401

# isort: split
from triggerbench.cli import history  # noqa: F401

# isort: split
from triggerbench.cli.app import app
from triggerbench.cli.arguments import parse_runner_options, resolve_runners
from triggerbench.cli.display import err_console
from triggerbench.errors import TriggerbenchError

__all__ = ["resolve_runners", "parse_runner_options", "app", "main"]


def main() -> None:
    """Entry point: user mistakes are one line on stderr and exit code 2, never a traceback.

    Ctrl-C is typer's (exit 130) except in ``run``, which stops its child and says where it was.
    """
    quiet.configure()  # before any backend is imported; ``run --verbose`` undoes it
    try:
        app()
    except TriggerbenchError as exc:
        err_console.print(f"[red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(2)
