"""A test double of NVML (nvidia-ml-py's ``pynvml``) with GPUs that draw a set power.

``install(monkeypatch, [FakeGpu(...)])`` replaces the ``pynvml`` functions that triggerbench and
Zeus call with ones answering from the fake GPUs, and resets Zeus' GPU singleton, so that Zeus'
own ``NVIDIAGPUs`` and ``ZeusMonitor`` run unchanged on top. As on a real board (Volta or newer),
the total-energy counter is in millijoules and advances in steps of the driver's update period,
so a window shorter than ``update_period_s`` can read 0 J.
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass, field


@dataclass
class FakeGpu:
    """One GPU: NVML's answers, and the power it draws (change ``power_w`` to load it)."""

    name: str = "NVIDIA H200"
    power_w: float = 100.0
    update_period_s: float = 0.02
    architecture: int = 9  # NVML_DEVICE_ARCH_HOPPER (>= VOLTA: the energy counter exists)
    compute_capability: tuple[int, int] = (9, 0)
    memory_total_bytes: int = 141 * 2**30
    power_limit_mw: int | None = 700_000
    uuid: str = "GPU-00000000-1111-2222-3333-444444444444"
    _energy_mj: float = 0.0
    _last_s: float = field(default_factory=time.monotonic)

    def energy_mj(self) -> int:
        """The counter: energy accumulated at ``power_w``, updated once per period."""
        now = time.monotonic()
        steps = math.floor((now - self._last_s) / self.update_period_s)
        if steps > 0:
            self._energy_mj += steps * self.update_period_s * self.power_w * 1000.0
            self._last_s += steps * self.update_period_s
        return int(self._energy_mj)


class _Handle:
    def __init__(self, gpu: FakeGpu) -> None:
        self.gpu = gpu


def install(monkeypatch, gpus: list[FakeGpu], driver: str = "580.65.06", cuda: int = 13000) -> list[FakeGpu]:
    """Make ``pynvml`` answer with ``gpus`` for the rest of the test; returns them."""
    import pynvml

    def handle(index):
        if not 0 <= index < len(gpus):
            raise pynvml.NVMLError(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        return _Handle(gpus[index])

    def not_supported(*_args):
        raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)

    def power_limit(h):
        if h.gpu.power_limit_mw is None:
            not_supported()
        return h.gpu.power_limit_mw

    def memory(h):
        return type("Memory", (), {"total": h.gpu.memory_total_bytes, "free": 0, "used": 0})()

    fake = {
        "nvmlInit": lambda: None,
        "nvmlShutdown": lambda: None,
        "nvmlDeviceGetCount": lambda: len(gpus),
        "nvmlDeviceGetHandleByIndex": handle,
        "nvmlDeviceGetName": lambda h: h.gpu.name,
        "nvmlDeviceGetUUID": lambda h: h.gpu.uuid,
        "nvmlDeviceGetArchitecture": lambda h: h.gpu.architecture,
        "nvmlDeviceGetC2cModeInfoV": not_supported,  # not a Grace Hopper superchip
        "nvmlDeviceGetTotalEnergyConsumption": lambda h: h.gpu.energy_mj(),
        "nvmlDeviceGetPowerUsage": lambda h: int(h.gpu.power_w * 1000),
        "nvmlDeviceGetCudaComputeCapability": lambda h: h.gpu.compute_capability,
        "nvmlDeviceGetMemoryInfo": memory,
        "nvmlDeviceGetEnforcedPowerLimit": power_limit,
        "nvmlSystemGetDriverVersion": lambda: driver,
        "nvmlSystemGetCudaDriverVersion_v2": lambda: cuda,
    }
    for name, fn in fake.items():
        monkeypatch.setattr(pynvml, name, fn)
    reset_zeus(monkeypatch)
    return gpus


def install_no_driver(monkeypatch) -> None:
    """NVML as on a host without the NVIDIA driver: ``nvmlInit`` fails as the real one does."""
    import pynvml

    def no_library():
        raise pynvml.NVMLError(pynvml.NVML_ERROR_LIBRARY_NOT_FOUND)

    monkeypatch.setattr(pynvml, "nvmlInit", no_library)
    reset_zeus(monkeypatch)


def reset_zeus(monkeypatch) -> None:
    """Forget what Zeus found earlier in this process: its device singletons and cached checks.

    Each cached check is replaced by a fresh cached copy for this test (undone afterwards).
    """
    import zeus.device.cpu as zeus_cpu
    import zeus.device.cpu.rapl as zeus_rapl
    import zeus.device.gpu as zeus_gpu
    import zeus.device.gpu.nvidia as zeus_nvidia

    monkeypatch.setattr(zeus_gpu, "_gpus", None)
    monkeypatch.setattr(zeus_cpu, "_cpus", None)
    for module, name, home in (
        (zeus_gpu, "nvml_is_available", zeus_nvidia),
        (zeus_cpu, "rapl_is_available", zeus_rapl),
    ):
        fresh = functools.lru_cache(maxsize=1)(getattr(home, name).__wrapped__)
        monkeypatch.setattr(module, name, fresh)
        monkeypatch.setattr(home, name, fresh)
