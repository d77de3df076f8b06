"""Energy counters through Zeus' ``ZeusMonitor``: NVML's total-energy counter and RAPL.

Zeus (``zeus`` on PyPI) owns the counter semantics: NVML's millijoule counter on Volta and
newer (a polling process on older GPUs), RAPL's microjoule counters with a process that counts
wrap-arounds. Its traps, handled here:

- ``end_window``'s default ``sync_execution=True`` synchronizes torch/jax/cupy only: the runners
  here return with outputs on the host already, so windows are opened and closed without it.
- With no GPU and no readable RAPL, Zeus measures nothing and ``total_energy`` is 0: that is
  :class:`EmptyMeasurementError` here, never 0 J.
"""

from __future__ import annotations

import itertools
import logging
import warnings

from triggerbench.errors import TriggerbenchError
from triggerbench.power.base import EnergyWindow, PowerMeter


def quiet_zeus() -> None:
    """Keep Zeus' import-time warnings (e.g. no AMD SMI library on an NVIDIA/Intel host) off the console."""
    logging.getLogger("zeus").setLevel(logging.ERROR)


class EmptyMeasurementError(TriggerbenchError):
    """Zeus returned a window without a single energy domain; the message says why."""


class ZeusMeter(PowerMeter):
    """One ``ZeusMonitor`` over chosen GPUs (CUDA indices) and CPU packages."""

    _keys = itertools.count()

    def __init__(self, gpu_indices: list[int], cpu_indices: list[int]) -> None:
        quiet_zeus()
        from zeus.monitor import ZeusMonitor  # heavy (pandas, scikit-learn): only with a meter

        self._monitor = ZeusMonitor(gpu_indices=gpu_indices, cpu_indices=cpu_indices)
        self._key: str | None = None

    def start(self) -> None:
        """Open a Zeus window (no framework synchronization: outputs are on the host already)."""
        self._key = f"triggerbench-{next(self._keys)}"
        self._monitor.begin_window(self._key, sync_execution=False)

    def stop(self) -> EnergyWindow:
        """Close the window; the energy is the sum over the monitored domains."""
        key, self._key = self._key, None
        with warnings.catch_warnings():
            # Its advice for a zero reading (approximate from instant power) is not taken: a
            # short window is lengthened instead (measure.energy), which the record says.
            warnings.filterwarnings("ignore", message="The energy consumption of one or more GPUs")
            measurement = self._monitor.end_window(key, sync_execution=False)
        domains = {f"gpu-{i}": e for i, e in measurement.gpu_energy.items()}
        domains |= {f"package-{i}": e for i, e in (measurement.cpu_energy or {}).items()}
        domains |= {f"dram-{i}": e for i, e in (measurement.dram_energy or {}).items()}
        if not domains:
            raise EmptyMeasurementError(
                "Zeus measured no energy domain (no NVIDIA GPU and no readable RAPL on this host)"
            )
        return EnergyWindow(energy_j=sum(domains.values()), duration_s=measurement.time, by_domain_j=domains)
