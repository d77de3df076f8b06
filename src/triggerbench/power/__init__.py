"""Power meters behind one contract: RAPL (CPU) and NVML (GPU) through Zeus, XRT for Alveo cards."""

from triggerbench.power.base import EnergyWindow, PowerMeter
from triggerbench.power.nvml import NvmlMeter
from triggerbench.power.rapl import RaplMeter
from triggerbench.power.xrt import XrtMeter, XrtMeterError, XrtWindow
from triggerbench.power.zeus_monitor import EmptyMeasurementError

__all__ = [
    "EmptyMeasurementError",
    "EnergyWindow",
    "NvmlMeter",
    "PowerMeter",
    "RaplMeter",
    "XrtMeter",
    "XrtMeterError",
    "XrtWindow",
    "default_meter",
    "gpu_meter",
]


def _open(make, reason: str) -> tuple[PowerMeter | None, str]:
    try:
        return make(), reason
    except Exception as exc:  # a meter that cannot start loses the power figures, not the run
        return None, f"power meter failed to start: {type(exc).__name__}: {exc}"


def default_meter() -> tuple[PowerMeter | None, str]:
    """The host CPU's meter (RAPL) if readable, else ``None`` and why."""
    ok, reason = RaplMeter.available()
    return _open(RaplMeter, reason) if ok else (None, reason)


def gpu_meter(cuda_index: int) -> tuple[PowerMeter | None, str]:
    """The meter of NVIDIA GPU ``cuda_index`` (NVML), else ``None`` and why."""
    ok, reason = NvmlMeter.available(cuda_index)
    return _open(lambda: NvmlMeter(cuda_index), reason) if ok else (None, reason)
