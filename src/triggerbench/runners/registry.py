"""Runner discovery through the ``triggerbench.runners`` entry-point group (built-ins included)."""

from __future__ import annotations

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


def get(name: str) -> type[Runner]:
    """Load the runner class registered as ``name``; unknown names list the known ones."""
    eps = _entry_points()
    if name not in eps:
        raise UserInputError(f"unknown runner {name!r}; known runners: {', '.join(sorted(eps))}")
    return eps[name].load()  # type: ignore[attr-defined]


def status(name: str) -> RunnerStatus:
    """Load ``name`` and ask whether it can run here (an import failure means 'no', with why)."""
    ep = _entry_points()[name]
    try:
        cls = ep.load()  # type: ignore[attr-defined]
        ok, reason = cls.available()
    except Exception as exc:  # a broken plugin must not hide the others
        ok, reason = False, f"cannot load {ep.value}: {type(exc).__name__}: {exc}"  # type: ignore[attr-defined]
    return RunnerStatus(name, ok, reason, ep.value)  # type: ignore[attr-defined]


def statuses() -> list[RunnerStatus]:
    """Return the status of every registered runner."""
    return [status(n) for n in names()]
