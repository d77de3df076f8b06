"""Round-trip cost of the out-of-process VART worker, against the xir/vart test double.

What a user pays for running the DPU through a worker: framing (a JSON line + raw bytes), two pipe
hops, int8 scaling and padding in the worker. Measured as the median ``infer`` round trip
minus the median time the worker spent inside the double's ``execute_async``/``wait``, on
the LLP VGG's input (9 x 384 x 1 float32, 13.8 kB an event).
"""

from __future__ import annotations

import json
import statistics
import sys
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


@pytest.fixture
def runner(tmp_path, monkeypatch):
    size = int(np.prod(IN_SHAPE))
    weights = np.random.default_rng(0).integers(-3, 4, size=(1, size)).tolist()
    xmodel = tmp_path / "llp_double.xmodel"
    tensor = {"dtype": "xint8", "fix_point": 6}
    xmodel.write_text(
        json.dumps(
            {
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
        )
    )
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


@pytest.mark.parametrize("n_events", [1, 64])
def test_worker_round_trip_overhead(benchmark, triggerbench, runner, n_events):
    staged = runner.stage(np.random.default_rng(1).random((n_events, *IN_SHAPE), dtype=np.float32))
    compute_s: list[float] = []

    def round_trip() -> None:
        runner.infer(staged)
        compute_s.append(runner.last_compute_s)

    benchmark.pedantic(round_trip, rounds=ROUNDS[n_events], warmup_rounds=10)
    overhead_s = benchmark.stats.stats.median - statistics.median(compute_s)
    benchmark.extra_info["overhead_per_batch_s"] = overhead_s
    benchmark.extra_info["double_compute_median_s"] = statistics.median(compute_s)
    triggerbench.note(
        f"vart worker overhead, batch {n_events}",
        f"{overhead_s * 1e6:,.0f} us per batch ({overhead_s / n_events * 1e6:,.1f} us/event; "
        f"round trip {benchmark.stats.stats.median * 1e6:,.0f} us, double compute "
        f"{statistics.median(compute_s) * 1e6:,.0f} us)",
    )
    assert 0 < overhead_s < 0.5
