"""The OpenVINO runner's per-layer profile: the CPU plugin's PERF_COUNT counters, node by node.

``compile_model`` with ``PERF_COUNT`` makes each infer request keep per-node counters
(``InferRequest.get_profiling_info``: node name and type, exec type, status, real time).
Nodes the plugin fused into another (OPTIMIZED_OUT) or did not run (NOT_RUN) are kept, with
their status and no time; ``fused_names`` lists the original ONNX nodes each runtime node holds.
"""

from __future__ import annotations

import statistics
import time
from collections import defaultdict
from typing import Any

import numpy as np

from triggerbench.runners.base import BackendProfile, NodeTiming


def _onnx_producers(path: Any) -> dict[str, str]:
    """ONNX tensor name -> the node that produces it; empty where ``onnx`` cannot read the file.

    OpenVINO names a model's output node by its output tensor (``Identity:0``).
    """
    try:
        import onnx

        graph = onnx.load(str(path), load_external_data=False).graph
    except Exception:  # only names are lost: rows then keep OpenVINO's own
        return {}
    return {out: node.name for node in graph.node for out in node.output if node.name}


def _fused_names(compiled: Any, producers: dict[str, str]) -> dict[str, str]:
    """Each runtime node's original nodes (``originalLayersNames``), comma-separated, in ONNX names."""
    names = {}
    for op in compiled.get_runtime_model().get_ordered_ops():
        info = op.get_rt_info()
        if "originalLayersNames" in info:
            original = [n for n in info["originalLayersNames"].astype(str).split(",") if n]
            names[op.get_friendly_name()] = ",".join(producers.get(n, n) for n in original)
    return names


def _counters(ov: Any, compiled: Any, inputs: np.ndarray, outputs: np.ndarray, n_calls: int):
    """Infer ``n_calls`` times on a PERF_COUNT model; each node's median time and the calls' times.

    ``get_profiling_info`` holds the last call's counters only: it is read after each call,
    outside the timed part.
    """
    request = compiled.create_infer_request()
    request.set_input_tensor(ov.Tensor(inputs, shared_memory=True))
    request.set_output_tensor(ov.Tensor(np.empty_like(outputs), shared_memory=True))
    request.infer()  # first-run setup, as in prepare
    times_s: dict[str, list[float]] = defaultdict(list)
    kinds: dict[str, tuple[str, str, str]] = {}
    calls_s = []
    for _ in range(n_calls):
        t0 = time.perf_counter()
        request.infer()
        calls_s.append(time.perf_counter() - t0)
        for info in request.get_profiling_info():
            times_s[info.node_name].append(info.real_time.total_seconds())
            kinds[info.node_name] = (info.node_type, info.exec_type, info.status.name)
    return times_s, kinds, calls_s


def profile_compiled(
    ov: Any, compiled: Any, onnx_path: Any, inputs: np.ndarray, outputs: np.ndarray, n_calls: int
) -> BackendProfile:
    """Profile ``n_calls`` calls of ``compiled`` (PERF_COUNT on) on ``inputs``, in ONNX node names."""
    fused = _fused_names(compiled, _onnx_producers(onnx_path))
    times_s, kinds, calls_s = _counters(ov, compiled, inputs, outputs, n_calls)
    nodes = [
        NodeTiming(
            name=name,
            op_type=kinds[name][0],
            time_s=statistics.median(values),
            n_calls=len(values),
            status=kinds[name][2],
            details={"exec_type": kinds[name][1], "fused_names": fused.get(name, "")},
        )
        for name, values in times_s.items()
    ]
    return BackendProfile(
        source="openvino PERF_COUNT",
        unit="s",
        nodes=nodes,
        n_calls=n_calls,
        profiled_call_s=statistics.median(calls_s),
        caveats=[
            "node times are the CPU plugin's per-node counters (us resolution): nodes it fused "
            "count on the node they were fused into"
        ],
    )
