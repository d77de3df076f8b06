"""A runner that does no work: measures the harness's own per-query overhead."""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict

from triggerbench import __version__
from triggerbench.models.artifact import ModelArtifact
from triggerbench.runners.base import Runner, RunnerDescription, RunnerOptions


class NullOptions(BaseModel):
    """No ``-O`` options, and every key is ignored rather than refused.

    The null runner has nothing an option could change, and it runs beside the runners it is the
    baseline for (``--runner null,rtl -O latency_cutoff=5``): refusing their bare keys would make
    every such run scope them.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")


class NullRunner(Runner):
    """Returns a preallocated zero output of the model's output shape."""

    name = "null"
    formats = ("keras", "onnx")
    options_model = NullOptions

    @classmethod
    def available(cls) -> tuple[bool, str]:
        """Always available."""
        return True, "no backend needed"

    def prepare(self, artifact: ModelArtifact, options: RunnerOptions) -> None:
        """Allocate the output buffer once."""
        self.parse_options(options.extra)
        self._out = np.zeros((options.batch_size, *artifact.output_shape), np.float32)

    def infer(self, staged: Any) -> np.ndarray:
        """Return the preallocated output."""
        return self._out

    def describe(self) -> RunnerDescription:
        """Describe the null backend."""
        return RunnerDescription("null", __version__, "none", None, None)
