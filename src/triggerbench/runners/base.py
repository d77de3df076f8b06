"""The Runner contract: a runner only runs a model; timing, power and records live elsewhere."""

from __future__ import annotations

import abc
import importlib.metadata
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel

from triggerbench.errors import ProfileUnavailableError, RunnerError
from triggerbench.models.artifact import ModelArtifact
from triggerbench.power.base import PowerMeter
from triggerbench.schema import FpgaFigures, GpuInfo, NumericalProfile, ProfileUnit, Scalar


def one_line(exc: BaseException, last: bool = False) -> str:
    """Return ``Type: line`` of a vendor exception whose message spans many lines.

    TensorFlow and ONNX Runtime put the reason first; OpenVINO puts it last (``last=True``).
    """
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    line = (lines[-1] if last else lines[0]) if lines else ""
    return f"{type(exc).__name__}: {line}"


def installed(module: str) -> bool:
    """Whether ``module`` can be found, without importing it (a module hidden in sys.modules is not).

    For ``available()``: importing TensorFlow (through Keras or HGQ2) takes seconds, and
    ``triggerbench list`` asks every runner; ``prepare`` imports the backend and says why it fails.
    """
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent that fails to import; a module without __spec__
        return False


def dist_version(dist: str) -> str:
    """``dist`` and its installed version, from the package metadata (nothing is imported)."""
    try:
        return f"{dist} {importlib.metadata.version(dist)}"
    except importlib.metadata.PackageNotFoundError:  # e.g. installed as tensorflow-cpu
        return dist


@dataclass(frozen=True)
class RunnerOptions:
    """Settings a runner is prepared with; ``extra`` holds backend-specific keys."""

    batch_size: int = 1
    threads: int | None = None
    precision: str = "f32"
    extra: dict[str, Any] = field(default_factory=dict)
    #: The scenario the runner is prepared for ("offline", "single-stream", ...), so that a
    #: backend can pick its defaults for it (OpenVINO's THROUGHPUT hint for offline); None: any.
    scenario: str | None = None


@dataclass(frozen=True)
class RunnerDescription:
    """What ran, as the record stores it (``RunnerInfo`` is built from this)."""

    backend: str
    backend_version: str | None
    device: str | None
    precision: str | None
    threads: int | None
    settings: dict[str, Any] = field(default_factory=dict)
    #: The device's model name (a GPU's NVML name, an FPGA card); None on the host CPU, whose
    #: model the environment records. The nominal TDP is looked up by it.
    device_model: str | None = None
    #: The GPU the runner ran on, as NVML describes it.
    gpu: GpuInfo | None = None
    #: ``host-to-host`` or ``device-only`` (``schema.Timing``); None where there is no device memory.
    timing: str | None = None


@dataclass(frozen=True)
class NodeTiming:
    """One node, kernel, module or pipeline stage as the backend's own profiler names it.

    ``measure.profile`` maps each to the source model's layers (``layer`` if the backend knows
    it, else by ``name``), adds up the nodes of one layer and computes the shares.
    """

    #: The backend's name for it (an ONNX node, an OpenVINO node, an HLS module, a DPU subgraph).
    name: str
    op_type: str | None = None
    #: Time per call (s), where the profile's unit is "s".
    time_s: float | None = None
    #: Clock cycles, where the profile's unit is "cycles".
    cycles: int | None = None
    #: Calls the time is taken over.
    n_calls: int | None = None
    #: The source layer, where the backend knows it (Keras layer-by-layer, hls4ml's layers).
    layer: str | None = None
    #: The backend's status for the node (OpenVINO's EXECUTED / OPTIMIZED_OUT / NOT_RUN).
    status: str | None = None
    resources: dict[str, float] = field(default_factory=dict)
    details: dict[str, Scalar] = field(default_factory=dict)


@dataclass(frozen=True)
class BackendProfile:
    """What ``Runner.profile`` returns: the backend's nodes in its own names, and the cost."""

    #: The profiler, e.g. "onnxruntime session profiling" or "vitis-hls csynth per module".
    source: str
    unit: ProfileUnit
    nodes: list[NodeTiming]
    #: Profiled calls the node times are taken over (None: not timed, e.g. a synthesis report).
    n_calls: int | None = None
    #: Wall time of one call with the profiler on (median), for the profiler's overhead.
    profiled_call_s: float | None = None
    #: What the figures do not show (e.g. "layer by layer: XLA fuses layers in the real call").
    caveats: list[str] = field(default_factory=list)


class AsyncQueue(abc.ABC):
    """Keeps up to ``n_in_flight`` queries on one staged batch running at once (``Runner.async_queue``).

    A GPU, or OpenVINO's CPU plugin with several streams, is only busy with several requests
    queued; the throughput scenarios (offline, server) issue through this. ``submit`` starts one
    query and returns without waiting for it: it blocks only while all ``n_in_flight`` are busy.
    ``on_done()`` is called exactly once per query whose outputs are ready: with ``prompt``
    (``Runner.async_queue``) as soon as they are, from whatever thread the backend completes
    it on; without, possibly later, from the ``submit`` that reuses the request or from
    ``wait_all``. It must be cheap and must not block. A query that fails may never call
    ``on_done`` (OpenVINO calls back on success only): its error is raised by a later ``submit``
    or by ``wait_all``, which the harness calls before the end of a run.
    """

    #: Queries that may be in flight at once (the record's ``scenario.requests_in_flight``).
    n_in_flight: int

    @abc.abstractmethod
    def submit(self, on_done: Callable[[], None]) -> None:
        """Start one query on the staged batch; call ``on_done()`` when its outputs are ready."""

    @abc.abstractmethod
    def wait_all(self) -> None:
        """Block until every submitted query has finished; raise the error of one that failed."""

    def close(self) -> None:  # noqa: B027 - optional hook, a queue may hold nothing to free
        """Release the queue's requests (the harness has called ``wait_all`` before)."""

    def __enter__(self) -> AsyncQueue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Runner(abc.ABC):
    """One backend that turns an exported artifact into outputs for batches of inputs.

    Life cycle: ``available()`` -> ``prepare(artifact, options)`` -> ``stage(inputs)`` (once per
    input batch, outside any timing) -> ``infer(staged)`` many times -> ``close()``.

    ``infer`` is synchronous: it returns only when the outputs are in host memory. The array it
    returns may be a buffer the runner reuses on the next call; copy it to keep it. The one
    exception is a GPU runner in ``device-only`` timing (``RunnerDescription.timing``): its
    outputs are complete but stay in device memory, and it returns an object that numpy copies
    to the host when converting it (``np.asarray(outputs)``, as the accuracy pass does).

    Example of a third-party runner, registered in its own ``pyproject.toml``::

        [project.entry-points."triggerbench.runners"]
        mybackend = "mypkg.runner:MyRunner"
    """

    #: Name used on the command line and in records.
    name: ClassVar[str]
    #: Artifact formats this runner can execute, best first ("keras", "onnx").
    formats: ClassVar[tuple[str, ...]]
    #: The ``-O`` options this runner takes, as a frozen pydantic model (``runners.options``); None:
    #: it takes none and ignores them.
    options_model: ClassVar[type[BaseModel] | None] = None
    #: ``infer`` emulates hardware in software (C-simulation, RTL simulation): measured briefly,
    #: since its speed is the emulator's (``MeasureSettings.for_emulation``).
    emulator: ClassVar[bool] = False

    @classmethod
    @abc.abstractmethod
    def available(cls) -> tuple[bool, str]:
        """Return whether this runner can run on this host, and why not if it cannot."""

    @classmethod
    def refuses(cls, artifact: ModelArtifact) -> str | None:
        """Why this runner cannot take ``artifact``, from its description alone (None: it may).

        Checked before a measuring process is started, so a model a runner never takes costs no
        process; what only loading the model shows is found by ``prepare``.
        """
        if not any(f in artifact.paths for f in cls.formats):
            return (
                f"runner {cls.name!r} reads {'/'.join(cls.formats)} models; this model is "
                f"available as {'/'.join(artifact.paths)} only"
            )
        return None

    @abc.abstractmethod
    def prepare(self, artifact: ModelArtifact, options: RunnerOptions) -> None:
        """Load and compile ``artifact`` for batches of ``options.batch_size``."""

    @classmethod
    def parse_options(cls, extra: dict[str, Any]) -> Any:
        """Validate ``-O`` options into ``options_model``, before anything is measured.

        Raises ``UserInputError`` (one line) for a key or value the runner does not take; returns
        None for a runner without options.
        """
        if cls.options_model is None:
            return None
        from triggerbench.options import parse_options

        return parse_options(cls.options_model, extra, cls.name)

    @classmethod
    def child_env(cls, extra: dict[str, Any]) -> dict[str, str]:
        """Environment variables the isolated child needs before it imports anything.

        For settings a library reads once, at import (Keras' ``KERAS_BACKEND``). ``extra`` is
        this runner's ``-O`` options; the default adds nothing.
        """
        return {}

    def stage(self, inputs: np.ndarray) -> Any:
        """Turn a host batch into the backend's preallocated input (default: the array itself)."""
        return np.ascontiguousarray(inputs)

    @abc.abstractmethod
    def infer(self, staged: Any) -> np.ndarray:
        """Run one batch prepared by ``stage`` and return the outputs on the host (see the class)."""

    def async_queue(self, staged: Any, n: int | None = None, prompt: bool = True) -> AsyncQueue | None:
        """A queue that keeps up to ``n`` queries on ``staged`` in flight; None: synchronous only.

        ``n=None`` lets the runner choose (its own option, else the backend's optimum).
        ``prompt=False`` allows ``on_done`` late (see ``AsyncQueue``): the offline scenario
        measures throughput only, and a callback on the backend's own thread can cost more than
        a small model's inference. The offline and server scenarios use the queue where a runner
        has one; the default (None) keeps every scenario on ``infer``.
        """
        return None

    @abc.abstractmethod
    def describe(self) -> RunnerDescription:
        """Describe the prepared backend: library version, device, precision, threads."""

    def close(self) -> None:  # noqa: B027 - optional hook, most runners hold nothing to free
        """Release the backend's resources."""

    def power_meter(self) -> tuple[PowerMeter | None, str] | None:
        """The meter that covers this backend's device (e.g. XRT for an Alveo card).

        ``None`` (the default) pairs the runner with the host's CPU meter; ``(None, reason)`` says
        the device has a meter that cannot be read here, and why.
        """
        return None

    def fpga_figures(self) -> list[FpgaFigures]:
        """FPGA latency / resources the prepared backend knows (reports, testbench, estimate)."""
        return []

    def fidelity_problems(self, inputs: np.ndarray, reference: np.ndarray, mean_abs_diff: float) -> list[str]:
        """Warnings on the accuracy pass's outputs the backend can explain (fixed-point overflow).

        Called after the accuracy pass with its inputs, the float reference and the mean |diff|;
        the default has none.
        """
        return []

    def profile(self, staged: Any, n_calls: int) -> BackendProfile:
        """Profile ``n_calls`` calls on ``staged`` with the backend's own per-layer profiler.

        Called on a prepared runner (after the plain calls that time the whole call); it may
        build a second, profiled instance of the model (ONNX Runtime and OpenVINO switch their
        profilers on when a session is created). Raises ``ProfileUnavailableError`` with the
        reason where the backend has no profiler; the default does.
        """
        raise ProfileUnavailableError(f"runner {self.name!r} has no per-layer profiler")

    def numerical_profile(self, events: np.ndarray) -> list[NumericalProfile]:
        """Each layer's weights and activations on ``events`` against the fixed-point types chosen.

        For backends that compute in fixed point (firmware); ``events`` are the validation
        inputs, not one batch, since a range is only as good as the events it saw. The default
        (a backend computing in float) has none.
        """
        return []

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def check_batch_shape(x: np.ndarray, input_shape: tuple[int, ...], runner: str) -> None:
    """Raise ``RunnerError`` unless ``x`` is a batch of the model's input, ``(batch, *input_shape)``."""
    if tuple(x.shape[1:]) != tuple(input_shape):
        raise RunnerError(
            f"{runner} runner: batch shape {x.shape} does not match the model input "
            f"(batch, {', '.join(map(str, input_shape))})"
        )


def owned_batch(inputs: Any, input_shape: tuple[int, ...], dtype: Any, runner: str) -> np.ndarray:
    """An owned C-contiguous copy of ``inputs`` in ``dtype``, checked against the model's input shape.

    Owned, because backends alias a staged batch (an ``OrtValue`` on the CPU, the raw pointers a
    C-simulation reads): later changes to the caller's array must not reach it.
    """
    x = np.array(inputs, dtype=dtype, order="C", copy=True)
    check_batch_shape(x, input_shape, runner)
    return x
