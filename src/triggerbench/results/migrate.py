"""Bring records written by older schema versions up to ``SCHEMA_VERSION``; refuse newer ones.

Each step ``_v{N}_to_v{N+1}`` edits the raw dict; add one whenever ``SCHEMA_VERSION`` grows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from triggerbench.errors import SchemaVersionError
from triggerbench.schema import SCHEMA_VERSION


def _v1_to_v2(raw: dict[str, Any]) -> dict[str, Any]:
    """``fpga`` became a list of figure sets, each naming its source."""
    fpga = raw.get("fpga")
    if fpga is not None:
        reasons = fpga.setdefault("null_reasons", {})
        added = ("method", "target_clock_period_ns", "latency_best_cycles", "interval_min_cycles", "carry")
        for name in added:
            if fpga.get(name) is None:
                reasons.setdefault(name, "not recorded by schema version 1")
    raw["fpga"] = [] if fpga is None else [fpga]
    return raw


#: version -> function that turns a record of that version into the next version.
STEPS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _v1_to_v2}


def migrate(raw: dict[str, Any], source: str = "record") -> dict[str, Any]:
    """Return ``raw`` at the current schema version, or raise a one-line ``SchemaVersionError``."""
    version = raw.get("schema_version")
    if not isinstance(version, int):
        raise SchemaVersionError(f"{source}: not a triggerbench record (no schema_version)")
    if version > SCHEMA_VERSION:
        raise SchemaVersionError(
            f"{source}: written with schema version {version}, newer than this triggerbench "
            f"reads ({SCHEMA_VERSION}); upgrade triggerbench"
        )
    while version < SCHEMA_VERSION:
        if version not in STEPS:
            raise SchemaVersionError(
                f"{source}: schema version {version} has no migration to {SCHEMA_VERSION}"
            )
        raw = STEPS[version](dict(raw))
        version = raw["schema_version"] = version + 1
    return raw
