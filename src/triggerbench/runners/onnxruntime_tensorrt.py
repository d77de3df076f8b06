"""ONNX Runtime's TensorRT execution provider on an NVIDIA GPU (``onnxruntime-gpu`` plus TensorRT).

The runner is the CUDA runner (``runners.onnxruntime_gpu``: session, GPU buffers, queue,
description) with what only TensorRT needs: its precisions, the per-setting engine cache, the
INT8 calibration table and the check that TensorRT's libraries are there.
"""

from __future__ import annotations

import contextlib
import ctypes.util
import hashlib
import importlib.util
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from triggerbench.errors import RunnerError
from triggerbench.models.artifact import ModelArtifact, cache_dir, sha256_file
from triggerbench.options import Text
from triggerbench.runners.base import RunnerOptions
from triggerbench.runners.onnxruntime_gpu import (
    CUDA_EP,
    GPU_INSTALL,
    OnnxRuntimeCudaOptions,
    OnnxRuntimeCudaRunner,
)

#: TensorRT as pip wheels; onnxruntime-gpu 1.18+ links TensorRT 10 (libnvinfer.so.10).
TENSORRT_INSTALL = "pip install 'tensorrt-cu12>=10,<11'"
TENSORRT_EP = "TensorrtExecutionProvider"


class OnnxRuntimeTensorrtOptions(OnnxRuntimeCudaOptions):
    """The TensorRT runner's settings; the precision is ``--precision`` (f32, f16, int8)."""

    #: The INT8 calibration table (TensorRT's own, or ONNX Runtime's calibration tool's); needed
    #: with ``--precision int8``.
    int8_calibration_cache: Text | None = None


def _tensorrt_found() -> bool:
    """TensorRT's Python wheels, or ``libnvinfer`` on the loader's path (a system install)."""
    return any(importlib.util.find_spec(name) for name in ("tensorrt", "tensorrt_libs")) or bool(
        ctypes.util.find_library("nvinfer")
    )


class OnnxRuntimeTensorrtRunner(OnnxRuntimeCudaRunner):
    """Runs the ONNX export with ONNX Runtime's TensorRT provider (CUDA for what TensorRT lacks).

    Precision is ``--precision``: f32, f16 (``trt_fp16_enable``) or int8 (``trt_int8_enable``,
    with the calibration table ``-O int8_calibration_cache=PATH``). Engines are cached: building
    one takes seconds to minutes, and a cached engine is used only by the settings it was built
    for, so each gets its own folder ``cache_dir()/onnxruntime-tensorrt/<key>``, the key hashing
    the ONNX file, precision, calibration table, batch size, GPU model and the ONNX Runtime and
    TensorRT versions (the timing mode does not change the engine, so it shares it). TensorRT's
    timing cache, keyed by GPU inside, is shared by all.
    """

    name = "onnxruntime-tensorrt"
    options_model = OnnxRuntimeTensorrtOptions
    provider = TENSORRT_EP
    precisions = ("f32", "f16", "int8")

    @classmethod
    def _provider_ready(cls, version: str, providers: list[str], gpu: str) -> tuple[bool, str]:
        if TENSORRT_EP not in providers:
            return False, f"onnxruntime {version} has no {TENSORRT_EP}: {GPU_INSTALL}, and {TENSORRT_INSTALL}"
        if not _tensorrt_found():
            return (
                False,
                f"TensorRT is not installed (no tensorrt package, no libnvinfer): {TENSORRT_INSTALL}",
            )
        return True, f"onnxruntime {version} with {TENSORRT_EP} on {gpu}"

    def _precision_refusal(self, precision: str) -> str:
        return f"{self.name} runner supports precision f32, f16 or int8, not {precision}"

    def _install_hint(self) -> str:
        return f"TensorRT 10 must load: {TENSORRT_INSTALL}"

    def _check_options(self, opts: Any, precision: str) -> None:
        """int8 needs a calibration table, and only int8 takes one."""
        table = opts.int8_calibration_cache
        if precision == "int8" and table is None:
            raise RunnerError(
                f"{self.name} runner: --precision int8 needs a calibration table: "
                "-O int8_calibration_cache=PATH (TensorRT's, or ONNX Runtime's calibration tool's)"
            )
        if precision != "int8" and table is not None:
            raise RunnerError(
                f"{self.name} runner: -O int8_calibration_cache is for --precision int8, not {precision}"
            )
        self._table = Path(table).expanduser().resolve() if table is not None else None
        if self._table is not None and not self._table.is_file():
            raise RunnerError(f"{self.name} runner: int8_calibration_cache {table}: no such file")

    def _preload(self, log: list[str]) -> None:
        super()._preload(log)
        self._tensorrt_version = self._load_tensorrt()

    def _providers(self, artifact: ModelArtifact, options: RunnerOptions) -> list[Any]:
        path = artifact.path("onnx")
        key = {
            "onnx_sha256": artifact.sha256.get("onnx") or sha256_file(path),
            "precision": options.precision,
            "int8_calibration_sha256": sha256_file(self._table) if self._table is not None else None,
            "batch_size": options.batch_size,
            "gpu": self._gpu.name,
            "compute_capability": self._gpu.compute_capability,
            "onnxruntime": self._ort.__version__,
            "tensorrt": self._tensorrt_version,
        }
        digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()
        root = cache_dir() / "onnxruntime-tensorrt"
        self._engine_dir = root / f"{key['onnx_sha256'][:12]}-{digest[:16]}"
        self._timing_dir = root / "timing"
        for folder in (self._engine_dir, self._timing_dir):
            folder.mkdir(parents=True, exist_ok=True)
        self._trt_options: dict[str, Any] = {
            "device_id": self._device_id,
            "trt_fp16_enable": options.precision == "f16",
            "trt_int8_enable": options.precision == "int8",
            "trt_engine_cache_enable": True,
            "trt_engine_cache_path": str(self._engine_dir),
            "trt_timing_cache_enable": True,
            "trt_timing_cache_path": str(self._timing_dir),
        }
        if self._table is not None:
            # ONNX Runtime reads the table by name from the engine cache folder (its docs: copy it
            # there); the folder's key holds the table's hash, so a new table gets a new folder.
            shutil.copyfile(self._table, self._engine_dir / self._table.name)
            self._trt_options["trt_int8_calibration_table_name"] = self._table.name
            # A table TensorRT wrote starts "TRT-"; ONNX Runtime's calibration tool writes flatbuffers.
            native = self._table.read_bytes()[:4] == b"TRT-"
            self._trt_options["trt_int8_use_native_calibration_table"] = native
        return [(TENSORRT_EP, self._trt_options), (CUDA_EP, self._cuda_options)]

    def _load_tensorrt(self) -> str | None:
        """Import TensorRT's Python package, which loads its libraries, and return its version.

        The pip wheels keep ``libnvinfer`` where the loader does not look; once the package has
        loaded it, ONNX Runtime's ``dlopen`` finds it. A system install needs no import (None).
        """
        try:
            import tensorrt
        except Exception:
            return None
        return getattr(tensorrt, "__version__", None)

    @contextlib.contextmanager
    def _build_lock(self) -> Iterator[None]:
        """One engine build at a time across processes: parallel runs share the engine cache."""
        import fcntl

        with open(self._engine_dir.parent / "build.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def _provider_settings(self) -> dict[str, Any]:
        # The options that change what runs (the engine and timing caches are always on).
        settings = {
            k: v for k, v in self._trt_options.items() if k.startswith("trt_") and "cache_en" not in k
        }
        settings["tensorrt_version"] = self._tensorrt_version
        if self._table is not None:
            settings["int8_calibration_cache"] = str(self._table)
        return settings
