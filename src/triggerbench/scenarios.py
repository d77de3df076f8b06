"""The one scenario table: each scenario, the harnesses that can run it, and which one does.

The record's schema, the job, the CLI and the harnesses all read their names from here, so a
scenario is added in one place and a record's harness is always the one that ran.
"""

from __future__ import annotations

from dataclasses import dataclass

from triggerbench.errors import UserInputError

#: ``auto`` runs single-stream in the tight loop below this latency per query, where LoadGen's
#: own cost per query (microseconds) would be a large part of what is measured.
AUTO_TIGHT_LOOP_BELOW_S = 1e-3


@dataclass(frozen=True)
class Scenario:
    """One way of issuing queries, and what runs it."""

    name: str
    #: Harnesses that can run it; with more than one, ``harness_for`` chooses.
    harnesses: tuple[str, ...]
    #: LoadGen's ``TestScenario`` member when LoadGen runs it.
    loadgen: str | None
    #: Whether the harness keeps several requests issued at once (the runner's async queue).
    queued: bool
    #: ``run --scenario`` takes it (``firmware-report`` holds figures read from tool reports).
    runnable: bool
    about: str


TABLE: tuple[Scenario, ...] = (
    Scenario(
        "single-stream",
        ("tight-loop", "loadgen"),
        "SingleStream",
        False,
        True,
        "one query at a time, the next when the last returns: latency",
    ),
    Scenario(
        "multi-stream",
        ("loadgen",),
        "MultiStream",
        False,
        True,
        "a fixed number of samples per query, queries back to back: latency per query",
    ),
    Scenario(
        "server",
        ("loadgen",),
        "Server",
        True,
        True,
        "queries arriving at random (Poisson) times at a target rate: latency under load",
    ),
    Scenario(
        "offline",
        ("loadgen",),
        "Offline",
        True,
        True,
        "every sample issued at once: throughput",
    ),
    Scenario(
        "trigger",
        ("trigger-stream",),
        None,
        False,
        True,
        "events at a fixed rate, each with a deadline: misses and the highest sustained rate",
    ),
    Scenario(
        "firmware-report",
        ("report",),
        None,
        False,
        False,
        "figures read from an HLS tool's synthesis reports (triggerbench ingest)",
    ),
    Scenario(
        "profile",
        ("profiler",),
        None,
        False,
        False,
        "per-layer time or cycles from the backend's own profiler (triggerbench profile)",
    ),
)

SCENARIOS: dict[str, Scenario] = {s.name: s for s in TABLE}
#: Every scenario name a record may hold.
NAMES: tuple[str, ...] = tuple(SCENARIOS)
#: The scenarios ``run`` measures.
RUNNABLE: tuple[str, ...] = tuple(s.name for s in TABLE if s.runnable)
#: Every harness a record may name.
HARNESSES: tuple[str, ...] = tuple(dict.fromkeys(h for s in TABLE for h in s.harnesses))
#: What ``--harness`` takes: ``auto`` or one of the harnesses of a scenario with a choice.
HARNESS_CHOICES: tuple[str, ...] = (
    "auto",
    *dict.fromkeys(h for s in TABLE if len(s.harnesses) > 1 for h in s.harnesses),
)


def table_text() -> str:
    """The runnable scenarios in one line each, for error messages and help."""
    return "; ".join(f"{s.name} ({' or '.join(s.harnesses)}: {s.about})" for s in TABLE if s.runnable)


def get(name: str) -> Scenario:
    """The scenario called ``name``; an unknown name is refused with the table."""
    scenario = SCENARIOS.get(name)
    if scenario is None or not scenario.runnable:
        raise UserInputError(f"unknown scenario {name!r}; the scenarios: {table_text()}")
    return scenario


def queued(name: str | None) -> bool:
    """Whether scenario ``name`` keeps several requests in flight (False for None or unknown)."""
    scenario = SCENARIOS.get(name) if name else None
    return bool(scenario and scenario.queued)


def check_harness(requested: str) -> str:
    """``requested`` if ``--harness`` takes it, else a one-line error listing the choices."""
    if requested not in HARNESS_CHOICES:
        raise UserInputError(f"unknown harness {requested!r}; use {', '.join(HARNESS_CHOICES)}")
    return requested


def harness_for(name: str, requested: str, *, emulator: bool, latency_s: float | None) -> str | None:
    """The harness that runs scenario ``name``; None when only a measured latency can decide.

    ``requested`` applies to scenarios with a choice (single-stream); ``auto`` takes the tight
    loop for an emulator (its speed is a cost: no LoadGen verdict) and below
    ``AUTO_TIGHT_LOOP_BELOW_S`` per query, LoadGen otherwise.
    """
    harnesses = SCENARIOS[name].harnesses
    if len(harnesses) == 1:
        return harnesses[0]
    if requested != "auto":
        return requested
    if emulator:
        return "tight-loop"
    if latency_s is None:
        return None
    return "tight-loop" if latency_s < AUTO_TIGHT_LOOP_BELOW_S else "loadgen"
