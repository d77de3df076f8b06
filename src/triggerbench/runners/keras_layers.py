"""The Keras runners' per-layer profile: each layer compiled alone and timed on its own input.

Keras has no per-layer profiler of its own. Each layer gets a function of its own (a TF concrete
function, or a ``jax.jit`` executable; XLA-compiled when the runner's real call is), and the
layers run one after another, each timed alone. Keras, TensorFlow and JAX are imported by the
caller's backend only when a profile is asked for (``triggerbench list`` imports this module).
"""

from __future__ import annotations

import functools
import inspect
import statistics
import time
from collections.abc import Callable
from typing import Any

from triggerbench.errors import RunnerError
from triggerbench.runners.base import BackendProfile, NodeTiming, one_line


class _Identity:
    """A layer that returns its input: timed as an empty compiled call (the cost of any call)."""

    name = "identity"
    trainable_variables: list[Any] = []
    non_trainable_variables: list[Any] = []

    def __call__(self, x: Any, training: bool = False) -> Any:
        return x * 1.0  # an op, so XLA compiles and runs something rather than aliasing the input

    def call(self, x: Any) -> Any:
        return self(x)

    def stateless_call(self, trainable: Any, non_trainable: Any, x: Any) -> Any:
        return self(x), non_trainable


def layer_call(layer: Any, x: Any, tf: Any | None, jit_compile: bool) -> Callable[[], Any]:
    """One layer on its input ``x``, compiled now; returns a call that waits for its output.

    ``tf`` is TensorFlow for a runner on Keras' TensorFlow backend, None on JAX.
    """
    if tf is None:
        import jax

        state = (
            [v.value for v in layer.trainable_variables],
            [v.value for v in layer.non_trainable_variables],
        )

        # ``stateless_call`` hands keywords straight to ``call``, which may not take ``training``.
        kwargs = {"training": False} if "training" in inspect.signature(layer.call).parameters else {}

        def call(trainable: Any, non_trainable: Any, x: Any) -> Any:
            return layer.stateless_call(trainable, non_trainable, x, **kwargs)[0]

        fn = jax.jit(call).lower(*state, x).compile() if jit_compile else call
        run = functools.partial(fn, *state, x)
        jax.block_until_ready(run())
        return lambda: jax.block_until_ready(run())
    spec = tf.nest.map_structure(lambda t: tf.TensorSpec(t.shape, t.dtype), x)
    fn = tf.function(lambda x: layer(x, training=False), jit_compile=jit_compile)
    concrete = fn.get_concrete_function(spec)
    concrete(x)  # XLA compiles on the first call
    # TF's eager calls on the host return when the outputs are computed.
    return functools.partial(concrete, x)


def profile_layers(
    model: Any, tensor: Any, n_calls: int, *, tf: Any | None, jit_compile: bool, backend: str, runner: str
) -> BackendProfile:
    """Time each layer of ``model`` alone, ``n_calls`` times, on its input from ``tensor``.

    Called inside the runner's device scope; ``tensor`` is the staged batch.
    """
    import keras

    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    try:
        probe = keras.Model(model.inputs, [layer.input for layer in layers])
        inputs = probe(tensor, training=False)
        calls = [layer_call(layer, x, tf, jit_compile) for layer, x in zip(layers, inputs, strict=True)]
    except Exception as exc:
        raise RunnerError(f"{runner} runner: cannot compile the layers one by one: {one_line(exc)}") from exc
    empty = layer_call(_Identity(), tensor, tf, jit_compile)  # what any one compiled call costs
    times_s: list[list[float]] = [[] for _ in layers]
    empty_s, chain_s = [], []
    for _ in range(n_calls):
        start = time.perf_counter()
        for call, spent in zip(calls, times_s, strict=True):
            t0 = time.perf_counter()
            call()
            spent.append(time.perf_counter() - t0)
        chain_s.append(time.perf_counter() - start)
        t0 = time.perf_counter()
        empty()
        empty_s.append(time.perf_counter() - t0)
    compiled = "XLA-compiled" if jit_compile else "compiled"
    nodes = [
        NodeTiming(
            name=layer.name,
            op_type=type(layer).__name__,
            time_s=statistics.median(spent),
            n_calls=n_calls,
            layer=layer.name,
        )
        for layer, spent in zip(layers, times_s, strict=True)
    ]
    return BackendProfile(
        source=f"keras layer by layer ({backend}, each layer {compiled} alone)",
        unit="s",
        nodes=nodes,
        n_calls=n_calls,
        profiled_call_s=statistics.median(chain_s),
        caveats=[
            "layer by layer: XLA fuses layers in the real call"
            if jit_compile
            else "layer by layer: the real call runs the layers as one graph",
            f"each row is a call of its own: it includes one call's overhead, which the whole call "
            f"pays once (an empty compiled call: {statistics.median(empty_s) * 1e6:.1f} us median here)",
        ],
    )
