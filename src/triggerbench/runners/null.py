"""A runner that does no work: measures the harness's own per-query overhead."""

from __future__ import annotations

from typing import Any

import numpy as np

from triggerbench import __version__
from triggerbench.models.artifact import ModelArtifact
from triggerbench.runners.base import Runner, RunnerDescription, RunnerOptions


class NullRunner(Runner):
    """Returns a preallocated zero output of the model's output shape."""

    name = "null"
    formats = ("keras", "onnx")

    @classmethod
    def available(cls) -> tuple[bool, str]:
        """Always available."""
        return True, "no backend needed"

    def prepare(self, artifact: ModelArtifact, options: RunnerOptions) -> None:
        """Allocate the output buffer once."""
        self._out = np.zeros((options.batch_size, *artifact.output_shape), np.float32)

    def infer(self, staged: Any) -> np.ndarray:
        """Return the preallocated output."""
        return self._out

    def describe(self) -> RunnerDescription:
        """Describe the null backend."""
        return RunnerDescription("null", __version__, "none", None, None)
