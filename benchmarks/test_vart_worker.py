"""Round-trip cost of the out-of-process VART worker, against the xir/vart test double.

What a user pays for running the DPU through a worker: framing (a JSON line + raw bytes), two pipe
hops, int8 scaling, padding and runner threads in the worker. Measured as the median
``infer`` round trip minus the double's own compute for the same DPU batches, timed here in
this process, on the LLP VGG's input (9 x 384 x 1 float32, 13.8 kB an event).
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from triggerbench.models.artifact import ModelArtifact
from triggerbench.runners.base import RunnerOptions
from triggerbench.runners.vart import VartRunner
from triggerbench.workers import vart_worker

DOUBLES = Path(__file__).parents[1] / "tests" / "doubles"
IN_SHAPE, OUT_SHAPE = (9, 384, 1), (1,)
DPU_BATCH, N_RUNNERS = 4, 4
ROUNDS = {1: 300, 64: 60}


def _xmodel_spec() -> dict:
    size = int(np.prod(IN_SHAPE))
    weights = np.random.default_rng(0).integers(-3, 4, size=(1, size)).tolist()
    tensor = {"dtype": "xint8", "fix_point": 6}
    return {
        "subgraphs": [
            {"name": "subgraph_input", "device": "USER"},
            {
                "name": "subgraph_vgg",
                "device": "DPU",
                "inputs": [{"name": "in", "dims": [DPU_BATCH, *IN_SHAPE], **tensor}],
                "outputs": [{"name": "out", "dims": [DPU_BATCH, *OUT_SHAPE], **tensor}],
                "weights": weights,
                "shift": 10,
            },
        ]
    }


@pytest.fixture
def xmodel(tmp_path) -> Path:
    path = tmp_path / "llp_double.xmodel"
    path.write_text(json.dumps(_xmodel_spec()))
    return path


@pytest.fixture
def runner(tmp_path, monkeypatch, xmodel):
    source = tmp_path / "llp.keras"
    source.write_bytes(b"unused")
    artifact = ModelArtifact(
        "llp-double", "keras", {"keras": source}, IN_SHAPE, OUT_SHAPE, None, {"keras": "0" * 64}
    )
    monkeypatch.setenv("PYTHONPATH", str(DOUBLES))
    monkeypatch.setenv("TRIGGERBENCH_VART_WORKER", f"{sys.executable} {vart_worker.__file__}")
    r = VartRunner()
    r.prepare(artifact, RunnerOptions(extra={"xmodel": str(xmodel), "n_runners": N_RUNNERS}))
    yield r
    r.close()


def _double_compute_s(xmodel: Path, n_events: int, repeats: int = 50) -> float:
    """Median time of the double's execute_async/wait for the DPU batches of ``n_events``, in process."""
    sys.path.insert(0, str(DOUBLES))
    try:
        import vart
        import xir
    finally:
        sys.path.remove(str(DOUBLES))
    subgraph = xir.Graph.deserialize(str(xmodel)).get_root_subgraph().toposort_child_subgraph()[1]
    dpu = vart.Runner.create_runner(subgraph, "run")
    in_buf = np.ones((DPU_BATCH, *IN_SHAPE), np.int8)
    out_buf = np.zeros((DPU_BATCH, *OUT_SHAPE), np.int8)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(-(-n_events // DPU_BATCH)):
            dpu.wait(dpu.execute_async([in_buf], [out_buf]))
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


@pytest.mark.parametrize("n_events", [1, 64])
def test_worker_round_trip_overhead(benchmark, triggerbench, runner, xmodel, n_events):
    staged = runner.stage(np.random.default_rng(1).random((n_events, *IN_SHAPE), dtype=np.float32))
    benchmark.pedantic(runner.infer, args=(staged,), rounds=ROUNDS[n_events], warmup_rounds=10)
    compute_s = _double_compute_s(xmodel, n_events)
    round_trip_s = benchmark.stats.stats.median
    overhead_s = round_trip_s - compute_s
    benchmark.extra_info["overhead_per_batch_s"] = overhead_s
    benchmark.extra_info["double_compute_s"] = compute_s
    triggerbench.note(
        f"vart worker overhead, batch {n_events}",
        f"{overhead_s * 1e6:,.0f} us per batch ({overhead_s / n_events * 1e6:,.1f} us/event; "
        f"round trip {round_trip_s * 1e6:,.0f} us, double compute {compute_s * 1e6:,.0f} us)",
    )
    assert 0 < overhead_s < 0.5
