"""ONNX Runtime runner: the ONNX export on the CPU execution provider, through an IOBinding.

The session, binding and run helpers here are shared with the GPU runners (``onnxruntime_gpu``).
"""

from __future__ import annotations

import json
import os
import re
import statistics
import tempfile
import time
from collections import defaultdict
from typing import Any, NamedTuple

import numpy as np
from pydantic import BaseModel

from triggerbench.errors import RunnerError, RunnerUnavailableError
from triggerbench.models.artifact import ModelArtifact
from triggerbench.options import OPTIONS_CONFIG
from triggerbench.runners.base import (
    BackendProfile,
    NodeTiming,
    Runner,
    RunnerDescription,
    RunnerOptions,
    one_line,
    owned_batch,
)

SUPPORTED_PRECISIONS = ("f32",)
PROVIDERS = ("CPUExecutionProvider",)


class OnnxRuntimeOptions(BaseModel):
    """No ``-O`` options (the pool size is ``--threads``): any key is refused, not ignored."""

    model_config = OPTIONS_CONFIG


class HostStaged(NamedTuple):
    """A batch bound to host memory; the arrays live here since the binding holds raw pointers to them."""

    binding: Any
    inputs: np.ndarray
    outputs: np.ndarray


class SessionIO(NamedTuple):
    """A loaded session and its one input and output (names, per-sample shapes, element types)."""

    session: Any
    input_name: str
    output_name: str
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    input_dtype: np.dtype = np.dtype(np.float32)
    output_dtype: np.dtype = np.dtype(np.float32)


#: ONNX Runtime's tensor type names and the numpy types they hold.
ORT_TYPES = {
    f"tensor({name})": np.dtype(dtype)
    for name, dtype in [
        ("float", np.float32),
        ("double", np.float64),
        ("float16", np.float16),
        ("int8", np.int8),
        ("uint8", np.uint8),
        ("int16", np.int16),
        ("uint16", np.uint16),
        ("int32", np.int32),
        ("uint32", np.uint32),
        ("int64", np.int64),
        ("uint64", np.uint64),
        ("bool", np.bool_),
    ]
}


#: The lines of an ONNX Runtime error after its first that say which dimension or type is wrong.
_ORT_DETAIL = re.compile(r"\b(index|Got|Expected|expected|actual)\b\s*:")


def ort_message(exc: BaseException) -> str:
    """``Type: first line`` of an ONNX Runtime error, with the lines that detail a shape or type.

    ONNX Runtime names the offending dimension on the lines after the first ("index: 0 Got: 4
    Expected: 1"), where ``one_line`` would cut exactly the part that says what is wrong; other
    following lines (stack traces, advice) are left out.
    """
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if not lines:
        return f"{type(exc).__name__}: "
    detail = [line for line in lines[1:] if _ORT_DETAIL.search(line)]
    return f"{type(exc).__name__}: {'; '.join(lines[:1] + detail)}"


def import_failure(exc: BaseException) -> str:
    """The one-line reason for an ``import onnxruntime`` that failed."""
    return f"cannot import onnxruntime: {one_line(exc)}"


def session_options(ort: Any, intra_op_threads: int) -> Any:
    """All graph optimisations, sequential execution, ``intra_op_threads`` (0: ONNX Runtime's pick)."""
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.intra_op_num_threads = intra_op_threads
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return so


def open_session(
    ort: Any,
    artifact: ModelArtifact,
    so: Any,
    providers: list[Any],
    runner: str,
    float_only: bool = True,
) -> SessionIO:
    """Load the ONNX export on ``providers``; refuse models with more than one input or output.

    ``float_only``: refuse I/O other than float32 (the GPU runners' device buffers are float32);
    otherwise the model's own numeric input and output types are used.
    """
    path = artifact.path("onnx")
    try:
        session = ort.InferenceSession(str(path), so, providers=providers)
    except Exception as exc:
        raise RunnerError(f"cannot load {path.name}: {ort_message(exc)}") from exc
    ins, outs = session.get_inputs(), session.get_outputs()
    if len(ins) != 1 or len(outs) != 1:
        raise RunnerError(f"{runner} runner supports single-input, single-output models")
    types = f"{ins[0].type} -> {outs[0].type}"
    if float_only and (ins[0].type != "tensor(float)" or outs[0].type != "tensor(float)"):
        raise RunnerError(f"{runner} runner needs float32 I/O, got {types}")
    if ins[0].type not in ORT_TYPES or outs[0].type not in ORT_TYPES:
        raise RunnerError(f"{runner} runner needs numeric I/O, got {types}")
    return SessionIO(
        session,
        ins[0].name,
        outs[0].name,
        tuple(artifact.input_shape),
        tuple(artifact.output_shape),
        ORT_TYPES[ins[0].type],
        ORT_TYPES[outs[0].type],
    )


def host_batch(inputs: np.ndarray, io: SessionIO, runner: str) -> np.ndarray:
    """An owned copy of ``inputs`` in the model's input type, checked against its input shape.

    Owned, because an ``OrtValue`` on the CPU aliases this memory: later changes to the caller's
    array must not reach a staged batch.
    """
    return owned_batch(inputs, io.input_shape, io.input_dtype, runner)


def bind_host(ort: Any, io: SessionIO, inputs: np.ndarray, runner: str) -> HostStaged:
    """Bind a copy of ``inputs`` as the input and a preallocated host array as the output.

    On a GPU provider ONNX Runtime copies the input to the device and the output back inside
    each ``run_with_iobinding``: host-to-host timing.
    """
    x = host_batch(inputs, io, runner)
    out = np.empty((x.shape[0], *io.output_shape), io.output_dtype)
    try:
        binding = io.session.io_binding()
        binding.bind_ortvalue_input(io.input_name, ort.OrtValue.ortvalue_from_numpy(x))
        binding.bind_output(io.output_name, "cpu", 0, out.dtype, list(out.shape), out.ctypes.data)
    except Exception as exc:
        raise RunnerError(f"{runner} runner: cannot bind: {ort_message(exc)}") from exc
    return HostStaged(binding, x, out)


def run_bound(session: Any, binding: Any, runner: str) -> None:
    """One ``run_with_iobinding`` (no ``RunOptions``: see ``OnnxRuntimeRunner``), errors mapped."""
    try:
        session.run_with_iobinding(binding)
    except Exception as exc:
        raise RunnerError(f"{runner} runner: inference failed: {ort_message(exc)}") from exc


#: The suffix ONNX Runtime's profiler adds to each node's name in its kernel events.
_KERNEL_SUFFIX = "_kernel_time"
PROFILER = "onnxruntime session profiling"


def node_times(events: list[dict[str, Any]], n_calls: int) -> list[NodeTiming]:
    """Each node's median kernel time over the last ``n_calls`` runs of a Chrome-trace profile.

    ``events``: what ``end_profiling()`` wrote. Kernel events (``cat`` "Node", name ending
    ``_kernel_time``, ``dur`` in us) are counted in the ``model_run`` they fall in; runs before
    the last ``n_calls`` (warm-up) are left out. Nodes keep the order they first ran in.
    """
    runs = sorted((e["ts"], e["ts"] + e["dur"]) for e in events if e.get("name") == "model_run")[-n_calls:]
    if not runs:
        return []
    first_ts = runs[0][0]
    durations_us: dict[str, list[float]] = defaultdict(list)
    ops: dict[str, tuple[str | None, str | None]] = {}
    for e in sorted(events, key=lambda e: e.get("ts", 0)):
        name = e.get("name", "")
        if e.get("cat") != "Node" or not name.endswith(_KERNEL_SUFFIX) or e["ts"] < first_ts:
            continue
        node = name.removesuffix(_KERNEL_SUFFIX)
        durations_us[node].append(float(e["dur"]))
        args = e.get("args") or {}
        ops.setdefault(node, (args.get("op_name"), args.get("provider")))
    return [
        NodeTiming(
            name=node,
            op_type=ops[node][0],
            time_s=statistics.median(durations) * 1e-6,
            n_calls=len(durations),
            details={"provider": ops[node][1]} if ops[node][1] else {},
        )
        for node, durations in durations_us.items()
    ]


def profile_session(
    ort: Any,
    artifact: ModelArtifact,
    so: Any,
    providers: list[Any],
    inputs: np.ndarray,
    n_calls: int,
    runner: str,
) -> BackendProfile:
    """Run ``n_calls`` calls on a second session with ONNX Runtime's profiler on; read its trace.

    The profiler starts with the session, so this one is built beside the measured one, with
    the same options; its trace file goes to a temp folder removed here.
    """
    with tempfile.TemporaryDirectory(prefix="triggerbench-ort-profile-") as folder:
        so.enable_profiling = True
        so.profile_file_prefix = os.path.join(folder, "profile")
        io = open_session(ort, artifact, so, providers, runner, float_only=False)
        staged = bind_host(ort, io, inputs, runner)
        calls_s = []
        for i in range(n_calls + 1):  # the first call sets up arenas: left out, as in prepare
            t0 = time.perf_counter()
            run_bound(io.session, staged.binding, runner)
            if i:
                calls_s.append(time.perf_counter() - t0)
        try:
            with open(io.session.end_profiling(), encoding="utf-8") as fh:
                events = json.load(fh)
        except (OSError, ValueError) as exc:
            raise RunnerError(f"{runner} runner: cannot read the profile: {one_line(exc)}") from exc
    return BackendProfile(
        source=PROFILER,
        unit="s",
        nodes=node_times(events, n_calls),
        n_calls=n_calls,
        profiled_call_s=statistics.median(calls_s),
        caveats=[
            "node times are kernels only: the time between nodes and the call's own overhead are in "
            "the whole call, not in the rows"
        ],
    )


class OnnxRuntimeRunner(Runner):
    """Runs the ONNX export with ONNX Runtime's CPU provider, all graph optimisations on.

    Each staged batch is an IOBinding: the input bound as an ``OrtValue`` and the output bound
    to a preallocated array, so ``infer`` is one ``run_with_iobinding`` call that neither
    builds a feed dict nor allocates outputs. Measured on the stand-in CNN (2-vCPU host),
    that is ~3 us/call faster than ``session.run(None, {name: x})`` at batch 1 and no slower
    at batch 256. ``RunOptions`` are not passed: with any ``RunOptions`` the Python wrapper
    looks up a graph-capture key that is usually unset, and raising and catching that
    lookup's error added ~40 us per call (onnxruntime 1.32).
    """

    name = "onnxruntime"
    formats = ("onnx",)
    options_model = OnnxRuntimeOptions

    def __init__(self) -> None:
        self._session: Any = None

    @classmethod
    def available(cls) -> tuple[bool, str]:
        """Return whether onnxruntime imports and offers the CPU execution provider."""
        try:
            import onnxruntime as ort
        except Exception as exc:  # a broken install can raise more than ImportError
            return False, import_failure(exc)
        if PROVIDERS[0] not in ort.get_available_providers():
            return False, f"onnxruntime {ort.__version__} lacks {PROVIDERS[0]}"
        return True, f"onnxruntime {ort.__version__} with {PROVIDERS[0]}"

    def prepare(self, artifact: ModelArtifact, options: RunnerOptions) -> None:
        """Create the session and run one dummy batch so arenas are allocated before timing."""
        if options.precision not in SUPPORTED_PRECISIONS:
            raise RunnerError("onnxruntime runner supports precision f32 only")
        self.parse_options(options.extra)
        ok, reason = self.available()
        if not ok:
            raise RunnerUnavailableError(reason)
        import onnxruntime as ort

        self._ort = ort
        self._artifact = artifact
        self._intra_op_threads = options.threads or 0  # 0: ONNX Runtime picks the pool size
        so = session_options(ort, self._intra_op_threads)
        self._io = open_session(ort, artifact, so, list(PROVIDERS), self.name, float_only=False)
        self._session = self._io.session
        self.infer(self.stage(np.zeros((options.batch_size, *self._io.input_shape), self._io.input_dtype)))

    def stage(self, inputs: np.ndarray) -> HostStaged:
        """Copy the batch, bind it as the input and bind a preallocated array as the output."""
        if self._session is None:
            raise RunnerError("onnxruntime runner: call prepare() before stage()")
        return bind_host(self._ort, self._io, inputs, self.name)

    def infer(self, staged: HostStaged) -> np.ndarray:
        """Run the bound batch; ONNX Runtime writes the outputs straight into the staged array."""
        run_bound(self._session, staged.binding, self.name)
        return staged.outputs

    def profile(self, staged: HostStaged, n_calls: int) -> BackendProfile:
        """Per-node kernel times from ONNX Runtime's profiler, on a second session like this one."""
        if self._session is None:
            raise RunnerError("onnxruntime runner: call prepare() before profile()")
        so = session_options(self._ort, self._intra_op_threads)
        return profile_session(
            self._ort, self._artifact, so, list(PROVIDERS), staged.inputs, n_calls, self.name
        )

    def describe(self) -> RunnerDescription:
        """Describe the session: version, providers, optimisation level and thread pool."""
        if self._session is None:
            raise RunnerError("onnxruntime runner: call prepare() before describe()")
        settings: dict[str, Any] = {
            "providers": ",".join(self._session.get_providers()),  # records hold scalars only
            "graph_optimization_level": "ORT_ENABLE_ALL",
            "execution_mode": "sequential",
            "intra_op_num_threads": self._intra_op_threads,
            "call": "run_with_iobinding",
        }
        if not self._intra_op_threads and hasattr(os, "sched_getaffinity"):
            # ONNX Runtime sizes its default pool from the CPUs it may use; this is that
            # count, not a number ONNX Runtime reports.
            settings["intra_op_default_cpus_in_affinity"] = len(os.sched_getaffinity(0))
        return RunnerDescription(
            backend="onnxruntime",
            backend_version=self._ort.__version__,
            device="CPU",
            precision="f32",
            threads=self._intra_op_threads or None,
            settings=settings,
        )

    def close(self) -> None:
        """Drop the session (its buffers are freed with it)."""
        self._session = None
