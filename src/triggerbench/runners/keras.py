"""Keras 3 runner: the source ``.keras`` model, compiled per batch shape on TensorFlow or JAX."""

from __future__ import annotations

import functools
from typing import Annotated, Any, Literal, NamedTuple

import numpy as np
from pydantic import BaseModel

from triggerbench.errors import RunnerError, RunnerUnavailableError
from triggerbench.models.artifact import ModelArtifact, register_custom_layers
from triggerbench.options import OPTIONS_CONFIG, Flag, any_case
from triggerbench.runners import keras_layers
from triggerbench.runners.base import (
    BackendProfile,
    Runner,
    RunnerDescription,
    RunnerOptions,
    check_batch_shape,
    dist_version,
    installed,
    one_line,
)

SUPPORTED_PRECISIONS = ("f32",)
Backend = Literal["tensorflow", "jax"]
#: Keras 3 reads its backend from this variable when it is first imported, and never again.
BACKEND_ENV = "KERAS_BACKEND"
#: What the CPU runner's child is started with, so that neither backend can take a GPU. The CUDA
#: driver reads ``CUDA_VISIBLE_DEVICES`` at its own start: hiding GPUs there holds whatever
#: library (TF, JAX, anything they import) touches CUDA first, and TF never creates a CUDA
#: context that would take GPU memory from a GPU job beside it. TF's own
#: ``tf.config.set_visible_devices([], "GPU")`` works only before TF's runtime starts, and for TF
#: alone. ``JAX_PLATFORMS=cpu`` keeps JAX from loading its CUDA plugin at all (with the GPU only
#: hidden it would try, and warn). ``prepare`` also pins the model to the CPU device, which
#: covers ``--no-isolate``, where no environment can be set.
CPU_ONLY_ENV = {"CUDA_VISIBLE_DEVICES": "-1", "JAX_PLATFORMS": "cpu"}


class KerasOptions(BaseModel):
    """The runner's ``-O KEY=VALUE`` settings."""

    model_config = OPTIONS_CONFIG

    #: Compile the call with XLA; ``-O jit_compile=False`` (text from the CLI) is false, not truthy.
    jit_compile: Flag = True
    #: Keras' backend; chosen at import, so the isolated child is started with ``KERAS_BACKEND``.
    backend: Annotated[Backend, any_case(Backend)] = "tensorflow"


class _Staged(NamedTuple):
    """A batch as a backend tensor, with the function traced and compiled for its shape."""

    tensor: Any
    fn: Any


class KerasRunner(Runner):
    """Runs the ``.keras`` source with Keras 3 on TensorFlow or JAX, XLA-compiled by default.

    Options (``-O KEY=VALUE``): ``jit_compile`` (default true) chooses XLA; ``backend``
    (``tensorflow``, the default, or ``jax``) is Keras' backend, which Keras fixes when it is
    first imported: ``child_env`` sets ``KERAS_BACKEND`` for the isolated child, and ``prepare``
    refuses a process whose Keras already runs on another backend. Each batch shape gets its
    own compiled function (a TF concrete function, or a ``jax.jit`` executable compiled ahead of
    time) in ``stage``, so ``infer`` never compiles. ``options.threads`` sets TF's intra- and
    inter-op pools, which TF allows only before its runtime starts; loading any Keras model in
    the process starts it, so a late request is recorded as not applied. JAX has no thread
    setting for its CPU client, so there it is always recorded as not applied.

    This runner stays on the host CPU on a GPU host too: its child sees no GPU (``CPU_ONLY_ENV``)
    and the model, inputs and outputs are pinned to the CPU device. ``keras-gpu``
    (``runners.keras_gpu``) is the same runner on a GPU, through the hooks ``_place``,
    ``_scope``, ``_for_timing`` and ``_check_device``.
    """

    name = "keras"
    formats = ("keras",)
    options_model = KerasOptions

    def __init__(self) -> None:
        self._fn: Any = None
        self._concrete: dict[tuple[int, ...], Any] = {}
        self._jax: _JaxCall | None = None

    @classmethod
    def child_env(cls, extra: dict[str, Any]) -> dict[str, str]:
        """``KERAS_BACKEND`` for the child (Keras reads it once, when first imported), no GPUs."""
        try:
            opts: KerasOptions = cls.parse_options(extra)
        except Exception:  # the child's prepare reports bad options as the record's error
            return dict(CPU_ONLY_ENV)
        return {BACKEND_ENV: opts.backend, **CPU_ONLY_ENV}

    @classmethod
    def available(cls) -> tuple[bool, str]:
        """Return whether Keras and a backend library (TensorFlow or JAX) are installed; imports neither.

        Importing TensorFlow takes seconds, and ``triggerbench list`` asks every runner: whether
        they import is checked by ``prepare``, which says why not in one line.
        """
        if not installed("keras"):
            return False, "cannot import keras: not installed (pip install keras)"
        backends = [b for b in ("tensorflow", "jax") if installed(b)]
        if not backends:
            return False, "keras has neither tensorflow nor jax to run on (pip install tensorflow)"
        libraries = ", ".join(dist_version(b) for b in backends)
        return True, f"{dist_version('keras')} on {libraries} (installed; imported when prepared)"

    def prepare(self, artifact: ModelArtifact, options: RunnerOptions) -> None:
        """Load the model and compile it for the batch shape on the requested backend."""
        if options.precision not in SUPPORTED_PRECISIONS:
            raise RunnerError(f"{self.name} runner supports precision f32 only")
        opts: KerasOptions = self.parse_options(options.extra)
        ok, reason = self.available()
        if not ok:
            raise RunnerUnavailableError(reason)
        try:
            import keras  # imports the backend library (KERAS_BACKEND) too
        except Exception as exc:  # a broken install can raise more than ImportError
            raise RunnerUnavailableError(f"cannot import keras: {one_line(exc)}") from exc

        running = keras.backend.backend()
        if running != opts.backend:
            raise RunnerError(
                f"keras backend {opts.backend} needs the isolated child (Keras is already imported "
                f"here with {running}); drop --no-isolate"
            )
        self._keras = keras
        self._backend = opts.backend
        self._input_shape = tuple(artifact.input_shape)
        if opts.backend == "tensorflow":
            import tensorflow as tf

            self._tf = tf
            # Threads first: loading the model starts TF's runtime, after which they are fixed.
            self._threads_note = self._set_threads(tf, options.threads)
        elif options.threads is not None:
            self._threads_note = (
                f"threads={options.threads} not applied: JAX's XLA CPU client sizes its own "
                "thread pool and has no per-process thread setting"
            )
        else:
            self._threads_note = None
        # Where the weights, inputs and outputs live (a TF device name or a jax.Device), chosen
        # before anything is created: TF and JAX would otherwise take a GPU whenever one is there.
        self._placement = self._place(opts)
        path = artifact.path("keras")
        register_custom_layers()
        try:
            with self._scope():
                model = keras.saving.load_model(path, compile=False)
        except Exception as exc:
            raise RunnerError(f"cannot load {path.name}: {one_line(exc)}") from exc
        self._jit_compile = opts.jit_compile
        self._model = model
        self._concrete = {}
        if opts.backend == "jax":
            self._jax = _JaxCall(model, self._jit_compile, self._placement, self.name)
            self._fn = self._jax
        else:
            self._fn = self._tf.function(
                lambda x: model(x, training=False),
                jit_compile=self._jit_compile,
                reduce_retracing=True,
            )
        # Staging a dummy batch traces and compiles now, so the first timed call is not the compile.
        dummy = self.stage(np.zeros((options.batch_size, *self._input_shape), np.float32))
        # The device the outputs come from is where the model ran, whatever was asked for.
        out = dummy.fn(dummy.tensor)
        self._device = next(iter(out.devices())) if self._jax is not None else out.device
        self._check_device(self._device)

    def _place(self, opts: KerasOptions) -> Any:
        """The device the model runs on: the host CPU (``keras-gpu`` picks a GPU)."""
        if opts.backend == "jax":
            import jax

            return jax.devices("cpu")[0]
        return "/CPU:0"

    def _scope(self) -> Any:
        """A context in which new weights and tensors are created on ``self._placement``."""
        if self._backend == "jax":
            import jax

            return jax.default_device(self._placement)
        return self._tf.device(self._placement)

    def _for_timing(self, staged: _Staged, host: np.ndarray) -> _Staged:
        """What ``infer`` is given for the batch ``host``: here the staged tensor itself.

        On the CPU the backend's tensor is in host memory already, so a timed call is the
        compiled function and the copy of its outputs into a NumPy array.
        """
        return staged

    def _check_device(self, device: Any) -> None:
        """Refuse a model that ran elsewhere than asked (the CPU runner records what ran)."""

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
        """Copy the batch into a backend tensor once and fetch (compiling if new) its function."""
        if self._fn is None:
            raise RunnerError(f"{self.name} runner: call prepare() before stage()")
        x = np.asarray(inputs, dtype=np.float32)
        check_batch_shape(x, self._input_shape, self.name)
        shape = tuple(x.shape)
        if self._jax is not None:
            return self._for_timing(self._jax.stage(x), x)
        tf = self._tf
        try:
            with self._scope():
                tensor = tf.constant(x)  # a copy: later changes to ``inputs`` do not reach it
                fn = self._concrete.get(shape)
                if fn is None:
                    # Calling the concrete function skips tf.function's per-call signature matching
                    # (~110 of ~260 us per call at batch 1 here); XLA compiles on the first call.
                    fn = self._fn.get_concrete_function(tf.TensorSpec(shape, tf.float32))
                    fn(tensor)
                    self._concrete[shape] = fn
        except Exception as exc:
            msg = f"{self.name} runner: cannot compile for {shape}: {one_line(exc)}"
            raise RunnerError(msg) from exc
        return self._for_timing(_Staged(tensor, fn), x)

    def infer(self, staged: _Staged) -> np.ndarray:
        """Run the compiled function and copy the outputs to the host."""
        try:
            if self._jax is not None:
                return np.asarray(staged.fn(staged.tensor))  # waits for the result, on the host
            return staged.fn(staged.tensor).numpy()
        except Exception as exc:
            raise RunnerError(f"{self.name} runner: inference failed: {one_line(exc)}") from exc

    def profile(self, staged: _Staged, n_calls: int) -> BackendProfile:
        """Time each layer alone, on its input from the staged batch, compiled as the real call is.

        Keras has no per-layer profiler of its own: ``keras_layers.profile_layers`` gives each
        layer a function of its own and times the layers one after another.
        """
        if self._fn is None:
            raise RunnerError(f"{self.name} runner: call prepare() before profile()")
        with self._scope():
            return keras_layers.profile_layers(
                self._model,
                staged.tensor,
                n_calls,
                tf=None if self._jax is not None else self._tf,
                jit_compile=self._jit_compile,
                backend=self._backend,
                runner=self.name,
            )

    def describe(self) -> RunnerDescription:
        """Describe the Keras backend, device, thread pools and compile settings."""
        if self._fn is None:
            raise RunnerError(f"{self.name} runner: call prepare() before describe()")
        if self._jax is not None:
            return self._describe_jax()
        tf, keras = self._tf, self._keras
        intra = tf.config.threading.get_intra_op_parallelism_threads()
        inter = tf.config.threading.get_inter_op_parallelism_threads()
        spec = tf.DeviceSpec.from_string(self._device)
        device = spec.device_type
        if device != "CPU":
            device = f"{device}:{spec.device_index}"
        settings: dict[str, Any] = {
            "keras_backend": "tensorflow",
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

    def _describe_jax(self) -> RunnerDescription:
        import jax
        import jaxlib

        keras, device = self._keras, self._device
        name = "CPU" if device.platform == "cpu" else f"{device.platform.upper()}:{device.id}"
        settings: dict[str, Any] = {
            "keras_backend": "jax",
            "jit_compile": self._jit_compile,
            "call": "jax.jit:stateless_call" if self._jit_compile else "eager",
            "intra_op": "default",  # XLA's CPU client picks its pool; nothing here sets it
            "jax_device": str(device),
        }
        if self._threads_note:
            settings["threads_not_set"] = self._threads_note
        version = f"keras {keras.__version__} / jax {jax.__version__} (jaxlib {jaxlib.__version__})"
        return RunnerDescription(
            backend="jax",
            backend_version=version,
            device=name,
            precision="f32",
            threads=None,
            settings=settings,
        )

    def close(self) -> None:
        """Drop the model and its compiled functions."""
        self._fn = None
        self._jax = None
        self._model = None
        self._concrete = {}


class _JaxCall:
    """The model's ``stateless_call`` under ``jax.jit``, compiled ahead of time per batch shape.

    The weights are arguments, not constants folded into each executable, as in Keras' own
    ``predict``. ``infer`` converts the result with ``np.asarray``, which waits for the
    computation and copies the outputs to the host.
    """

    def __init__(self, model: Any, jit_compile: bool, device: Any, runner: str) -> None:
        import jax

        self._jax = jax
        self._model = model
        self._device = device
        self._runner = runner
        # Created under ``jax.default_device(device)`` already; put there again in case not.
        state = (
            [v.value for v in model.trainable_variables],
            [v.value for v in model.non_trainable_variables],
        )
        self._state = jax.device_put(state, device)
        self._jit = jax.jit(self._call) if jit_compile else None
        self._compiled: dict[tuple[int, ...], Any] = {}

    def _call(self, trainable: Any, non_trainable: Any, x: Any) -> Any:
        outputs, _ = self._model.stateless_call(trainable, non_trainable, x, training=False)
        return outputs

    def stage(self, x: np.ndarray) -> _Staged:
        shape = tuple(x.shape)
        try:
            tensor = self._jax.device_put(x, self._device)  # a copy: later changes to ``x`` stay out
            fn = self._compiled.get(shape)
            if fn is None:
                if self._jit is None:
                    fn = functools.partial(self._call, *self._state)
                else:
                    fn = functools.partial(self._jit.lower(*self._state, tensor).compile(), *self._state)
                np.asarray(fn(tensor))
                self._compiled[shape] = fn
        except Exception as exc:
            msg = f"{self._runner} runner: cannot compile for {shape}: {one_line(exc)}"
            raise RunnerError(msg) from exc
        return _Staged(tensor, fn)
