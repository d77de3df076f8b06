"""Test-only runners for the farm (import path: tests/farm on PYTHONPATH)."""

from __future__ import annotations

import os
import signal
from typing import Any

import numpy as np

from triggerbench.runners.null import NullRunner


class WorkerKillingRunner(NullRunner):
    """Kills the process that started its measuring child: on the farm, the Dask worker itself.

    As a machine check or the OOM killer takes a worker down with the job on it.
    """

    name = "worker-killing"

    def infer(self, staged: Any) -> np.ndarray:
        os.kill(os.getppid(), signal.SIGKILL)
        return self._out
