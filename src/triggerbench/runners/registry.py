"""Runner discovery through the ``triggerbench.runners`` entry-point group (built-ins included)."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from importlib.metadata import entry_points

from triggerbench.errors import UserInputError
from triggerbench.runners.base import Runner

GROUP = "triggerbench.runners"


@dataclass(frozen=True)
class RunnerStatus:
    """One registered runner and whether it can run here."""

    name: str
    available: bool
    reason: str
    source: str


def _entry_points() -> dict[str, object]:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def names() -> list[str]:
    """Return the names of every registered runner, sorted."""
    return sorted(_entry_points())


def _load_spec(spec: str) -> type[Runner]:
    """Load ``module:Class`` directly: try a runner before packaging it."""
    module_name, _, attr = spec.partition(":")
    if not all(part.isidentifier() for part in [*module_name.split("."), attr]):
        raise UserInputError(
            f"runner {spec!r}: use module:Class with an importable module (package.module:Class)"
        )
    try:
        cls = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise UserInputError(f"cannot load runner {spec!r}: {exc}") from None
    if not (isinstance(cls, type) and issubclass(cls, Runner)):
        raise UserInputError(f"{spec!r} is not a triggerbench Runner subclass")
    return cls


def get(name: str) -> type[Runner]:
    """Load the runner registered as ``name`` (or given as ``module:Class``).

    Unknown names raise an error that lists the known ones.
    """
    return _get(name, None if ":" in name else _entry_points())


def _get(name: str, eps: dict[str, object] | None) -> type[Runner]:
    if eps is None:
        return _load_spec(name)
    if name not in eps:
        raise UserInputError(f"unknown runner {name!r}; known runners: {', '.join(sorted(eps))}")
    return eps[name].load()  # type: ignore[attr-defined]


def status(name: str) -> RunnerStatus:
    """Load ``name`` and ask whether it can run here (an import failure means 'no', with why)."""
    return _status(name, None if ":" in name else _entry_points())


def _status(name: str, eps: dict[str, object] | None) -> RunnerStatus:
    source = name if eps is None else eps[name].value  # type: ignore[attr-defined]
    try:
        ok, reason = _get(name, eps).available()
    except Exception as exc:  # a broken plugin must not hide the others
        ok, reason = False, f"cannot load {source}: {type(exc).__name__}: {exc}"
    return RunnerStatus(name, ok, reason, source)


def statuses() -> list[RunnerStatus]:
    """Return the status of every registered runner.

    The entry points are read once: each read scans every installed distribution's metadata.
    """
    eps = _entry_points()
    return [_status(n, eps) for n in sorted(eps)]
