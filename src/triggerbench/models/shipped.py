"""Shipped reference models: ``.keras`` files in package data, listed in ``manifest.json``.

The manifest holds, per model, its file, content hash, parameter count, the training
configuration and wall time, and the task metrics it reached on a fresh simulated sample.
``triggerbench train --all --ship`` rewrites both (see README for how long it takes).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from triggerbench.errors import TriggerbenchError, UserInputError
from triggerbench.models.artifact import sha256_file

SHIPPED_DIR = Path(__file__).parent / "shipped"
MANIFEST = SHIPPED_DIR / "manifest.json"
#: Manifest format history: 1 = first version (models: file, sha256, metrics, training).
MANIFEST_FORMAT = 1


class CorruptArtifactError(TriggerbenchError):
    """A shipped file whose content hash differs from the manifest's."""


@cache
def manifest() -> dict[str, Any]:
    """The shipped models' manifest (empty when no model has been shipped yet)."""
    if not MANIFEST.exists():
        return {"format": MANIFEST_FORMAT, "models": {}}
    data = json.loads(MANIFEST.read_text())
    if data.get("format") != MANIFEST_FORMAT:
        raise TriggerbenchError(f"{MANIFEST}: manifest format {data.get('format')} is not {MANIFEST_FORMAT}")
    return data


def entry(name: str) -> dict[str, Any]:
    """The manifest entry of shipped model ``name``."""
    models = manifest()["models"]
    if name not in models:
        known = ", ".join(sorted(models)) or "none"
        raise UserInputError(f"no shipped model {name!r}; shipped models: {known}")
    return models[name]


def verified_path(name: str, folder: Path = SHIPPED_DIR) -> Path:
    """Path of shipped model ``name`` after checking its hash against the manifest."""
    meta = entry(name)
    path = folder / meta["file"]
    if not path.is_file():
        raise CorruptArtifactError(f"shipped model {name!r} is missing its file {path}")
    actual = sha256_file(path)
    if actual != meta["sha256"]:
        raise CorruptArtifactError(
            f"shipped model {name!r} is corrupt: sha256 {actual[:12]}... differs from the "
            f"manifest's {meta['sha256'][:12]}...; reinstall triggerbench or run "
            "`triggerbench train --all --ship`"
        )
    return path
