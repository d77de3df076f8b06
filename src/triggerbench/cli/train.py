"""``triggerbench train``: train the reference models and write their manifest."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from triggerbench.cli.app import app, split
from triggerbench.cli.display import console
from triggerbench.errors import UserInputError


@app.command()
def train(
    all_: Annotated[bool, typer.Option("--all", help="Train every reference model.")] = False,
    model: Annotated[list[str] | None, typer.Option(help="Model name(s), comma-separated.")] = None,
    ship: Annotated[bool, typer.Option(help="Write into the package's shipped models.")] = False,
    out: Annotated[Path, typer.Option(help="Folder for the models (without --ship).")] = Path("trained"),
    quick: Annotated[bool, typer.Option(help="Tiny configurations (smoke test, seconds).")] = False,
    evaluate_only: Annotated[
        bool, typer.Option(help="Measure the trained models' task metrics again; no training.")
    ] = False,
) -> None:
    """Train the reference models (teacher, students, KD, 4-bit, LLP VGG) and their manifest."""
    import time

    from triggerbench.files import ensure_writable
    from triggerbench.models import ship as shipping
    from triggerbench.models import training
    from triggerbench.models.shipped import SHIPPED_DIR

    names = split(model)
    if all_ == bool(names):
        raise UserInputError(f"give --all or --model NAME; models: {', '.join(shipping.MODELS)}")
    unknown = sorted(set(names) - set(shipping.MODELS))
    if unknown:
        raise UserInputError(f"unknown model(s) {', '.join(unknown)}; known: {', '.join(shipping.MODELS)}")
    target = SHIPPED_DIR if ship else out
    configs = training.TINY if quick else training.FULL
    eval_events = {"l0": 2000, "llp": 64} if quick else None
    start = time.perf_counter()
    if evaluate_only:  # the models must be there already: nothing to create
        shipping.reevaluate(target, only=names or None, log=console.print, eval_events=eval_events)
    else:
        shipping.train_all(
            ensure_writable(target), configs, only=names or None, log=console.print, eval_events=eval_events
        )
    console.print(f"done in {time.perf_counter() - start:.0f} s -> {target}/manifest.json")
