"""The command's typer application, which every command module registers on."""

from __future__ import annotations

import typer

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Benchmark one trigger model on every backend; one record per measurement.",
)


def split(values: list[str] | None) -> list[str]:
    """Accept both ``--runner a,b`` and ``--runner a --runner b``."""
    return [v.strip() for value in values or [] for v in value.split(",") if v.strip()]
