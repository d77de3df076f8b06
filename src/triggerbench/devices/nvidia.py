"""NVIDIA GPUs as NVML sees them: whether one is usable here, and what the record says about it.

NVML (``nvidia-ml-py``, import name ``pynvml``) ships with the driver, not with CUDA: it answers
on any host with the driver loaded, whatever CUDA the backends were built for. Indices here are
CUDA's, after ``CUDA_VISIBLE_DEVICES`` (as ONNX Runtime's ``device_id``, JAX and Zeus count).
"""

from __future__ import annotations

import os

from triggerbench.schema import GpuInfo

#: What a GPU runner's isolated child needs: CUDA numbers GPUs fastest first unless told
#: otherwise, while NVML (``gpu_info``, the power meter) and ``nvidia-smi`` number them by PCI
#: bus. With one order, ``device_id`` is the same board for the backend, the record's GPU
#: description and the meter, also on a host with mixed GPUs.
CUDA_ENV = {"CUDA_DEVICE_ORDER": "PCI_BUS_ID"}

#: How a user gets each missing piece (one line each, for ``available()`` reasons).
DRIVER_HINT = "install the NVIDIA driver (nvidia-smi must list the GPU)"


def _pynvml():
    import pynvml  # nvidia-ml-py; a dependency of Zeus

    return pynvml


def _text(value: bytes | str) -> str:
    # nvidia-ml-py returns str since 11.5; older builds return bytes.
    return value.decode() if isinstance(value, bytes) else value


def _nvml_index(cuda_index: int) -> int:
    """The NVML index of CUDA device ``cuda_index`` (NVML ignores ``CUDA_VISIBLE_DEVICES``)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is None:
        return cuda_index
    ids = [v.strip() for v in visible.split(",") if v.strip()]
    if cuda_index >= len(ids) or not ids[cuda_index].isdigit():
        raise LookupError(f"CUDA_VISIBLE_DEVICES={visible!r} has no plain index for CUDA device {cuda_index}")
    return int(ids[cuda_index])


def gpu_available(cuda_index: int = 0) -> tuple[bool, str]:
    """Whether NVML answers and CUDA device ``cuda_index`` exists; else the one-line reason."""
    try:
        nvml = _pynvml()
    except ImportError:
        return False, "nvidia-ml-py is not installed (pip install nvidia-ml-py)"
    try:
        nvml.nvmlInit()
    except nvml.NVMLError as exc:
        return False, f"no NVIDIA GPU driver here (NVML: {exc}); {DRIVER_HINT}"
    try:
        count = nvml.nvmlDeviceGetCount()
        index = _nvml_index(cuda_index)
    except (nvml.NVMLError, LookupError) as exc:
        return False, f"cannot list NVIDIA GPUs: {exc}"
    if index >= count:
        return False, f"no NVIDIA GPU {index}: NVML sees {count} GPU(s)"
    return True, f"NVIDIA GPU {index} of {count}"


def gpu_info(cuda_index: int = 0, cuda_runtime_version: str | None = None) -> GpuInfo:
    """What NVML says about CUDA device ``cuda_index``; figures NVML cannot give are left None.

    Args:
        cuda_index: The device as the backend counts it (after ``CUDA_VISIBLE_DEVICES``).
        cuda_runtime_version: The CUDA the backend was built for, if the backend says.

    Raises:
        pynvml.NVMLError: NVML cannot be initialised or the device does not exist.
    """
    nvml = _pynvml()
    nvml.nvmlInit()
    index = _nvml_index(cuda_index)
    handle = nvml.nvmlDeviceGetHandleByIndex(index)

    def ask(fn, *args):
        try:
            return fn(*args)
        except nvml.NVMLError:  # NOT_SUPPORTED on some boards (e.g. power limit in a VM)
            return None

    cuda = ask(nvml.nvmlSystemGetCudaDriverVersion_v2)
    capability = ask(nvml.nvmlDeviceGetCudaComputeCapability, handle)
    memory = ask(nvml.nvmlDeviceGetMemoryInfo, handle)
    limit_mw = ask(nvml.nvmlDeviceGetEnforcedPowerLimit, handle)
    uuid = ask(nvml.nvmlDeviceGetUUID, handle)
    driver = ask(nvml.nvmlSystemGetDriverVersion)
    return GpuInfo(
        index=index,
        name=_text(nvml.nvmlDeviceGetName(handle)),
        uuid=_text(uuid) if uuid is not None else None,
        driver_version=_text(driver) if driver is not None else None,
        # NVML encodes CUDA 12.4 as 12040.
        cuda_driver_version=f"{cuda // 1000}.{cuda % 1000 // 10}" if cuda else None,
        cuda_runtime_version=cuda_runtime_version,
        compute_capability=f"{capability[0]}.{capability[1]}" if capability else None,
        memory_total_bytes=int(memory.total) if memory is not None else None,
        power_limit_w=limit_mw / 1000.0 if limit_mw is not None else None,
    )
