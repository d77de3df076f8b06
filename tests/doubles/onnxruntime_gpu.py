"""A test double of the ``onnxruntime-gpu`` build, on top of the real CPU ``onnxruntime``.

``install(monkeypatch, ...)`` puts a module in ``sys.modules["onnxruntime"]`` that answers like
the GPU wheel: ``get_available_providers()`` lists TensorRT and CUDA, ``cuda_version`` is set,
``preload_dlls`` exists, and ``importlib.metadata`` sees the ``onnxruntime-gpu`` distribution.
Underneath, every session, IOBinding and OrtValue is the real CPU one, so real inference, real
binding and real OrtValue semantics run; "cuda" memory is CPU memory that the double tracks:

- ``OrtValue.ortvalue_from_numpy(x, "cuda", id)`` copies ``x`` (as a device upload does, where
  a "cpu" OrtValue aliases the array) and counts a host-to-device copy;
- reading a "cuda" OrtValue on the host (``numpy()``, ``copy_outputs_to_cpu``, the outputs of an
  IOBinding bound to "cuda") counts a device-to-host copy: a device-only ``infer`` must make none;
- ``InferenceSession`` records the providers and provider options it was given and refuses option
  names the provider does not document (a typo would be silently ignored by nothing here), and
  ``get_providers()`` returns the requested providers plus the CPU one;
- ``failing={"CUDAExecutionProvider"}`` simulates a provider whose libraries do not load: as ONNX
  Runtime does, the session logs the error on fd 2 and carries on without that provider
  (TensorRT needs CUDA, so it fails with it); the CPU provider ends up first.

``run_with_iobinding`` may be called from many threads at once, as ONNX Runtime allows;
``GpuBuild.max_in_flight`` is the most runs that were inside it at the same time, and
``GpuBuild.run_hook`` (if set) is called inside each run, after the real one: a test's barrier
holds runs in flight, or an exception fails the run.

As in ONNX Runtime, an INT8 TensorRT session reads its calibration table at
``trt_engine_cache_path / trt_int8_calibration_table_name`` and fails when it is not there.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.metadata
import os
import sys
import threading
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

CUDA = "CUDAExecutionProvider"
TENSORRT = "TensorrtExecutionProvider"
CPU = "CPUExecutionProvider"

#: Provider options as ONNX Runtime documents them (CUDA and TensorRT execution provider pages).
DOCUMENTED_OPTIONS = {
    CUDA: {
        "device_id",
        "gpu_mem_limit",
        "arena_extend_strategy",
        "cudnn_conv_algo_search",
        "do_copy_in_default_stream",
        "cudnn_conv_use_max_workspace",
        "cudnn_conv1d_pad_to_nc1d",
        "enable_cuda_graph",
        "enable_skip_layer_norm_strict_mode",
        "use_tf32",
        "prefer_nhwc",
    },
    TENSORRT: {
        "device_id",
        "trt_max_workspace_size",
        "trt_max_partition_iterations",
        "trt_min_subgraph_size",
        "trt_fp16_enable",
        "trt_int8_enable",
        "trt_int8_calibration_table_name",
        "trt_int8_use_native_calibration_table",
        "trt_dla_enable",
        "trt_dla_core",
        "trt_engine_cache_enable",
        "trt_engine_cache_path",
        "trt_dump_subgraphs",
        "trt_force_sequential_engine_build",
        "trt_context_memory_sharing_enable",
        "trt_layer_norm_fp32_fallback",
        "trt_timing_cache_enable",
        "trt_timing_cache_path",
        "trt_force_timing_cache",
        "trt_detailed_build_log",
        "trt_build_heuristics_enable",
        "trt_sparsity_enable",
        "trt_builder_optimization_level",
        "trt_auxiliary_streams",
        "trt_tactic_sources",
        "trt_extra_plugin_lib_paths",
        "trt_profile_min_shapes",
        "trt_profile_max_shapes",
        "trt_profile_opt_shapes",
        "trt_cuda_graph_enable",
    },
}
_BOOL_TEXT = {"true", "false", "1", "0"}


@dataclass
class GpuBuild:
    """What the fake GPU build offers, and what the code under test did with it."""

    providers: list[str] = field(default_factory=lambda: [TENSORRT, CUDA, CPU])
    #: Installed distributions that provide the ``onnxruntime`` import package.
    distributions: tuple[str, ...] = ("onnxruntime-gpu",)
    cuda_version: str = "12.8"
    #: TensorRT's Python package is installed (it loads ``libnvinfer`` when imported).
    tensorrt: bool = True
    tensorrt_version: str = "10.9.0.34"
    #: Providers whose libraries fail to load: the session falls back past them.
    failing: set[str] = field(default_factory=set)
    # What happened:
    sessions: list[dict[str, Any]] = field(default_factory=list)
    preloads: int = 0
    host_to_device: int = 0
    device_to_host: int = 0
    runs: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    #: Called inside each ``run_with_iobinding`` (counted in flight), after the real run.
    run_hook: Callable[[], None] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    bound_outputs: list[str] = field(default_factory=list)

    def options(self, provider: str, session: int = -1) -> dict[str, Any]:
        """The options ``provider`` was given in the ``session``-th session (default: the last)."""
        return dict(self.sessions[session]["providers"])[provider]


def _device(device_type: str) -> str:
    kind = device_type.lower()
    if kind not in ("cpu", "cuda"):
        raise ValueError(f"the onnxruntime-gpu double has no device {device_type!r}")
    return kind


class FakeOrtValue:
    """A real CPU ``OrtValue`` that remembers whether it stands for GPU memory."""

    def __init__(self, real: Any, device: str, build: GpuBuild) -> None:
        self._real, self._device, self._build = real, device, build

    @property
    def _ortvalue(self) -> Any:  # what onnxruntime's own wrappers reach for
        return self._real._ortvalue

    def device_name(self) -> str:
        return self._device

    def numpy(self) -> np.ndarray:
        if self._device == "cuda":
            self._build.device_to_host += 1
        return self._real.numpy()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def _unwrap(value: Any) -> Any:
    return value._real if isinstance(value, FakeOrtValue) else value


class _OrtValueFactory:
    def __init__(self, ort: types.ModuleType, build: GpuBuild) -> None:
        self._ort, self._build = ort, build

    def ortvalue_from_numpy(
        self, array: np.ndarray, device_type: str = "cpu", device_id: int = 0
    ) -> FakeOrtValue:
        device = _device(device_type)
        if device == "cuda":  # an upload: the device value does not alias the host array
            array = np.array(array, copy=True)
            self._build.host_to_device += 1
        return FakeOrtValue(self._ort.OrtValue.ortvalue_from_numpy(array), device, self._build)

    def ortvalue_from_shape_and_type(
        self, shape: Any, element_type: Any, device_type: str = "cpu", device_id: int = 0
    ) -> FakeOrtValue:
        real = self._ort.OrtValue.ortvalue_from_shape_and_type(shape, element_type)
        return FakeOrtValue(real, _device(device_type), self._build)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ort.OrtValue, name)


class FakeIOBinding:
    """A real IOBinding; "cuda" bindings are CPU ones the double tracks."""

    def __init__(self, real: Any, build: GpuBuild) -> None:
        self._real, self._build = real, build
        self._output_devices: list[str] = []

    def bind_ortvalue_input(self, name: str, value: Any) -> None:
        self._real.bind_ortvalue_input(name, _unwrap(value))

    def bind_ortvalue_output(self, name: str, value: Any) -> None:
        device = value.device_name() if isinstance(value, FakeOrtValue) else "cpu"
        self._output_devices.append(device)
        self._build.bound_outputs.append(device)
        self._real.bind_ortvalue_output(name, _unwrap(value))

    def bind_output(self, name: str, device_type: str = "cpu", device_id: int = 0, *args: Any) -> None:
        device = _device(device_type)
        self._output_devices.append(device)
        self._build.bound_outputs.append(device)
        self._real.bind_output(name, "cpu", 0, *args)

    def get_outputs(self) -> list[FakeOrtValue]:
        devices = self._output_devices
        return [
            FakeOrtValue(v, d, self._build) for v, d in zip(self._real.get_outputs(), devices, strict=True)
        ]

    def copy_outputs_to_cpu(self) -> list[np.ndarray]:
        self._build.device_to_host += self._output_devices.count("cuda")
        return self._real.copy_outputs_to_cpu()

    def __getattr__(self, name: str) -> Any:  # synchronize_inputs/outputs, clear_binding_*
        return getattr(self._real, name)


def _check_options(provider: str, options: dict[str, Any]) -> None:
    unknown = set(options) - DOCUMENTED_OPTIONS[provider]
    if unknown:
        raise RuntimeError(f"[ONNXRuntimeError] : Unknown {provider} option(s): {', '.join(sorted(unknown))}")
    for key, value in options.items():
        if key.endswith(("_enable", "_table")):
            if not isinstance(value, bool) and str(value).lower() not in _BOOL_TEXT:
                raise RuntimeError(f"[ONNXRuntimeError] : {key} needs a boolean, got {value!r}")


class FakeInferenceSession:
    """A real CPU session that reports the GPU providers it was asked for."""

    def __init__(
        self, ort: types.ModuleType, build: GpuBuild, path: Any, sess_options: Any = None, **kw: Any
    ):
        providers = []
        for entry in kw.get("providers") or [CPU]:
            name, options = (entry, {}) if isinstance(entry, str) else entry
            if name not in build.providers:
                raise ValueError(f"{name} is not in this build's providers {build.providers}")
            if name != CPU:
                _check_options(name, options)
            providers.append((name, dict(options)))
        build.sessions.append({"path": str(path), "providers": providers})
        self._build = build
        self._providers = self._create(providers)
        self._real = ort.InferenceSession(str(path), sess_options, providers=[CPU])

    def _create(self, providers: list[tuple[str, dict[str, Any]]]) -> list[str]:
        created = []
        for name, options in providers:
            failing = name in self._build.failing or (name == TENSORRT and CUDA in self._build.failing)
            if failing:  # logged, not raised, as ONNX Runtime does
                lib = "libnvinfer.so.10" if name == TENSORRT else "libcublasLt.so.12"
                os.write(
                    2,
                    (
                        "[E:onnxruntime:Default, provider_bridge_ort.cc:2167 TryGetProviderInfo] "
                        "[ONNXRuntimeError] : 1 : FAIL : Failed to load library "
                        f"libonnxruntime_providers_{name[:-17].lower()}.so with error: {lib}: "
                        "cannot open shared object file: No such file or directory\n"
                        "[W:onnxruntime:Default, onnxruntime_pybind_state.cc:1013 "
                        f"CreateExecutionProviderInstance] Failed to create {name}.\n"
                    ).encode(),
                )
                continue
            if name == TENSORRT and options.get("trt_int8_enable") in (True, "1", "True", "true"):
                table = options.get("trt_int8_calibration_table_name")
                if table:
                    located = Path(options.get("trt_engine_cache_path", "")) / table
                    if not located.is_file():
                        raise RuntimeError(f"Failed to read INT8 calibration table {located}")
            created.append(name)
        return [*dict.fromkeys([*created, CPU])]

    def get_providers(self) -> list[str]:
        return list(self._providers)

    def get_provider_options(self) -> dict[str, dict[str, Any]]:
        return {
            name: {k: str(v) for k, v in options.items()}
            for name, options in self._build.sessions[-1]["providers"]
        }

    def io_binding(self) -> FakeIOBinding:
        return FakeIOBinding(self._real.io_binding(), self._build)

    def run_with_iobinding(self, binding: FakeIOBinding, run_options: Any = None) -> None:
        build = self._build
        with build.lock:
            build.runs += 1
            build.in_flight += 1
            build.max_in_flight = max(build.max_in_flight, build.in_flight)
        try:
            self._real.run_with_iobinding(binding._real, run_options)
            if build.run_hook is not None:
                build.run_hook()
        finally:
            with build.lock:
                build.in_flight -= 1

    def __getattr__(self, name: str) -> Any:  # get_inputs, get_outputs, run, ...
        return getattr(self._real, name)


class _GpuModule(types.ModuleType):
    def __init__(self, real: types.ModuleType, build: GpuBuild) -> None:
        super().__init__("onnxruntime")
        self._real, self._build = real, build
        self.__version__ = real.__version__
        self.__spec__ = real.__spec__
        self.cuda_version = build.cuda_version
        self.OrtValue = _OrtValueFactory(real, build)

    def get_available_providers(self) -> list[str]:
        return list(self._build.providers)

    def preload_dlls(
        self, cuda: bool = True, cudnn: bool = True, msvc: bool = True, directory: Any = None
    ) -> None:
        self._build.preloads += 1

    def InferenceSession(self, path: Any, sess_options: Any = None, **kw: Any) -> FakeInferenceSession:  # noqa: N802
        return FakeInferenceSession(self._real, self._build, path, sess_options, **kw)

    def __getattr__(self, name: str) -> Any:  # SessionOptions, GraphOptimizationLevel, ...
        return getattr(self._real, name)


def install(monkeypatch, **settings: Any) -> GpuBuild:
    """Make ``import onnxruntime`` give the GPU build double for the rest of the test."""
    real = importlib.import_module("onnxruntime")
    if isinstance(real, _GpuModule):
        real = real._real
    build = GpuBuild(**settings)
    monkeypatch.setitem(sys.modules, "onnxruntime", _GpuModule(real, build))

    real_version = importlib.metadata.version

    def version(name: str) -> str:
        if name.replace("_", "-").lower() in ("onnxruntime", "onnxruntime-gpu"):
            if name.replace("_", "-").lower() not in build.distributions:
                raise importlib.metadata.PackageNotFoundError(name)
            return real.__version__
        return real_version(name)

    monkeypatch.setattr(importlib.metadata, "version", version)
    _install_tensorrt(monkeypatch, build)
    return build


def _install_tensorrt(monkeypatch, build: GpuBuild) -> None:
    """TensorRT's pip package (or its absence), and ``libnvinfer`` (or its absence) for the loader."""
    import ctypes.util

    if build.tensorrt:
        module = types.ModuleType("tensorrt")
        module.__version__ = build.tensorrt_version
        module.__spec__ = importlib.machinery.ModuleSpec("tensorrt", None)
        monkeypatch.setitem(sys.modules, "tensorrt", module)
    else:
        monkeypatch.setitem(sys.modules, "tensorrt", None)  # find_spec: None; import: ImportError
        monkeypatch.setitem(sys.modules, "tensorrt_libs", None)
    real_find = ctypes.util.find_library

    def find_library(name: str) -> str | None:
        if name == "nvinfer":
            return "libnvinfer.so.10" if build.tensorrt else None
        return real_find(name)

    monkeypatch.setattr(ctypes.util, "find_library", find_library)
