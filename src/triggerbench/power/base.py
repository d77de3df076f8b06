"""What every power meter provides: energy over a window, with its source and scope."""

from __future__ import annotations

import abc
from dataclasses import dataclass


@dataclass(frozen=True)
class EnergyWindow:
    """Energy read over one measurement window."""

    energy_j: float
    duration_s: float

    @property
    def power_mean_w(self) -> float:
        """Mean power over the window."""
        return self.energy_j / self.duration_s if self.duration_s > 0 else 0.0


class PowerMeter(abc.ABC):
    """A meter read at the edges of a measurement window."""

    #: The record's ``power.source`` value, e.g. "measured-rapl".
    source: str
    #: What the meter covers, e.g. "CPU packages 0-1 (whole socket, not just this process)".
    scope: str

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
