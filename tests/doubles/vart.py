"""Test double of Vitis AI's ``vart`` Python module (``vart.Runner``), for the worker's tests.

Documented behaviour followed: ``Runner.create_runner(subgraph, "run")``; input/output tensors
with a fixed batch in ``dims[0]``; the caller passes lists of int8 numpy buffers of exactly
those dims; ``execute_async(inputs, outputs)`` returns ``(job_id, status)`` and
``wait(job)`` returns the status, 0 on success.

The DPU computation is a fixed integer matrix on the flattened int8 input, shifted right and
saturated to int8, so an error in scaling, padding or row order changes the outputs.

Misbehaviours, by environment variable (read when the runner is created):
``VART_DOUBLE_EXIT_ON=N`` exits the process on the N-th ``execute_async`` (a crash);
``VART_DOUBLE_HANG_ON=N`` sleeps for an hour on the N-th ``execute_async`` (a hang).
"""

import os
import time

import numpy as np

__version__ = "1.4.1-double"

_calls = [0]


class Runner:
    """A DPU runner on one subgraph."""

    def __init__(self, subgraph):
        spec = subgraph.spec
        self._inputs = subgraph.input_tensors
        self._outputs = subgraph.output_tensors
        self._weights = np.asarray(spec["weights"], dtype=np.int64)
        self._shift = int(spec.get("shift", 0))
        self._jobs = {}
        self._next_job = 0
        self._exit_on = int(os.environ.get("VART_DOUBLE_EXIT_ON", "0"))
        self._hang_on = int(os.environ.get("VART_DOUBLE_HANG_ON", "0"))

    @staticmethod
    def create_runner(subgraph, mode="run"):
        if mode != "run":
            raise ValueError(f"unsupported runner mode {mode}")
        if not (subgraph.has_attr("device") and subgraph.get_attr("device").upper() == "DPU"):
            raise RuntimeError(f"subgraph {subgraph.get_name()} is not a DPU subgraph")
        return Runner(subgraph)

    def get_input_tensors(self):
        return list(self._inputs)

    def get_output_tensors(self):
        return list(self._outputs)

    def execute_async(self, inputs, outputs):
        _calls[0] += 1
        if _calls[0] == self._exit_on:
            os._exit(17)
        if _calls[0] == self._hang_on:
            time.sleep(3600)
        for bufs, tensors in ((inputs, self._inputs), (outputs, self._outputs)):
            if len(bufs) != len(tensors):
                raise ValueError(f"expected {len(tensors)} buffers, got {len(bufs)}")
            for buf, t in zip(bufs, tensors):  # noqa: B905 - Python 3.6 has no zip(strict=)
                if buf.dtype != np.int8 or list(buf.shape) != t.dims or not buf.flags.c_contiguous:
                    raise ValueError(
                        f"buffer for {t.name} must be C-contiguous int8 {t.dims}, "
                        f"got {buf.dtype} {list(buf.shape)}"
                    )
        x = inputs[0].reshape(inputs[0].shape[0], -1).astype(np.int64)
        acc = x @ self._weights.T
        y = np.clip(np.floor(acc / float(2**self._shift) + 0.5), -128, 127).astype(np.int8)
        outputs[0][...] = y.reshape(outputs[0].shape)
        self._next_job += 1
        self._jobs[self._next_job] = 0
        return (self._next_job, 0)

    def wait(self, job):
        job_id = job[0] if isinstance(job, (tuple, list)) else job
        return self._jobs.pop(job_id)
