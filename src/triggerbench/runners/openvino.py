"""OpenVINO runner: the ONNX export compiled for the CPU plugin at a static batch shape."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Annotated, Any, Literal, NamedTuple

import numpy as np
from pydantic import BaseModel, Field

from triggerbench import scenarios
from triggerbench.errors import RunnerError, RunnerUnavailableError
from triggerbench.models.artifact import ModelArtifact
from triggerbench.options import OPTIONS_CONFIG, WholeNumber, any_case
from triggerbench.runners import openvino_profile
from triggerbench.runners.base import (
    AsyncQueue,
    BackendProfile,
    Runner,
    RunnerDescription,
    RunnerOptions,
    one_line,
)

#: Our precision names, which are also the names of OpenVINO's element types.
SUPPORTED_PRECISIONS = ("f32", "bf16", "f16")
DEVICE = "CPU"
#: OpenVINO's PERFORMANCE_HINT values (``ov.properties.hint.PerformanceMode``).
PerformanceHint = Literal["LATENCY", "THROUGHPUT", "CUMULATIVE_THROUGHPUT"]


class OpenVinoOptions(BaseModel):
    """The runner's ``-O KEY=VALUE`` settings."""

    model_config = OPTIONS_CONFIG

    #: None: THROUGHPUT for the offline and server scenarios, LATENCY for the others.
    performance_hint: Annotated[PerformanceHint, any_case(PerformanceHint)] | None = None
    #: Infer requests kept in flight by ``async_queue``; None: the compiled model's
    #: OPTIMAL_NUMBER_OF_INFER_REQUESTS.
    requests: WholeNumber | None = Field(None, ge=1)


def _plain(value: Any) -> Any:
    """Turn an OpenVINO property value (``Type``, enum, int, str) into a JSON-friendly value."""
    if isinstance(value, bool | int | float | str):
        return value
    if hasattr(value, "to_string"):  # ov.Type: "f32", "bf16"
        return value.to_string()
    return getattr(value, "name", None) or str(value)


def _one_element_matmuls_as_multiplies(model: Any) -> int:
    """Rewrite each ``MatMul`` by a one-element constant as the ``Multiply`` it is; return how many.

    OpenVINO's CPU plugin (2026.4) fuses a chain of MatMuls at a small static batch into one
    snippets subgraph (on a 2-core host: batch 1-8 with one thread, batch 4, 6 and 8 with two)
    and then cannot compile it when a weight is a 1x1 matrix (1x4 compiles): "Layout rank can't
    be larger than tensor rank". The LLP VGG ends in such a MatMul (``to_physical``, a 1x1
    Dense), so ``--threads 1`` failed at batch 1 and 2. ``x @ [[c]]`` is ``x * c`` exactly (one
    product per output, nothing summed), and a multiply by a scalar the plugin fuses correctly.
    """
    from openvino import opset13

    rewritten = 0
    for op in model.get_ordered_ops():
        if op.get_type_name() != "MatMul" or op.get_attributes().get("transpose_a"):
            continue
        weight = op.input_value(1).get_node()
        if weight.get_type_name() != "Constant" or int(np.prod(weight.get_output_shape(0))) != 1:
            continue
        # Only where the product keeps the input's shape: [..., 1] @ [1, 1] -> [..., 1].
        if op.get_output_partial_shape(0) != op.input_value(0).get_partial_shape():
            continue
        scalar = opset13.constant(weight.get_data().reshape(()))
        product = opset13.multiply(op.input_value(0), scalar)
        product.set_friendly_name(op.get_friendly_name())  # the layer keeps its name in profiles
        op.output(0).replace(product.output(0))
        rewritten += 1
    return rewritten


def _raw_infer() -> Callable[[Any], None]:
    """Return the cheapest way to run an infer request whose tensors are all preset."""
    try:
        from openvino._pyopenvino import InferRequest as RawInferRequest
    except ImportError:  # the private module moved: fall back to the public call
        return lambda request: request.infer(share_outputs=True)
    base_infer = RawInferRequest.infer
    # ov.InferRequest.infer() wraps this pybind call with input dispatch and a copy of every
    # output into a fresh dict; with preset tensors neither is needed (~2.5 us/call here).
    return lambda request: base_infer(request, {}, True, True)


def _raw_queue_calls() -> tuple[Callable[[Any, Any], None], Callable[[Any], int]]:
    """The cheapest ``start_async(queue, userdata)`` and ``get_idle_request_id(queue)`` calls."""
    try:
        from openvino._pyopenvino import AsyncInferQueue as RawAsyncInferQueue
    except ImportError:  # the private module moved: fall back to the public calls
        return (lambda queue, userdata: queue.start_async(None, userdata)), (
            lambda queue: queue.get_idle_request_id()
        )
    base_start = RawAsyncInferQueue.start_async
    # ov.AsyncInferQueue.start_async() looks the idle request up once more and runs the input
    # dispatcher; with every request's tensors preset, the pybind call with no inputs suffices.
    return (lambda queue, userdata: base_start(queue, {}, userdata)), RawAsyncInferQueue.get_idle_request_id


class _Staged(NamedTuple):
    """An infer request with its input and output tensors set on arrays kept here."""

    request: Any
    inputs: np.ndarray
    outputs: np.ndarray


class _OpenVinoQueue(AsyncQueue):
    """``ov.AsyncInferQueue`` with every request's tensors preset on one staged batch.

    The requests share the staged input (read only); each writes into an output array of its
    own (``outputs``), so requests in flight never write the same memory.

    ``prompt=True``: ``on_done`` runs in the queue's callback, on the OpenVINO thread that ran
    the request, as soon as it is done. ``prompt=False``: no callback; ``on_done`` runs when
    ``submit`` reuses the request (and in ``wait_all``), as ``benchmark_app`` reads its
    requests. A Python callback takes the GIL on a stream's own thread and holds the stream
    until it returns: measured here (2 cores, the L0 teacher at batch 1, offline), 0.65x
    ``benchmark_app`` with the callback against 0.95x without.

    An exception from ``on_done`` in the callback is kept here and raised by the next
    ``submit`` or ``wait_all``, never left to OpenVINO: openvino 2026.4 re-raises a callback's
    Python error from ``wait_all`` and then aborts the process ("restore() called a second
    time") on the next ``start_async``.
    """

    def __init__(self, ov: Any, compiled: Any, staged: _Staged, n: int, prompt: bool) -> None:
        self._queue = ov.AsyncInferQueue(compiled, n)
        self.n_in_flight = len(self._queue)
        self.prompt = prompt
        shared_input = ov.Tensor(staged.inputs, shared_memory=True)
        self.outputs: list[np.ndarray] = []
        for request in self._queue:
            out = np.empty_like(staged.outputs)
            request.set_input_tensor(shared_input)
            request.set_output_tensor(ov.Tensor(out, shared_memory=True))
            self.outputs.append(out)
        self._callback_error: BaseException | None = None
        #: prompt=False: each request's ``on_done``, called when the request is next reused.
        self._waiting: list[Callable[[], None] | None] = [None] * self.n_in_flight
        if prompt:
            self._queue.set_callback(self._on_complete)
        self._start, self._idle_id = _raw_queue_calls()

    def _on_complete(self, _request: Any, on_done: Callable[[], None]) -> None:
        """The queue's callback (an OpenVINO thread, holding the GIL): the submitter's ``on_done``."""
        try:
            on_done()
        except BaseException as exc:  # kept for submit/wait_all: see the class docstring
            if self._callback_error is None:
                self._callback_error = exc

    def _raise_callback_error(self) -> None:
        if self._callback_error is not None:
            exc = self._callback_error
            raise RunnerError(f"openvino runner: completion callback failed: {one_line(exc)}") from exc

    def submit(self, on_done: Callable[[], None]) -> None:
        """Start the next idle request (blocks, without the GIL, while all are busy)."""
        if self.prompt:
            self._raise_callback_error()
            try:
                self._start(self._queue, on_done)
            except Exception as exc:
                raise RunnerError(f"openvino runner: inference failed: {one_line(exc, last=True)}") from exc
            return
        try:
            # The request start_async will take: it waits until one is idle, and raises the
            # error of a request that failed.
            index = self._idle_id(self._queue)
            self._start(self._queue, None)
        except Exception as exc:
            raise RunnerError(f"openvino runner: inference failed: {one_line(exc, last=True)}") from exc
        done, self._waiting[index] = self._waiting[index], on_done
        if done is not None:  # the request's previous query finished before it was idle
            done()

    def wait_all(self) -> None:
        """Wait for every request; raise the error a request or a callback had."""
        try:
            self._queue.wait_all()
        except Exception as exc:
            raise RunnerError(f"openvino runner: inference failed: {one_line(exc, last=True)}") from exc
        self._raise_callback_error()
        for index, done in enumerate(self._waiting):
            if done is not None:
                self._waiting[index] = None
                done()

    def close(self) -> None:
        """Let running requests finish, then drop the pool."""
        if self._queue is not None:
            # An error here was raised to the harness by its own wait_all already.
            with contextlib.suppress(Exception):
                self._queue.wait_all()
            self._queue = None


class OpenVinoRunner(Runner):
    """Runs the ONNX export with OpenVINO on the CPU, with its precision set explicitly.

    Options (``-O KEY=VALUE``): ``performance_hint`` (``LATENCY``, ``THROUGHPUT`` or
    ``CUMULATIVE_THROUGHPUT``) is OpenVINO's PERFORMANCE_HINT; unset, it is THROUGHPUT for the
    offline and server scenarios (as ``benchmark_app`` defaults to) and LATENCY for the others.
    ``requests`` is how many infer requests ``async_queue`` keeps in flight in offline and server
    (default: the compiled model's OPTIMAL_NUMBER_OF_INFER_REQUESTS). The inference precision is
    always passed: left unset, the CPU plugin runs bf16 on CPUs that have it, so an "f32" record
    would silently be bf16.
    """

    name = "openvino"
    formats = ("onnx",)
    options_model = OpenVinoOptions

    def __init__(self) -> None:
        self._compiled: Any = None

    @classmethod
    def available(cls) -> tuple[bool, str]:
        """Return whether OpenVINO imports and sees a CPU device."""
        try:
            import openvino as ov

            devices = ov.Core().available_devices
        except Exception as exc:  # a broken install can raise more than ImportError
            return False, f"cannot use openvino: {one_line(exc, last=True)}"
        if DEVICE not in devices:
            return False, f"openvino {ov.__version__} sees no CPU device (has {devices})"
        return True, f"openvino {ov.__version__} on {DEVICE}"

    def prepare(self, artifact: ModelArtifact, options: RunnerOptions) -> None:
        """Read the ONNX export, fix its batch, compile it for the CPU and read settings back."""
        if options.precision not in SUPPORTED_PRECISIONS:
            raise RunnerError(f"openvino runner supports precision {', '.join(SUPPORTED_PRECISIONS)} only")
        opts: OpenVinoOptions = self.parse_options(options.extra)
        ok, reason = self.available()
        if not ok:
            raise RunnerUnavailableError(reason)
        import openvino as ov

        self._ov = ov
        self._precision_requested = options.precision
        self._batch_shape = (options.batch_size, *artifact.input_shape)
        self._requests_option = opts.requests
        self._queue_n: int | None = None
        # Compiled for THROUGHPUT where the scenario keeps requests in flight unless the user
        # names a hint, as benchmark_app does.
        hint = opts.performance_hint or ("THROUGHPUT" if scenarios.queued(options.scenario) else "LATENCY")
        self._hint_source = "option" if opts.performance_hint else "scenario default"
        config: dict[str, Any] = {
            "PERFORMANCE_HINT": hint,
            "INFERENCE_PRECISION_HINT": getattr(ov.Type, options.precision),
        }
        if options.threads:
            config["INFERENCE_NUM_THREADS"] = options.threads
        path = artifact.path("onnx")
        try:
            core = ov.Core()
            model = core.read_model(str(path))
            # A static shape lets the CPU plugin plan its memory once.
            model.reshape(list(self._batch_shape))
            self._rewritten = _one_element_matmuls_as_multiplies(model)
            compiled = core.compile_model(model, DEVICE, config)
            # Kept for profile(), which compiles the same model again with PERF_COUNT on.
            self._core, self._model, self._config, self._path = core, model, config, path
            self._device_name = _plain(core.get_property(DEVICE, "FULL_DEVICE_NAME"))
            self._readback = {
                key: _plain(compiled.get_property(key))
                for key in (
                    "INFERENCE_PRECISION_HINT",
                    "PERFORMANCE_HINT",
                    "NUM_STREAMS",
                    "INFERENCE_NUM_THREADS",
                    "OPTIMAL_NUMBER_OF_INFER_REQUESTS",
                )
            }
        except Exception as exc:
            msg = f"openvino runner: cannot compile {path.name}: {one_line(exc, last=True)}"
            raise RunnerError(msg) from exc
        if len(compiled.inputs) != 1 or len(compiled.outputs) != 1:
            raise RunnerError("openvino runner supports single-input, single-output models")
        self._compiled = compiled
        self._output_shape = tuple(compiled.output(0).get_shape())
        self._output_dtype = compiled.output(0).get_element_type().to_dtype()
        # The model's own input type (an int8 or uint8 image model's): staged batches are cast to it.
        self._input_dtype = compiled.input(0).get_element_type().to_dtype()
        self._infer = _raw_infer()
        self.infer(self.stage(np.zeros(self._batch_shape, self._input_dtype)))  # first-run setup

    def stage(self, inputs: np.ndarray) -> _Staged:
        """Create an infer request whose input and output tensors share our arrays."""
        if self._compiled is None:
            raise RunnerError("openvino runner: call prepare() before stage()")
        ov = self._ov
        # An owned copy: the tensor shares this memory, so later changes to ``inputs`` must
        # not reach a staged batch.
        x = np.array(inputs, dtype=self._input_dtype, order="C", copy=True)
        if x.shape != self._batch_shape:
            raise RunnerError(f"openvino runner: compiled for batch shape {self._batch_shape}, got {x.shape}")
        out = np.empty(self._output_shape, self._output_dtype)
        try:
            request = self._compiled.create_infer_request()
            request.set_input_tensor(ov.Tensor(x, shared_memory=True))
            # OpenVINO writes into this array, so infer() returns it with no copy or lookup.
            request.set_output_tensor(ov.Tensor(out, shared_memory=True))
        except Exception as exc:
            raise RunnerError(f"openvino runner: cannot stage: {one_line(exc, last=True)}") from exc
        return _Staged(request, x, out)

    def infer(self, staged: _Staged) -> np.ndarray:
        """Run the staged request synchronously; the outputs land in the staged array."""
        try:
            self._infer(staged.request)
        except Exception as exc:
            raise RunnerError(f"openvino runner: inference failed: {one_line(exc, last=True)}") from exc
        return staged.outputs

    def async_queue(self, staged: _Staged, n: int | None = None, prompt: bool = True) -> _OpenVinoQueue:
        """An ``AsyncInferQueue`` of ``n`` requests (default: the ``requests`` option, else optimal)."""
        if self._compiled is None:
            raise RunnerError("openvino runner: call prepare() before async_queue()")
        n = n or self._requests_option or int(self._readback["OPTIMAL_NUMBER_OF_INFER_REQUESTS"])
        try:
            queue = _OpenVinoQueue(self._ov, self._compiled, staged, n, prompt)
        except Exception as exc:
            msg = f"openvino runner: cannot create {n} infer requests: {one_line(exc, last=True)}"
            raise RunnerError(msg) from exc
        self._queue_n, self._queue_prompt = queue.n_in_flight, prompt
        return queue

    def profile(self, staged: _Staged, n_calls: int) -> BackendProfile:
        """Per-node times from OpenVINO's PERF_COUNT, on a second compile of the same model."""
        if self._compiled is None:
            raise RunnerError("openvino runner: call prepare() before profile()")
        try:
            compiled = self._core.compile_model(self._model, DEVICE, {**self._config, "PERF_COUNT": True})
            return openvino_profile.profile_compiled(
                self._ov, compiled, self._path, staged.inputs, staged.outputs, n_calls
            )
        except Exception as exc:
            raise RunnerError(f"openvino runner: profiling failed: {one_line(exc, last=True)}") from exc

    def describe(self) -> RunnerDescription:
        """Describe the compiled model from the values OpenVINO reports back, not our requests."""
        if self._compiled is None:
            raise RunnerError("openvino runner: call prepare() before describe()")
        rb = self._readback
        threads = rb["INFERENCE_NUM_THREADS"]
        if self._queue_n is not None:
            done = "callback" if self._queue_prompt else "read when the request is reused"
            call = {"call": f"preset tensors, AsyncInferQueue.start_async, {done}", "requests": self._queue_n}
        else:
            call = {"call": "preset tensors, InferRequest.infer"}
        return RunnerDescription(
            backend="openvino",
            backend_version=self._ov.__version__,
            device=DEVICE,
            precision=rb["INFERENCE_PRECISION_HINT"],
            threads=threads if isinstance(threads, int) else None,
            settings={
                "device_name": self._device_name,
                "performance_hint": rb["PERFORMANCE_HINT"],
                "performance_hint_from": self._hint_source,
                "num_streams": rb["NUM_STREAMS"],
                "optimal_number_of_infer_requests": rb["OPTIMAL_NUMBER_OF_INFER_REQUESTS"],
                "inference_num_threads": threads,
                "precision_requested": self._precision_requested,
                "batch_shape": "x".join(map(str, self._batch_shape)),  # records hold scalars
                "matmuls_1x1_as_multiply": self._rewritten,
                **call,
            },
        )

    def close(self) -> None:
        """Drop the compiled model (its infer requests go with the staged batches)."""
        self._compiled = None
