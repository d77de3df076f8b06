"""Out-of-process worker that runs an xmodel's DPU subgraph through VART (Vitis AI).

It runs inside the Vitis AI 1.4.1 container, whose Python is 3.6 and which has ``xir``, ``vart``
and numpy but not triggerbench. Copy this file and ``protocol.py`` (the protocol, shared with
triggerbench) side by side where the container sees them, and start it with that Python::

    docker exec -i vitis-ai python3 /workspace/vart_worker.py

The parent writes requests on stdin, the worker answers each on stdout (framing, handshake and
errors: ``protocol``); logs go to stderr. Requests (``{"op": ...}``) and their answers:

- ``hello``: the protocol version, Python, numpy, xir and vart versions; after ``load`` also
  the model's facts.
- ``load {"xmodel": path, "n_runners": n}``: deserialize the graph, pick the DPU subgraph,
  create ``n`` runners; answers the DPU batch, input/output shapes and fix points.
- ``infer`` with array ``batch``, float32 ``(n, *input_shape)``: answers array ``outputs``,
  float32 ``(n, output size)``, and ``compute_s``, the seconds spent in execute_async/wait.
- ``profile`` with array ``batch`` and ``n_calls``: runs ``infer`` ``n_calls`` times and answers
  ``subgraphs`` (every child subgraph in order: ``name``, ``device``, ``op_types``; the DPU one
  with ``time_s``, the median seconds per call in execute_async/wait, and ``n_runs``, DPU runs
  per call), ``call_s`` (median seconds per whole call) and ``host_s`` (median of call minus DPU:
  int8 scaling, padding and copies). Subgraphs on other devices (the CPU's softmax) are listed
  but not run: this worker runs the DPU subgraph only.
- ``close``: drop the runners and exit.

A failed request answers ``{"ok": false, "error": {"type": ..., "message": one line}}`` and the
worker keeps serving; only ``close`` or the end of stdin stops it.
"""

import math
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

if __package__:
    from . import protocol
else:  # run as a script in the container: protocol.py was copied beside this file
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # there even with python -P/-I
    try:
        import protocol
    except ImportError:
        sys.exit("vart_worker.py needs protocol.py beside it: copy both from triggerbench/workers/")


class WorkerError(protocol.RequestError):
    """A request the worker cannot serve (bad xmodel, bad batch): answered, not fatal."""


def _module_version(module):
    for attr in ("__version__", "version"):
        value = getattr(module, attr, None)
        if isinstance(value, str):
            return value
    return None


def dpu_subgraphs(graph):
    """The child subgraphs whose ``device`` attribute is DPU, in topological order."""
    root = graph.get_root_subgraph()
    if root is None or root.is_leaf:
        return []
    return [
        sg
        for sg in root.toposort_child_subgraph()
        if sg.has_attr("device") and str(sg.get_attr("device")).upper() == "DPU"
    ]


def _op_types(subgraph):
    """The xir op types in ``subgraph``, sorted (empty where the binding does not list them)."""
    try:
        return sorted({str(op.get_type()) for op in subgraph.get_ops()})
    except Exception:  # noqa: BLE001 - a descriptive extra, never a reason to fail
        return []


def _tensor_info(tensor):
    if not tensor.has_attr("fix_point"):
        raise WorkerError(f"DPU tensor {tensor.name} has no fix_point attribute")
    return {
        "name": tensor.name,
        "dims": [int(d) for d in tensor.dims],
        "dtype": str(tensor.dtype),
        "fix_point": int(tensor.get_attr("fix_point")),
    }


class DpuModel:
    """The DPU subgraph of one xmodel, with ``n_runners`` VART runners on it.

    The DPU has a fixed batch (the first dim of its input tensor): a request of any size is cut
    into DPU batches, the last one padded; up to ``n_runners`` batches are in flight at once,
    each on its own runner, in its own thread, with its own preallocated int8 buffers.
    """

    def __init__(self, xmodel, n_runners):
        import vart
        import xir

        if not os.path.isfile(xmodel):
            raise WorkerError(f"xmodel not found: {xmodel}")
        if n_runners < 1:
            raise WorkerError(f"n_runners must be >= 1, got {n_runners}")
        graph = xir.Graph.deserialize(xmodel)
        subgraphs = dpu_subgraphs(graph)
        if not subgraphs:
            raise WorkerError(f"xmodel has no DPU subgraph: {xmodel}")
        if len(subgraphs) > 1:
            raise WorkerError(
                f"xmodel has {len(subgraphs)} DPU subgraphs; the vart worker runs models compiled to one DPU "
                "subgraph (layers the DPU lacks split the model)"
            )
        self.graph = graph  # the runners refer to the graph's subgraph: keep it alive
        self.dpu_name = subgraphs[0].get_name()
        self.dpu_attrs = {}
        for attr in ("dpu_name", "dpu_fingerprint"):
            try:
                if subgraphs[0].has_attr(attr):
                    self.dpu_attrs[attr] = str(subgraphs[0].get_attr(attr))
            except Exception:  # noqa: BLE001 - a descriptive extra, never a reason to fail
                pass
        self.runners = [vart.Runner.create_runner(subgraphs[0], "run") for _ in range(n_runners)]
        ins = self.runners[0].get_input_tensors()
        outs = self.runners[0].get_output_tensors()
        if len(ins) != 1 or len(outs) != 1:
            raise WorkerError(
                f"DPU subgraph has {len(ins)} inputs and {len(outs)} outputs; "
                "the vart worker supports one of each"
            )
        self.input_info = _tensor_info(ins[0])
        self.output_info = _tensor_info(outs[0])
        for info in (self.input_info, self.output_info):
            if info["dtype"] not in ("xint8", "int8"):
                raise WorkerError("DPU tensor {} is {}, not int8".format(info["name"], info["dtype"]))
        self.in_dims = tuple(self.input_info["dims"])
        self.out_dims = tuple(self.output_info["dims"])
        self.dpu_batch = self.in_dims[0]
        if self.out_dims[0] != self.dpu_batch:
            raise WorkerError(f"DPU input batch {self.dpu_batch} != output batch {self.out_dims[0]}")
        self.in_scale = 2.0 ** self.input_info["fix_point"]
        self.out_scale = 2.0 ** -self.output_info["fix_point"]
        self.in_size = int(np.prod(self.in_dims[1:]))
        self.out_size = int(np.prod(self.out_dims[1:]))
        self.buffers = [
            (np.zeros(self.in_dims, np.int8, order="C"), np.zeros(self.out_dims, np.int8, order="C"))
            for _ in self.runners
        ]
        self.pool = ThreadPoolExecutor(n_runners) if n_runners > 1 else None

    def describe(self):
        """Facts the parent checks against its model and records."""
        facts = {
            "dpu_batch": self.dpu_batch,
            "n_runners": len(self.runners),
            "input": self.input_info,
            "output": self.output_info,
        }
        facts.update(self.dpu_attrs)
        return facts

    def infer(self, batch):
        """Run float inputs ``(n, ...)`` through the DPU; return float32 ``(n, out_size)`` and DPU s."""
        n = batch.shape[0]
        if n < 1 or batch[0].size != self.in_size:
            raise WorkerError(
                f"batch of shape {list(batch.shape)} does not fit the DPU input "
                f"{list(self.in_dims)} (batch, {self.in_size} values each)"
            )
        # The DPU reads int8 at 2**fix_point: round to nearest, saturate like the quantizer.
        q = np.clip(np.rint(batch.reshape(n, self.in_size) * self.in_scale), -128, 127).astype(np.int8)
        out = np.empty((n, self.out_size), np.float32)
        compute_s = 0.0
        b = self.dpu_batch
        starts = list(range(0, n, b))
        for wave in range(0, len(starts), len(self.runners)):
            chunks = []
            for slot, start in enumerate(starts[wave : wave + len(self.runners)]):
                stop = min(start + b, n)
                flat = self.buffers[slot][0].reshape(b, self.in_size)
                flat[: stop - start] = q[start:stop]
                flat[stop - start :] = 0  # padding rows: their outputs are dropped
                chunks.append((slot, start, stop))
            t0 = time.perf_counter()
            slots = [slot for slot, _start, _stop in chunks]
            if len(slots) == 1:
                self._run(slots[0])
            else:  # one thread per runner, as Vitis AI's multi-runner examples do
                for future in [self.pool.submit(self._run, slot) for slot in slots]:
                    future.result()
            compute_s += time.perf_counter() - t0
            for slot, start, stop in chunks:
                out_buf = self.buffers[slot][1].reshape(b, self.out_size)
                out[start:stop] = out_buf[: stop - start] * self.out_scale
        return out, compute_s

    def profile(self, batch, n_calls):
        """Time ``n_calls`` calls of ``infer``; list every child subgraph with its device."""
        if n_calls < 1:
            raise WorkerError(f"n_calls must be >= 1, got {n_calls}")
        call_s, dpu_s = [], []
        for _ in range(n_calls):
            t0 = time.perf_counter()
            _out, compute_s = self.infer(batch)
            call_s.append(time.perf_counter() - t0)
            dpu_s.append(compute_s)
        subgraphs = []
        for sg in self.graph.get_root_subgraph().toposort_child_subgraph():
            device = str(sg.get_attr("device")) if sg.has_attr("device") else None
            info = {"name": sg.get_name(), "device": device, "op_types": _op_types(sg)}
            if sg.get_name() == self.dpu_name:
                info["time_s"] = statistics.median(dpu_s)
                info["n_runs"] = int(math.ceil(batch.shape[0] / float(self.dpu_batch)))
            subgraphs.append(info)
        return {
            "subgraphs": subgraphs,
            "n_calls": n_calls,
            "call_s": statistics.median(call_s),
            "host_s": statistics.median([c - d for c, d in zip(call_s, dpu_s)]),  # noqa: B905 - 3.6
        }

    def _run(self, slot):
        in_buf, out_buf = self.buffers[slot]
        runner = self.runners[slot]
        job = runner.execute_async([in_buf], [out_buf])
        _check_status(job, "execute_async")
        _check_status(runner.wait(job), "wait")

    def close(self):
        """Drop the runners (VART frees the device buffers with them)."""
        if self.pool is not None:
            self.pool.shutdown(wait=True)
            self.pool = None
        self.runners = []


def _check_status(result, call):
    # VART returns (job_id, status) from execute_async and a status from wait; 0 is success.
    status = result[1] if isinstance(result, (tuple, list)) else result
    if isinstance(status, int) and status != 0:
        raise WorkerError(f"VART {call} returned status {status}")


class Worker:
    """Serves requests for one process; holds at most one loaded model."""

    def __init__(self):
        self.model = None

    def handlers(self):
        """The ops this worker serves, for ``protocol.serve`` (which answers the versions)."""
        return {
            "hello": self.hello,
            "load": self.load,
            "infer": self.infer,
            "profile": self.profile,
            "close": self.close,
        }

    def hello(self, request):
        """The versions of xir and vart (None, with the import error, where missing); the model's facts."""
        info = {}
        for name in ("xir", "vart"):
            try:
                info[name] = _module_version(__import__(name)) or "unknown"
            except ImportError as exc:
                info[name] = None
                info[name + "_error"] = str(exc)
        if self.model is not None:
            info["model"] = self.model.describe()
        return info

    def load(self, request):
        """Load ``xmodel`` with ``n_runners`` runners (replacing any loaded model)."""
        self.close(request)
        try:
            n_runners = int(request.get("n_runners", 1))
        except (TypeError, ValueError):
            raise WorkerError("n_runners must be a whole number") from None
        self.model = DpuModel(str(request.get("xmodel", "")), n_runners)
        return {"model": self.model.describe()}

    def infer(self, request):
        """Run the array ``batch`` through the loaded model."""
        if self.model is None:
            raise WorkerError("infer before load")
        batch = request.get("batch")
        if not isinstance(batch, np.ndarray):
            raise WorkerError("infer needs the array 'batch'")
        outputs, compute_s = self.model.infer(batch.astype(np.float32, copy=False))
        return {"outputs": outputs, "compute_s": compute_s}

    def profile(self, request):
        """Time the loaded model on the array ``batch`` over ``n_calls`` calls, per subgraph."""
        if self.model is None:
            raise WorkerError("profile before load")
        batch = request.get("batch")
        if not isinstance(batch, np.ndarray):
            raise WorkerError("profile needs the array 'batch'")
        try:
            n_calls = int(request.get("n_calls", 1))
        except (TypeError, ValueError):
            raise WorkerError("n_calls must be a whole number") from None
        return self.model.profile(batch.astype(np.float32, copy=False), n_calls)

    def close(self, request):
        """Drop the model's runners."""
        if self.model is not None:
            self.model.close()
        self.model = None
        return {}


if __name__ == "__main__":
    sys.exit(protocol.main(Worker().handlers(), name="vart worker"))
