"""An NVIDIA GPU's energy from NVML's total-energy counter, through Zeus."""

from __future__ import annotations

from triggerbench.devices.nvidia import gpu_available, gpu_info
from triggerbench.power.zeus_monitor import ZeusMeter


class NvmlMeter(ZeusMeter):
    """The board energy of one GPU (CUDA index, as the runner counts it)."""

    source = "measured-nvml"
    #: The counter advances in steps of the driver's update period (tens of ms, up to ~100 ms):
    #: shorter windows read 0 J, and a few steps still quantize it by tens of percent.
    min_window_s = 1.0

    def __init__(self, cuda_index: int = 0) -> None:
        super().__init__(gpu_indices=[cuda_index], cpu_indices=[])
        name = gpu_info(cuda_index).name
        self.scope = f"NVML: board energy of GPU {cuda_index} ({name}), including other processes on it"

    @classmethod
    def available(cls, cuda_index: int = 0) -> tuple[bool, str]:
        """NVML answers and the GPU exists (energy counter: Volta or newer, else Zeus polls)."""
        return gpu_available(cuda_index)
