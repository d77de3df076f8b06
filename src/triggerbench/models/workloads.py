"""Named workloads: a model to build (once, cached), its validation set and its task metrics."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from triggerbench.errors import UserInputError
from triggerbench.models import standin
from triggerbench.models.artifact import ModelArtifact, cache_dir, from_keras

VALIDATION_SEED = 20261124


@dataclass(frozen=True)
class Workload:
    """A reference model with its data: what ``--workload NAME`` selects."""

    name: str
    task: str
    model_name: str
    variant: str | None
    version: int
    build: Callable[[], object]
    validation: Callable[[int, int], tuple[np.ndarray, np.ndarray]]
    task_metrics: Callable[[np.ndarray, np.ndarray], dict[str, float]] | None

    def artifact(self) -> ModelArtifact:
        """Build (or reuse from the cache) the Keras model and its exports."""
        import keras

        path = cache_dir() / "workloads" / f"{self.name}-v{self.version}-keras{keras.__version__}.keras"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.stem}.{os.getpid()}.keras")
            self.build().save(tmp)
            os.replace(tmp, path)
        return from_keras(path, name=self.name)


WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in [
        Workload(
            name="standin-cnn",
            task="toy-track-regression",
            model_name="standin_cnn",
            variant=None,
            version=1,
            build=standin.build,
            validation=lambda n, seed: standin.toy_tracks(n, seed),
            task_metrics=standin.task_metrics,
        ),
    ]
}


def get(name: str) -> Workload:
    """Return the workload called ``name``; unknown names list the known ones."""
    if name not in WORKLOADS:
        raise UserInputError(f"unknown workload {name!r}; known workloads: {', '.join(WORKLOADS)}")
    return WORKLOADS[name]
