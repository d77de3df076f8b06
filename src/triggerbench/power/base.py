"""What every power meter provides: energy over a window, with its source and scope."""

from __future__ import annotations

import abc
from dataclasses import dataclass, field


@dataclass(frozen=True)
class EnergyWindow:
    """Energy read over one measurement window."""

    energy_j: float
    duration_s: float
    #: The energy split by the meter's domains (``package-0``, ``dram-0``, ``gpu-0``), if it has any.
    by_domain_j: dict[str, float] = field(default_factory=dict)

    @property
    def power_mean_w(self) -> float:
        """Mean power over the window."""
        return self.energy_j / self.duration_s if self.duration_s > 0 else 0.0


class PowerMeter(abc.ABC):
    """A meter read at the edges of a measurement window.

    Reading happens at ``start`` and ``stop`` (counters) or in a background thread or process
    (polling): never inside the measured loop.
    """

    #: The record's ``power.source`` value, e.g. "measured-rapl".
    source: str
    #: What the meter covers, e.g. "CPU packages 0-1 (whole socket, not just this process)".
    scope: str
    #: The shortest window the meter resolves (a counter's update period, a few poll intervals);
    #: a shorter measurement gets a lengthened energy window (``measure.energy``).
    min_window_s: float = 0.0

    @classmethod
    @abc.abstractmethod
    def available(cls) -> tuple[bool, str]:
        """Whether the meter can be read here, and why not."""

    @abc.abstractmethod
    def start(self) -> None:
        """Open the window."""

    @abc.abstractmethod
    def stop(self) -> EnergyWindow:
        """Close the window and return its energy."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release what the meter holds (threads, handles)."""
