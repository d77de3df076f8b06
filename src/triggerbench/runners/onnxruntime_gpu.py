"""ONNX Runtime on an NVIDIA GPU: the CUDA execution provider (``onnxruntime-gpu``).

The CUDA runner loads the same ONNX export as the CPU runner (``runners.onnxruntime``, whose
session, binding and run helpers it shares); the TensorRT runner (``runners.onnxruntime_tensorrt``)
subclasses it and differs in the provider it asks for. ONNX Runtime falls
back to the CPU without raising when a provider's libraries fail to load; ``prepare`` checks the
provider the session really got and fails with ONNX Runtime's own reason instead, so that a CPU
figure is never recorded as a GPU one.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import sys
import tempfile
from collections.abc import Iterator
from importlib import metadata
from typing import Annotated, Any, NamedTuple

import numpy as np
from pydantic import BaseModel, Field

from triggerbench.errors import ProfileUnavailableError, RunnerError, RunnerUnavailableError
from triggerbench.models.artifact import ModelArtifact
from triggerbench.options import OPTIONS_CONFIG, WholeNumber, any_case
from triggerbench.power.base import PowerMeter
from triggerbench.runners.base import BackendProfile, Runner, RunnerDescription, RunnerOptions, one_line
from triggerbench.runners.onnxruntime import (
    SessionIO,
    bind_host,
    host_batch,
    import_failure,
    open_session,
    run_bound,
    session_options,
)
from triggerbench.runners.threaded_queue import ThreadedQueue
from triggerbench.schema import Timing

#: The GPU build to install: the last onnxruntime-gpu on PyPI built for CUDA 12 (1.27+ need CUDA 13);
#: its ``cuda`` and ``cudnn`` extras bring the CUDA 12 and cuDNN 9 wheels ``preload_dlls`` loads.
GPU_WHEEL = "onnxruntime-gpu[cuda,cudnn]==1.26.0"
#: The CPU and GPU builds share the import package ``onnxruntime``: remove both, then install one.
GPU_INSTALL = f"pip uninstall -y onnxruntime onnxruntime-gpu && pip install '{GPU_WHEEL}'"
CUDA_EP = "CUDAExecutionProvider"


class OnnxRuntimeCudaOptions(BaseModel):
    """The CUDA runner's ``-O KEY=VALUE`` settings."""

    model_config = OPTIONS_CONFIG

    #: The GPU as CUDA counts it (after ``CUDA_VISIBLE_DEVICES``).
    device_id: WholeNumber = Field(0, ge=0)
    #: ``host-to-host``: each query copies its inputs to the GPU and the outputs back;
    #: ``device-only``: both stay in GPU memory, only the model's kernels are timed.
    timing: Annotated[Timing, any_case(Timing)] = "host-to-host"
    #: Queries ``async_queue`` keeps in flight (offline, server), one thread and IOBinding each.
    #: 2: one run's copies and launches overlap the other's kernels. Runs on one CUDA session may
    #: still share a compute stream, and TensorRT's runs take a lock, so more rarely help.
    requests: WholeNumber = Field(2, ge=1)


class DeviceOutputs:
    """A batch's outputs left in GPU memory: numpy copies them to the host when it converts them.

    ``infer`` returns this in device-only timing, so the timed call copies nothing back;
    ``np.asarray(outputs)`` (the accuracy pass) makes the one copy. The buffer is reused by the
    next ``infer`` of the same staged batch.
    """

    __slots__ = ("_value", "dtype", "shape")

    def __init__(self, value: Any, shape: tuple[int, ...]) -> None:
        self._value = value
        self.shape = shape
        self.dtype = np.dtype(np.float32)

    def __len__(self) -> int:
        return self.shape[0]

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        if copy is False:
            raise ValueError("the outputs are in GPU memory: reading them needs a copy")
        host = self._value.numpy()  # device -> host copy
        return host if dtype is None else host.astype(dtype, copy=False)


class _DeviceStaged(NamedTuple):
    """A batch bound to GPU memory: the input copied there once, the output preallocated there."""

    binding: Any
    inputs: Any
    outputs: DeviceOutputs
    host: np.ndarray  # the input, for ``async_queue``'s copies


def _installed(distribution: str) -> bool:
    try:
        metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return False
    return True


@contextlib.contextmanager
def _native_log() -> Iterator[list[str]]:
    """Collect what native code writes to fd 2 while the block runs, then pass it on to fd 2.

    ONNX Runtime reports a provider whose libraries fail to load only in its log (on stderr),
    then carries on with the CPU; this is how ``prepare`` learns why.
    """
    lines: list[str] = []
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no fd 2 to capture
        yield lines
        return
    with tempfile.TemporaryFile() as log:
        os.dup2(log.fileno(), 2)
        try:
            yield lines
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            log.seek(0)
            text = log.read()
            os.write(2, text)
            lines.extend(text.decode("utf-8", "replace").splitlines())


def _load_failure(lines: list[str]) -> str:
    """ONNX Runtime's reason, in one line, from the log of a session that fell back to the CPU."""
    for marker in ("with error:", "Failed to create", "[E:", "[W:"):
        for line in lines:
            if marker in line:
                text = line.split("FAIL : ", 1)[-1].strip()
                return text if len(text) <= 300 else text[:297] + "..."
    return "ONNX Runtime logged no reason"


class OnnxRuntimeCudaRunner(Runner):
    """Runs the ONNX export with ONNX Runtime's CUDA execution provider, precision f32.

    Options (``-O KEY=VALUE``): ``device_id`` (default 0), ``timing`` and ``requests`` (the queries
    ``async_queue`` keeps in flight in offline and server, default 2). In ``host-to-host``
    timing (the default) a staged batch is bound as in the CPU runner, to host memory: ONNX
    Runtime copies the input to the GPU and the output back inside each ``run_with_iobinding``,
    so each query pays both copies, as a trigger would; this avoids ``session.run``'s feed dict
    and output allocation (not measured on a GPU here). In ``device-only`` timing ``stage``
    copies the input to the GPU once and preallocates the output there, and ``infer`` runs and
    waits for the GPU (``synchronize_outputs``) but copies nothing back: it returns
    ``DeviceOutputs``, which numpy copies to the host only when asked (the accuracy pass).
    """

    name = "onnxruntime-cuda"
    formats = ("onnx",)
    options_model = OnnxRuntimeCudaOptions
    #: The execution provider this runner exists for; the session must get it first.
    provider = CUDA_EP
    precisions: tuple[str, ...] = ("f32",)

    def __init__(self) -> None:
        self._io: SessionIO | None = None

    @classmethod
    def child_env(cls, extra: dict[str, Any]) -> dict[str, str]:
        """CUDA's GPU order set to NVML's, so ``device_id`` is one board for ORT and the meter."""
        from triggerbench.devices.nvidia import CUDA_ENV

        return dict(CUDA_ENV)

    @classmethod
    def available(cls) -> tuple[bool, str]:
        """Whether the GPU build of onnxruntime, its provider and an NVIDIA GPU are here; else why not."""
        try:
            import onnxruntime as ort
        except Exception as exc:  # a broken install can raise more than ImportError
            return False, f"{import_failure(exc)}; install the GPU build: {GPU_INSTALL} (or tox -e gpu)"
        if _installed("onnxruntime") and _installed("onnxruntime-gpu"):
            return False, (
                "both onnxruntime and onnxruntime-gpu are installed; they share the import package "
                f"onnxruntime, so the one installed last wins: {GPU_INSTALL} (or tox -e gpu)"
            )
        version, providers = ort.__version__, ort.get_available_providers()
        if CUDA_EP not in providers:
            return False, (
                f"onnxruntime {version} is the CPU build (no {CUDA_EP}): tox -e gpu, or {GPU_INSTALL} "
                "(the last build for CUDA 12; 1.27+ need CUDA 13)"
            )
        from triggerbench.devices.nvidia import gpu_available

        ok, gpu = gpu_available(0)
        if not ok:
            return False, gpu
        return cls._provider_ready(version, providers, gpu)

    @classmethod
    def _provider_ready(cls, version: str, providers: list[str], gpu: str) -> tuple[bool, str]:
        return True, f"onnxruntime {version} with {CUDA_EP} on {gpu}"

    def prepare(self, artifact: ModelArtifact, options: RunnerOptions) -> None:
        """Create the session on the GPU, check it did not fall back to the CPU, run one batch."""
        if options.precision not in self.precisions:
            raise RunnerError(self._precision_refusal(options.precision))
        opts = self.parse_options(options.extra)
        self._check_options(opts, options.precision)
        ok, reason = self.available()
        if not ok:
            raise RunnerUnavailableError(reason)
        from triggerbench.devices.nvidia import gpu_available, gpu_info

        ok, reason = gpu_available(opts.device_id)
        if not ok:
            raise RunnerUnavailableError(reason)
        import onnxruntime as ort

        self._ort, self._opts = ort, opts
        self._device_id, self._timing, self._precision = opts.device_id, opts.timing, options.precision
        self._threads, self._queue_n = options.threads, None
        try:
            self._gpu = gpu_info(
                opts.device_id, cuda_runtime_version=getattr(ort, "cuda_version", None) or None
            )
        except Exception as exc:  # NVML answered gpu_available but not this
            raise RunnerError(
                f"{self.name} runner: cannot describe GPU {opts.device_id}: {one_line(exc)}"
            ) from exc
        so = session_options(ort, options.threads or 0)
        with _native_log() as log:
            self._preload(log)
            providers = self._providers(artifact, options)
            with self._build_lock():
                self._io = open_session(ort, artifact, so, providers, self.name)
        got = self._io.session.get_providers()
        if not got or got[0] != self.provider:
            self._io = None
            raise RunnerError(
                f"{self.name} runner: ONNX Runtime could not create {self.provider} and fell back to "
                f"{got[0] if got else 'nothing'}: {_load_failure(log)}; {self._install_hint()}"
            )
        self.infer(self.stage(np.zeros((options.batch_size, *self._io.input_shape), np.float32)))

    def _precision_refusal(self, precision: str) -> str:
        return (
            f"{self.name} runner supports precision f32 only (the CUDA provider runs the model's own "
            f"types; for f16 or int8 use onnxruntime-tensorrt), not {precision}"
        )

    def _check_options(self, opts: Any, precision: str) -> None:
        """Refuse option combinations before anything is loaded (the TensorRT runner has some)."""

    def _providers(self, artifact: ModelArtifact, options: RunnerOptions) -> list[Any]:
        return [(CUDA_EP, self._cuda_options)]

    @property
    def _cuda_options(self) -> dict[str, Any]:
        # TF32 (on by default on Ampere and newer) rounds f32 matmuls and convolutions to 10-bit
        # mantissas: off, so that "f32" in the record is what ran.
        return {"device_id": self._device_id, "use_tf32": 0}

    def _install_hint(self) -> str:
        return f"CUDA 12 and cuDNN 9 libraries must load: {GPU_INSTALL} (or tox -e gpu)"

    @contextlib.contextmanager
    def _build_lock(self) -> Iterator[None]:
        yield

    def _preload(self, log: list[str]) -> None:
        """Load CUDA and cuDNN from the nvidia-* wheels (ORT >= 1.21), which the loader does not search."""
        if hasattr(self._ort, "preload_dlls"):
            said = io.StringIO()
            try:
                with contextlib.redirect_stdout(said):  # it prints its warnings
                    self._ort.preload_dlls()
            except Exception as exc:
                said.write(f"preload_dlls: {one_line(exc)}\n")
            if said.getvalue():
                sys.stderr.write(said.getvalue())
                log.extend(said.getvalue().splitlines())

    def stage(self, inputs: np.ndarray) -> Any:
        """Bind the batch: to host buffers (host-to-host) or copied once to GPU buffers (device-only)."""
        if self._io is None:
            raise RunnerError(f"{self.name} runner: call prepare() before stage()")
        if self._timing == "host-to-host":
            return bind_host(self._ort, self._io, inputs, self.name)
        x = host_batch(inputs, self._io, self.name)
        shape = (x.shape[0], *self._io.output_shape)
        value = self._ort.OrtValue
        try:
            x_gpu = value.ortvalue_from_numpy(x, "cuda", self._device_id)
            out_gpu = value.ortvalue_from_shape_and_type(list(shape), np.float32, "cuda", self._device_id)
            binding = self._io.session.io_binding()
            binding.bind_ortvalue_input(self._io.input_name, x_gpu)
            binding.bind_ortvalue_output(self._io.output_name, out_gpu)
            binding.synchronize_inputs()
        except Exception as exc:
            raise RunnerError(f"{self.name} runner: cannot bind GPU buffers: {one_line(exc)}") from exc
        return _DeviceStaged(binding, x_gpu, DeviceOutputs(out_gpu, shape), x)

    def infer(self, staged: Any) -> Any:
        """Run the bound batch; host outputs (host-to-host) or ``DeviceOutputs`` (device-only)."""
        run_bound(self._io.session, staged.binding, self.name)
        if isinstance(staged, _DeviceStaged):
            # The run has finished on the GPU when this returns (ORT synchronises by default);
            # said explicitly so that a device-only time never ends before the kernels do.
            staged.binding.synchronize_outputs()
        return staged.outputs

    def async_queue(self, staged: Any, n: int | None = None, prompt: bool = True) -> ThreadedQueue:
        """``n`` threads (default: the ``requests`` option), each on its own staged copy of the batch.

        Each copy has its own buffers (host ones, or inputs and outputs on the GPU): ``infer`` on
        ``staged`` and the requests in flight never share memory. ``on_done`` is always prompt.
        """
        if self._io is None:
            raise RunnerError(f"{self.name} runner: call prepare() before async_queue()")
        n = self._opts.requests if n is None else n
        if n < 1:
            raise RunnerError(f"{self.name} runner: requests in flight must be >= 1, not {n}")
        host = staged.host if isinstance(staged, _DeviceStaged) else staged.inputs
        copies = [self.stage(host) for _ in range(n)]
        self._queue_n = n
        return ThreadedQueue([functools.partial(self.infer, copy) for copy in copies], self.name)

    def profile(self, staged: Any, n_calls: int) -> BackendProfile:
        """Not offered: ONNX Runtime's profiler would time the kernels' launches, not their GPU run."""
        raise ProfileUnavailableError(
            "ONNX Runtime's session profiler times a CUDA node's launch on the host, not its run on "
            "the GPU (asynchronous kernels); a per-kernel GPU profile needs Nsight Systems or CUPTI"
        )

    def describe(self) -> RunnerDescription:
        """Backend, GPU (as NVML describes it), precision, timing and the provider's settings."""
        if self._io is None:
            raise RunnerError(f"{self.name} runner: call prepare() before describe()")
        settings: dict[str, Any] = {
            "execution_provider": self.provider,
            "providers": ",".join(self._io.session.get_providers()),  # records hold scalars only
            "device_id": self._device_id,
            "tf32": False,
            "graph_optimization_level": "ORT_ENABLE_ALL",
            "call": "run_with_iobinding",
            "output_copy": "in each query" if self._timing == "host-to-host" else "none (kept on the GPU)",
            **self._provider_settings(),
        }
        if self._queue_n:  # only where a queue ran: the record does not claim one otherwise
            settings.update(
                call=f"run_with_iobinding from {self._queue_n} threads, one IOBinding each",
                requests=self._queue_n,
            )
        return RunnerDescription(
            backend="onnxruntime",
            backend_version=self._ort.__version__,
            device=f"GPU:{self._device_id}",
            precision=self._precision,
            threads=self._threads,
            settings=settings,
            device_model=self._gpu.name,
            gpu=self._gpu,
            timing=self._timing,
        )

    def _provider_settings(self) -> dict[str, Any]:
        return {}

    def power_meter(self) -> tuple[PowerMeter | None, str] | None:
        """The GPU's NVML energy counter (through Zeus), or why it cannot be read."""
        from triggerbench.power import gpu_meter

        return gpu_meter(self._device_id)

    def close(self) -> None:
        """Drop the session (its GPU buffers are freed with it)."""
        self._io = None
