"""Power meters (RAPL now; NVML and XRT come with their backends) and their common contract."""

from triggerbench.power.base import EnergyWindow, PowerMeter
from triggerbench.power.rapl import RaplMeter

__all__ = ["EnergyWindow", "PowerMeter", "RaplMeter", "default_meter"]


def default_meter() -> tuple[PowerMeter | None, str]:
    """The host's CPU meter if readable, else ``None`` and why."""
    ok, reason = RaplMeter.available()
    return (RaplMeter(), reason) if ok else (None, reason)
