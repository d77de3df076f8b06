"""Keras 3 on an NVIDIA GPU: the ``keras`` runner with the model pinned to one CUDA device.

Everything but the device is ``KerasRunner``'s (same options, compiled call, staging); this
module picks the GPU, refuses a model that did not run there, copies each batch to the device
inside the timed call, and describes the GPU as NVML sees it.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import numpy as np
from pydantic import Field

from triggerbench.devices import nvidia
from triggerbench.errors import RunnerError, RunnerUnavailableError
from triggerbench.models.artifact import ModelArtifact
from triggerbench.options import WholeNumber
from triggerbench.power.base import PowerMeter
from triggerbench.runners.base import RunnerDescription, RunnerOptions, dist_version, installed, one_line
from triggerbench.runners.keras import BACKEND_ENV, KerasOptions, KerasRunner, _Staged

TF_HINT = "pip install tensorflow[and-cuda]"
JAX_HINT = "pip install jax[cuda12]"
#: The import names of JAX's CUDA plugins (``jax[cuda12]`` installs the first).
JAX_CUDA_PLUGINS = ("jax_cuda12_plugin", "jax_cuda13_plugin")


class KerasGpuOptions(KerasOptions):
    """The ``keras`` runner's ``-O`` settings, plus the GPU."""

    #: The CUDA device index, after ``CUDA_VISIBLE_DEVICES``: TF's ``/GPU:i``, ``jax.devices("gpu")[i]``.
    device_id: WholeNumber = Field(0, ge=0)


def tf_gpu(tf: Any, device_id: int) -> str:
    """TF's name of GPU ``device_id``; else why TF cannot use it, with how to fix that.

    Raises:
        RunnerUnavailableError: TF is not a CUDA build, or sees no GPU ``device_id``.
    """
    if not tf.test.is_built_with_cuda():
        raise RunnerUnavailableError(f"tensorflow {tf.__version__} is not built with CUDA; {TF_HINT}")
    try:
        gpus = tf.config.list_physical_devices("GPU")
    except Exception as exc:  # a broken CUDA install can raise here rather than list nothing
        raise RunnerUnavailableError(f"tensorflow cannot list GPUs: {one_line(exc)}; {TF_HINT}") from exc
    if not gpus:
        hidden = os.environ.get("CUDA_VISIBLE_DEVICES")
        why = f"CUDA_VISIBLE_DEVICES={hidden!r}" if hidden is not None else "CUDA libraries not found?"
        raise RunnerUnavailableError(f"tensorflow {tf.__version__} sees no GPU ({why}); {TF_HINT}")
    if device_id >= len(gpus):
        raise RunnerUnavailableError(f"tensorflow sees {len(gpus)} GPU(s); there is no GPU:{device_id}")
    return f"/GPU:{device_id}"


def jax_gpu(jax: Any, device_id: int) -> Any:
    """JAX's CUDA device ``device_id``; else why JAX cannot use it, with how to fix that.

    Raises:
        RunnerUnavailableError: JAX has no CUDA backend (no plugin, or it failed to start), or no
            GPU ``device_id``.
    """
    try:
        gpus = jax.devices("gpu")
    except RuntimeError as exc:  # "Unknown backend: 'gpu' requested, but no platforms ..."
        platforms = os.environ.get("JAX_PLATFORMS")
        forced = f" (JAX_PLATFORMS={platforms!r})" if platforms else ""
        msg = f"jax {jax.__version__} has no CUDA backend{forced}: {one_line(exc)}; {JAX_HINT}"
        raise RunnerUnavailableError(msg) from exc
    if device_id >= len(gpus):
        raise RunnerUnavailableError(f"jax sees {len(gpus)} GPU(s); there is no GPU {device_id}")
    return gpus[device_id]


def jax_cuda_version() -> str | None:
    """The CUDA version JAX's CUDA plugin was built for ("12.8"), or None where JAX does not say."""
    try:
        # Private, but it is where JAX keeps its plugin's version module (None without one).
        from jax._src.lib import cuda_versions

        version = int(cuda_versions.cuda_runtime_build_version())
    except Exception:
        return None
    return f"{version // 1000}.{version % 1000 // 10}"  # CUDA encodes 12.8 as 12080


class KerasGpuRunner(KerasRunner):
    """Runs the ``.keras`` source with Keras 3 on one NVIDIA GPU, on TensorFlow or JAX.

    Options: those of ``keras`` (``backend``, ``jit_compile``) and ``device_id`` (the CUDA index,
    default 0). The weights live on the GPU; each timed call copies the host batch to the GPU,
    runs the compiled function and copies the outputs back (``timing="host-to-host"``). Matrix
    products run in full float32: TF32, which TF and JAX use by default on Ampere and newer, is
    turned off, since the record says f32. ``prepare`` fails, with the reason in one line, where
    TF or JAX cannot reach the GPU, and where the model's outputs come from any other device
    than the GPU asked for (TF silently places ops on the CPU when a GPU is missing).
    """

    name = "keras-gpu"
    options_model = KerasGpuOptions

    def __init__(self) -> None:
        super().__init__()
        self._device_id = 0
        self._gpu: Any = None

    @classmethod
    def child_env(cls, extra: dict[str, Any]) -> dict[str, str]:
        """``KERAS_BACKEND`` for the child, and CUDA's GPU order set to NVML's (``CUDA_ENV``)."""
        try:
            opts: KerasGpuOptions = cls.parse_options(extra)
        except Exception:  # the child's prepare reports bad options as the record's error
            return dict(nvidia.CUDA_ENV)
        return {BACKEND_ENV: opts.backend, **nvidia.CUDA_ENV}

    @classmethod
    def available(cls) -> tuple[bool, str]:
        """Keras with TF and/or JAX installed, and NVIDIA GPU 0 answering NVML; imports neither.

        Whether TF or JAX can use the GPU (CUDA libraries, JAX's plugin) is known only once they
        start, so ``prepare`` checks that, for the backend and GPU asked for.
        """
        if not installed("keras"):
            return False, "keras is not installed (pip install keras)"
        backends = [b for b in ("tensorflow", "jax") if installed(b)]
        if not backends:
            return False, f"keras has neither tensorflow nor jax to run on; {TF_HINT} or {JAX_HINT}"
        ok, gpu = nvidia.gpu_available(0)
        if not ok:
            return False, gpu
        libraries = [dist_version(b) for b in backends]
        if "jax" in backends and not any(map(installed, JAX_CUDA_PLUGINS)):
            libraries[backends.index("jax")] += f" (no CUDA plugin: {JAX_HINT})"
        return True, f"{dist_version('keras')} on {', '.join(libraries)}; {gpu}"

    def prepare(self, artifact: ModelArtifact, options: RunnerOptions) -> None:
        """Load and compile on the GPU, check that the model ran there, and ask NVML about it."""
        super().prepare(artifact, options)
        if self._jax is not None:
            cuda = jax_cuda_version()
        else:  # the CUDA this TF wheel was built for, e.g. "12.5.1"
            cuda = self._tf.sysconfig.get_build_info().get("cuda_version")
        try:
            self._gpu = nvidia.gpu_info(self._device_id, cuda_runtime_version=cuda)
        except Exception as exc:
            msg = f"{self.name} runner: NVML cannot describe GPU {self._device_id}: {one_line(exc)}"
            raise RunnerError(msg) from exc

    def _place(self, opts: KerasGpuOptions) -> Any:
        """GPU ``device_id`` as the backend names it, with TF32 off; else why not (one line)."""
        self._device_id = opts.device_id
        ok, reason = nvidia.gpu_available(opts.device_id)
        if not ok:
            raise RunnerUnavailableError(reason)
        if opts.backend == "jax":
            import jax

            device = jax_gpu(jax, opts.device_id)
            # Read when a function is traced (in ``stage``): full float32 dots and convolutions.
            jax.config.update("jax_default_matmul_precision", "highest")
            return device
        device = tf_gpu(self._tf, opts.device_id)
        self._tf.config.experimental.enable_tensor_float_32_execution(False)
        return device

    def _for_timing(self, staged: _Staged, host: np.ndarray) -> _Staged:
        """Keep the batch in host memory: each timed call copies it to the GPU (host-to-host).

        ``staged`` (the batch already on the GPU) served to compile the function; what ``infer``
        times is the copy of the host batch to the GPU, the compiled function, and (in
        ``infer``: ``.numpy()`` for TF, ``np.asarray`` for JAX, each of which waits for the
        result) the copy of the outputs back to the host.
        """
        x = np.array(host, dtype=np.float32, order="C", copy=True)  # later changes to ``host`` stay out
        fn, device = staged.fn, self._placement
        if self._jax is not None:
            import jax

            return _Staged(x, lambda batch: fn(jax.device_put(batch, device)))
        tf = self._tf

        def call(batch: np.ndarray) -> Any:
            with tf.device(device):
                return fn(tf.constant(batch))  # tf.constant copies to the scope's device

        return _Staged(x, call)

    def _check_device(self, device: Any) -> None:
        """Refuse a model whose outputs did not come from GPU ``device_id``: never a CPU figure."""
        if self._jax is not None:
            landed = device.platform.lower() in ("gpu", "cuda") and device == self._placement
        else:
            spec = self._tf.DeviceSpec.from_string(device)
            landed = spec.device_type == "GPU" and spec.device_index == self._device_id
        if not landed:
            raise RunnerError(
                f"{self.name} runner: the model ran on {device}, not on GPU {self._device_id}; "
                "refusing to time it as a GPU run"
            )

    def describe(self) -> RunnerDescription:
        """``keras``'s description, on GPU ``device_id`` as NVML names it, timed host-to-host."""
        d = super().describe()
        settings = {**d.settings, "device_id": self._device_id, "tf32": False, "input_copy": "every call"}
        return dataclasses.replace(
            d,
            device=f"GPU:{self._device_id}",
            device_model=self._gpu.name,
            gpu=self._gpu,
            timing="host-to-host",
            settings=settings,
        )

    def power_meter(self) -> tuple[PowerMeter | None, str]:
        """NVML's board energy of GPU ``device_id`` (through Zeus), else None and why."""
        from triggerbench.power import gpu_meter

        return gpu_meter(self._device_id)
