"""Power meters (RAPL for the host CPU, XRT for Alveo cards; NVML comes later) and their contract."""

from triggerbench.power.base import EnergyWindow, PowerMeter
from triggerbench.power.rapl import RaplMeter
from triggerbench.power.xrt import XrtMeter, XrtMeterError, XrtWindow

__all__ = [
    "EnergyWindow",
    "PowerMeter",
    "RaplMeter",
    "XrtMeter",
    "XrtMeterError",
    "XrtWindow",
    "default_meter",
]


def default_meter() -> tuple[PowerMeter | None, str]:
    """The host's CPU meter if readable, else ``None`` and why."""
    ok, reason = RaplMeter.available()
    return (RaplMeter(), reason) if ok else (None, reason)
