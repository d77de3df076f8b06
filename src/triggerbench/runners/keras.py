"""Keras 3 runner: the source ``.keras`` model, called through one compiled ``tf.function``."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from pydantic import BaseModel

from triggerbench.errors import RunnerError, RunnerUnavailableError
from triggerbench.models.artifact import ModelArtifact, register_custom_layers
from triggerbench.runners.base import Runner, RunnerDescription, RunnerOptions, one_line
from triggerbench.runners.options import OPTIONS_CONFIG, Flag

SUPPORTED_PRECISIONS = ("f32",)


class KerasOptions(BaseModel):
    """The runner's ``-O KEY=VALUE`` settings."""

    model_config = OPTIONS_CONFIG

    #: Compile the call with XLA; ``-O jit_compile=False`` (text from the CLI) is false, not truthy.
    jit_compile: Flag = True


class _Staged(NamedTuple):
    """A batch as a TF tensor, with the concrete function traced and compiled for its shape."""

    tensor: Any
    fn: Any


class KerasRunner(Runner):
    """Runs the ``.keras`` source with Keras 3 on TensorFlow, XLA-compiled by default.

    Options (``-O KEY=VALUE``): ``jit_compile`` (default true) chooses XLA. Each batch shape
    gets its own concrete function, traced and compiled in ``stage``, so ``infer`` never
    compiles. ``options.threads`` sets TF's intra- and inter-op pools, which TF allows only
    before its runtime starts; loading any Keras model in the process starts it, so a late
    request is recorded as not applied.
    """

    name = "keras"
    formats = ("keras",)
    options_model = KerasOptions

    def __init__(self) -> None:
        self._fn: Any = None
        self._concrete: dict[tuple[int, ...], Any] = {}

    @classmethod
    def available(cls) -> tuple[bool, str]:
        """Return whether Keras imports and runs on the TensorFlow backend."""
        try:
            import keras
            import tensorflow as tf
        except Exception as exc:  # a broken install can raise more than ImportError
            return False, f"cannot import keras/tensorflow: {one_line(exc)}"
        backend = keras.backend.backend()
        if backend != "tensorflow":
            return False, f"keras backend is {backend!r}; this runner needs tensorflow"
        return True, f"keras {keras.__version__} on tensorflow {tf.__version__}"

    def prepare(self, artifact: ModelArtifact, options: RunnerOptions) -> None:
        """Load the model, wrap it in a ``tf.function`` and compile it for the batch shape."""
        if options.precision not in SUPPORTED_PRECISIONS:
            raise RunnerError("keras runner supports precision f32 only")
        opts: KerasOptions = self.parse_options(options.extra)
        ok, reason = self.available()
        if not ok:
            raise RunnerUnavailableError(reason)
        import keras
        import tensorflow as tf

        self._tf = tf
        self._keras = keras
        self._input_shape = tuple(artifact.input_shape)
        # Threads first: loading the model starts TF's runtime, after which they are fixed.
        self._threads_note = self._set_threads(tf, options.threads)
        path = artifact.path("keras")
        register_custom_layers()
        try:
            model = keras.saving.load_model(path, compile=False)
        except Exception as exc:
            raise RunnerError(f"cannot load {path.name}: {one_line(exc)}") from exc
        self._jit_compile = opts.jit_compile
        self._fn = tf.function(
            lambda x: model(x, training=False),
            jit_compile=self._jit_compile,
            reduce_retracing=True,
        )
        self._concrete = {}
        # Staging a dummy batch traces and compiles now, so the first timed call is not the compile.
        dummy = self.stage(np.zeros((options.batch_size, *self._input_shape), np.float32))
        self._device = dummy.fn(dummy.tensor).device

    @staticmethod
    def _set_threads(tf: Any, threads: int | None) -> str | None:
        """Apply ``threads`` to TF's pools; return why not where TF has already started."""
        if threads is None:
            return None
        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
        except RuntimeError as exc:
            return f"threads={threads} not applied: {one_line(exc)}"
        return None

    def stage(self, inputs: np.ndarray) -> _Staged:
        """Copy the batch into a TF tensor once and fetch (compiling if new) its function."""
        if self._fn is None:
            raise RunnerError("keras runner: call prepare() before stage()")
        tf = self._tf
        x = np.asarray(inputs, dtype=np.float32)
        if tuple(x.shape[1:]) != self._input_shape:
            raise RunnerError(
                f"keras runner: batch shape {x.shape} does not match the model input "
                f"(batch, {', '.join(map(str, self._input_shape))})"
            )
        shape = tuple(x.shape)
        try:
            tensor = tf.constant(x)  # a copy: later changes to ``inputs`` do not reach it
            fn = self._concrete.get(shape)
            if fn is None:
                # Calling the concrete function skips tf.function's per-call signature matching
                # (~110 of ~260 us per call at batch 1 here); XLA compiles on the first call.
                fn = self._fn.get_concrete_function(tf.TensorSpec(shape, tf.float32))
                fn(tensor)
                self._concrete[shape] = fn
        except Exception as exc:
            msg = f"keras runner: cannot compile for {shape}: {one_line(exc)}"
            raise RunnerError(msg) from exc
        return _Staged(tensor, fn)

    def infer(self, staged: _Staged) -> np.ndarray:
        """Run the compiled function and copy the outputs to the host."""
        try:
            return staged.fn(staged.tensor).numpy()
        except Exception as exc:
            raise RunnerError(f"keras runner: inference failed: {one_line(exc)}") from exc

    def describe(self) -> RunnerDescription:
        """Describe the Keras backend, device, thread pools and compile settings."""
        if self._fn is None:
            raise RunnerError("keras runner: call prepare() before describe()")
        tf, keras = self._tf, self._keras
        intra = tf.config.threading.get_intra_op_parallelism_threads()
        inter = tf.config.threading.get_inter_op_parallelism_threads()
        spec = tf.DeviceSpec.from_string(self._device)
        device = spec.device_type
        if device != "CPU":
            device = f"{device}:{spec.device_index}"
        settings: dict[str, Any] = {
            "jit_compile": self._jit_compile,
            "call": "tf.function:concrete",
            "intra_op": intra or "default",  # 0 means TF picks the pool size
            "inter_op": inter or "default",
            "tf_device": self._device,
        }
        if self._threads_note:
            settings["threads_not_set"] = self._threads_note
        return RunnerDescription(
            backend=keras.backend.backend(),
            backend_version=f"keras {keras.__version__} / tensorflow {tf.__version__}",
            device=device,
            precision="f32",
            threads=intra or None,
            settings=settings,
        )

    def close(self) -> None:
        """Drop the model and its compiled functions."""
        self._fn = None
        self._concrete = {}
