"""OpenVINO runner: the ONNX export compiled for the CPU plugin at a static batch shape."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from triggerbench.errors import RunnerError, RunnerUnavailableError
from triggerbench.models.artifact import ModelArtifact
from triggerbench.runners.base import Runner, RunnerDescription, RunnerOptions, one_line

#: Our precision names, which are also the names of OpenVINO's element types.
SUPPORTED_PRECISIONS = ("f32", "bf16", "f16")
DEVICE = "CPU"


def _plain(value: Any) -> Any:
    """Turn an OpenVINO property value (``Type``, enum, int, str) into a JSON-friendly value."""
    if isinstance(value, bool | int | float | str):
        return value
    if hasattr(value, "to_string"):  # ov.Type: "f32", "bf16"
        return value.to_string()
    return getattr(value, "name", None) or str(value)


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


class _Staged(NamedTuple):
    """An infer request with its input and output tensors set on arrays kept here."""

    request: Any
    inputs: np.ndarray
    outputs: np.ndarray


class OpenVinoRunner(Runner):
    """Runs the ONNX export with OpenVINO on the CPU, with its precision set explicitly.

    ``options.extra["performance_hint"]`` (default ``"LATENCY"``) is OpenVINO's
    PERFORMANCE_HINT. The inference precision is always passed: left unset, the CPU plugin
    runs bf16 on CPUs that have it, so an "f32" record would silently be bf16.
    """

    name = "openvino"
    formats = ("onnx",)

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
        ok, reason = self.available()
        if not ok:
            raise RunnerUnavailableError(reason)
        import openvino as ov

        self._ov = ov
        self._precision_requested = options.precision
        self._batch_shape = (options.batch_size, *artifact.input_shape)
        config: dict[str, Any] = {
            "PERFORMANCE_HINT": str(options.extra.get("performance_hint", "LATENCY")),
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
            compiled = core.compile_model(model, DEVICE, config)
            self._device_name = _plain(core.get_property(DEVICE, "FULL_DEVICE_NAME"))
            self._readback = {
                key: _plain(compiled.get_property(key))
                for key in (
                    "INFERENCE_PRECISION_HINT",
                    "PERFORMANCE_HINT",
                    "NUM_STREAMS",
                    "INFERENCE_NUM_THREADS",
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
        self._infer = _raw_infer()
        self.infer(self.stage(np.zeros(self._batch_shape, np.float32)))  # first-run setup

    def stage(self, inputs: np.ndarray) -> _Staged:
        """Create an infer request whose input and output tensors share our arrays."""
        if self._compiled is None:
            raise RunnerError("openvino runner: call prepare() before stage()")
        ov = self._ov
        # An owned copy: the tensor shares this memory, so later changes to ``inputs`` must
        # not reach a staged batch.
        x = np.array(inputs, dtype=np.float32, order="C", copy=True)
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

    def describe(self) -> RunnerDescription:
        """Describe the compiled model from the values OpenVINO reports back, not our requests."""
        if self._compiled is None:
            raise RunnerError("openvino runner: call prepare() before describe()")
        rb = self._readback
        threads = rb["INFERENCE_NUM_THREADS"]
        return RunnerDescription(
            backend="openvino",
            backend_version=self._ov.__version__,
            device=DEVICE,
            precision=rb["INFERENCE_PRECISION_HINT"],
            threads=threads if isinstance(threads, int) else None,
            settings={
                "device_name": self._device_name,
                "performance_hint": rb["PERFORMANCE_HINT"],
                "num_streams": rb["NUM_STREAMS"],
                "inference_num_threads": threads,
                "precision_requested": self._precision_requested,
                "batch_shape": "x".join(map(str, self._batch_shape)),  # records hold scalars
                "call": "preset tensors, InferRequest.infer",
            },
        )

    def close(self) -> None:
        """Drop the compiled model (its infer requests go with the staged batches)."""
        self._compiled = None
