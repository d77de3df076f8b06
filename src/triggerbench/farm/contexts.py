"""Workload contexts the driver builds once and shares with the workers through a common folder.

Where every worker reads one filesystem (the same host for ``--scheduler local``; NFS, AFS or EOS
on a lab's farm), the driver exports each workload once and saves it with copies of its model
files: every worker then measures the very same artifact bytes and none imports TensorFlow to
rebuild it. Without a shared folder each worker builds its own (``farm.task``), and the records'
artifact hashes show whether the builds agree.
"""

from __future__ import annotations

import dataclasses
import functools
import shutil
from pathlib import Path

from triggerbench.measure.job import Context, build_context
from triggerbench.measure.settings import MeasureSettings


@functools.lru_cache(maxsize=8)
def driver_context(workload: str, settings_json: str) -> Context:
    """The workload's context built in the driver, once per (workload, settings)."""
    return build_context(MeasureSettings.model_validate_json(settings_json), workload=workload)


def share(ctx: Context, folder: Path) -> Path:
    """Save ``ctx`` in ``folder`` with its model files copied beside it; return the folder."""
    files = folder / "artifact"
    files.mkdir(parents=True, exist_ok=True)
    paths = {}
    for fmt, src in ctx.artifact.paths.items():
        dst = files / f"{fmt}-{src.name}"
        if src.is_dir():  # an exported project folder
            shutil.copytree(src, dst, dirs_exist_ok=True)
        else:
            shutil.copy2(src, dst)
        paths[fmt] = dst
    artifact = dataclasses.replace(ctx.artifact, paths=paths)
    return dataclasses.replace(ctx, artifact=artifact).save(folder)


def share_all(keys: set[tuple[str, str]], folder: Path) -> dict[tuple[str, str], str]:
    """Build and share the context of each (workload, settings as JSON); return their folders."""
    return {
        (workload, settings_json): str(
            share(driver_context(workload, settings_json), folder / f"{i}-{workload}")
        )
        for i, (workload, settings_json) in enumerate(sorted(keys))
    }
