"""Bring records written by older schema versions up to ``SCHEMA_VERSION``; refuse newer ones.

Each step ``_v{N}_to_v{N+1}`` edits the raw dict; add one whenever ``SCHEMA_VERSION`` grows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from triggerbench import precision
from triggerbench.errors import SchemaVersionError
from triggerbench.schema import SCHEMA_VERSION


def _v1_to_v2(raw: dict[str, Any]) -> dict[str, Any]:
    """``fpga`` became a list of figure sets, each naming its source."""
    fpga = raw.get("fpga")
    # Only a well-formed section is filled in; anything else is wrapped as it is, so that the
    # schema's validation names what is wrong with it (a migration never crashes on bad input).
    if isinstance(fpga, dict) and isinstance(fpga.get("null_reasons", {}), dict):
        fpga = {**fpga, "null_reasons": dict(fpga.get("null_reasons", {}))}  # leave the input as it is
        added = ("method", "target_clock_period_ns", "latency_best_cycles", "interval_min_cycles", "carry")
        for name in added:
            if fpga.get(name) is None:
                fpga["null_reasons"].setdefault(name, "not recorded by schema version 1")
    raw["fpga"] = [] if fpga is None else [fpga]
    return raw


def _v2_to_v3(raw: dict[str, Any]) -> dict[str, Any]:
    """``environment.git_dirty`` and ``power_nominal`` were added; version 2 had neither."""
    if isinstance(raw.get("environment"), dict):
        raw["environment"] = {**raw["environment"], "git_dirty": None}
    raw.setdefault("power_nominal", None)
    return raw


def _v3_to_v4(raw: dict[str, Any]) -> dict[str, Any]:
    """Power sections gained ``window_s`` and ``idle``; version 3 measured neither.

    The runner's device model, GPU and timing and the scenario's requests in flight are new
    optional fields whose defaults (unknown; one request at a time) are what version 3 did.
    """
    for key in ("power", "power_nominal"):
        section = raw.get(key)
        if isinstance(section, dict) and isinstance(section.get("null_reasons", {}), dict):
            reasons = dict(section.get("null_reasons", {}))
            for name in ("window_s", "idle"):
                if section.get(name) is None:
                    reasons.setdefault(name, "not recorded by schema version 3")
            raw[key] = {**section, "null_reasons": reasons}
    return raw


def _v4_to_v5(raw: dict[str, Any]) -> dict[str, Any]:
    """Precisions in one vocabulary (``hgq2`` -> ``fixed-point (per layer ...)``).

    The workload's input dtype, fixed batch and quantization are new optional fields: version 4
    did not record them (null).
    """
    runner = raw.get("runner")
    if isinstance(runner, dict) and isinstance(runner.get("precision"), str):
        raw["runner"] = {**runner, "precision": precision.upgrade(runner["precision"])}
    return raw


#: version -> function that turns a record of that version into the next version.
def _v5_to_v6(raw: dict[str, Any]) -> dict[str, Any]:
    """``profile`` was added (a new record kind); a version-5 record holds none."""
    raw.setdefault("profile", None)
    return raw


STEPS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {
    1: _v1_to_v2,
    2: _v2_to_v3,
    3: _v3_to_v4,
    4: _v4_to_v5,
    5: _v5_to_v6,
}


#: How a parsed JSON value that is not an object is named in the error (else: a number).
_JSON_TYPES = {list: "a JSON array", str: "a JSON string", bool: "a JSON boolean", type(None): "null"}


def migrate(raw: Any, source: str | None = "record") -> dict[str, Any]:
    """Return ``raw`` at the current schema version, or raise a one-line ``SchemaVersionError``.

    ``raw`` is one parsed JSON value; anything but an object with an integer ``schema_version``
    is refused. ``source`` names the record in the message (``"{source}: ..."``); None leaves it
    out. The result is not validated yet: the schema's validation comes after.
    """
    where = f"{source}: " if source is not None else ""
    if not isinstance(raw, dict):
        kind = _JSON_TYPES.get(type(raw), "a JSON number")
        raise SchemaVersionError(f"{where}not a triggerbench record ({kind}, not an object)")
    version = raw.get("schema_version")
    if "schema_version" not in raw:
        raise SchemaVersionError(f"{where}not a triggerbench record (no schema_version)")
    if not isinstance(version, int) or isinstance(version, bool):
        raise SchemaVersionError(f"{where}schema_version {repr(version)[:40]} is not a whole number")
    if version > SCHEMA_VERSION:
        raise SchemaVersionError(
            f"{where}written with schema version {version}, newer than this triggerbench "
            f"reads ({SCHEMA_VERSION}); upgrade triggerbench"
        )
    while version < SCHEMA_VERSION:
        if version not in STEPS:
            raise SchemaVersionError(f"{where}schema version {version} has no migration to {SCHEMA_VERSION}")
        raw = STEPS[version](dict(raw))
        version = raw["schema_version"] = version + 1
    return raw
