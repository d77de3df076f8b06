"""Firmware runners' ``profile``: hls4ml (reports + numerical), rtl (pipeline stages), vart (subgraphs)."""

from __future__ import annotations

import json
import math
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from artifacts import keras_only_artifact
from fpga.test_hls_reports import DENSE, MODULES, RELU, make_project

from triggerbench.models.artifact import ModelArtifact
from triggerbench.runners import registry
from triggerbench.runners.base import RunnerOptions
from triggerbench.runners.hls4ml import NO_SYNTHESIS, Hls4mlRunner

# --- hls4ml ---------------------------------------------------------------------------------

needs_hls4ml = pytest.mark.skipif(not Hls4mlRunner.available()[0], reason=Hls4mlRunner.available()[1])
N_EVENTS = 64


@pytest.fixture(scope="module")
def overflowing(tmp_path_factory):
    """3 inputs in [0, 1) -> 'h' (relu, |a| <= 3) -> 'o' (|a| up to 3 * 3 * 12 = 108, past 32)."""
    import keras

    model = keras.Sequential(
        [
            keras.Input((3,)),
            keras.layers.Dense(3, activation="relu", name="h"),
            keras.layers.Dense(1, name="o"),
        ]
    )
    model.layers[0].set_weights([np.ones((3, 3), np.float32), np.zeros(3, np.float32)])
    model.layers[1].set_weights([np.full((3, 1), 12.0, np.float32), np.zeros(1, np.float32)])
    path = tmp_path_factory.mktemp("hls-overflow") / "overflow.keras"
    model.save(path)
    x = np.random.default_rng(5).random((N_EVENTS, 3), dtype=np.float32)
    return keras_only_artifact(path, model), x


@pytest.fixture(scope="module")
def hls_runner(overflowing):
    runner = Hls4mlRunner()
    runner.prepare(overflowing[0], RunnerOptions(extra={"precision": "fixed<16,6>"}))
    yield runner
    runner.close()


@needs_hls4ml
def test_hls4ml_without_synthesis_gives_the_numerical_profile_and_says_why_no_cycles(hls_runner, overflowing):
    x = overflowing[1]
    profile = hls_runner.profile(hls_runner.stage(x), n_calls=5)
    assert profile.unit == "cycles" and profile.nodes == [] and profile.n_calls is None
    assert profile.caveats == [NO_SYNTHESIS]
    rows = {(r.layer, r.tensor): r for r in hls_runner.numerical_profile(x)}
    o_out = np.maximum(x @ np.ones((3, 3)), 0) @ np.full((3, 1), 12.0)  # computed here, not by the module
    expected = int(np.count_nonzero(o_out >= 32))
    assert expected > 0
    assert rows[("o", "activation")].verdict == "overflows"
    assert rows[("o", "activation")].overflow_count == expected
    assert rows[("h", "activation")].verdict == "ok"
    assert rows[("o", "activation")].n_values == N_EVENTS


@needs_hls4ml
def test_hls4ml_module_reports_become_cycles_per_layer(hls_runner, overflowing, tmp_path, monkeypatch):
    project = make_project(tmp_path / "prj")
    report = project / "myproject_prj" / "solution1" / "syn" / "report"
    for path in MODULES.glob("*_csynth.xml"):
        shutil.copy(path, report / path.name)
    monkeypatch.setattr(hls_runner, "_dir", project)
    profile = hls_runner.profile(hls_runner.stage(overflowing[1]), n_calls=1)
    nodes = {n.name: n for n in profile.nodes}
    # hls4ml numbers the layers input=1, h=2, h_relu=3, o=4: config2 is 'h', config3 its ReLU.
    assert (nodes[DENSE].layer, nodes[DENSE].cycles, nodes[DENSE].resources["dsp"]) == ("h", 7, 73)
    assert (nodes[RELU].layer, nodes[RELU].cycles, nodes[RELU].op_type) == ("h_relu", 2, "Activation")
    assert profile.source.startswith("vivado_hls C-synthesis per module")
    assert NO_SYNTHESIS not in profile.caveats


# --- rtl ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rtl_runner():
    from fpga.test_rtl_build import TINY_CONFIG, tiny_model_path

    from triggerbench.runners.rtl import RtlRunner

    if not RtlRunner.available()[0]:
        pytest.skip(RtlRunner.available()[1])
    runner = RtlRunner()
    options = {"latency_cutoff": TINY_CONFIG.latency_cutoff, "clock_period_ns": TINY_CONFIG.clock_period_ns}
    runner.prepare(keras_only_artifact(tiny_model_path()), RunnerOptions(extra={**options, "yosys": False}))
    yield runner
    runner.close()


def test_rtl_stages_add_up_to_the_testbench_latency_and_da4ml_registers(rtl_runner):
    profile = rtl_runner.profile(None, n_calls=1)
    testbench = next(f for f in rtl_runner.fpga_figures() if f.source == "rtl-testbench")
    meta = json.loads((rtl_runner._build.directory / "metadata.json").read_text())
    stages = [n for n in profile.nodes if n.op_type == "pipeline stage"]
    assert profile.unit == "cycles" and len(stages) == meta["latency"]
    assert sum(n.cycles for n in profile.nodes) == testbench.latency_cycles
    assert sum(n.resources.get("ff", 0) for n in profile.nodes) == meta["reg_bits"]
    assert sum(n.details["lut_estimate_da4ml"] for n in stages) == pytest.approx(meta["cost"])
    assert any("not layers" in c for c in profile.caveats)


# --- vart -----------------------------------------------------------------------------------

DOUBLES = Path(__file__).parents[1] / "doubles"
DPU_BATCH, IN_SHAPE, OUT_SHAPE = 4, (3, 4, 1), (2,)


def write_xmodel(path: Path) -> Path:
    """A USER input, one DPU subgraph, and a CPU softmax, as the Vitis AI compiler splits them."""
    weights = [[(-1) ** i * (i + 1) for i in range(12)], [3, -2, 0, 1, 5, -4, 2, 2, -1, 0, 7, -3]]
    subgraphs = [
        {"name": "subgraph_input", "device": "USER", "ops": [{"name": "x", "type": "data"}]},
        {
            "name": "subgraph_dense",
            "device": "DPU",
            "ops": [{"name": "d", "type": "matmul-fix"}, {"name": "q", "type": "fix"}],
            "inputs": [{"name": "in_fix", "dims": [DPU_BATCH, *IN_SHAPE], "fix_point": 5}],
            "outputs": [{"name": "out_fix", "dims": [DPU_BATCH, *OUT_SHAPE], "fix_point": 3}],
            "weights": weights,
            "shift": 6,
        },
        {"name": "subgraph_softmax", "device": "CPU", "ops": [{"name": "s", "type": "softmax"}]},
    ]
    path.write_text(json.dumps({"subgraphs": subgraphs}))
    return path


@pytest.fixture
def vart_runner(monkeypatch, tmp_path):
    from triggerbench.workers import vart_worker

    monkeypatch.setenv("PYTHONPATH", str(DOUBLES))
    monkeypatch.setenv("TRIGGERBENCH_VART_WORKER", f"{sys.executable} {vart_worker.__file__}")
    source = tmp_path / "model.keras"
    source.write_bytes(b"not read by the vart runner")
    artifact = ModelArtifact(
        name="dense-double", source_format="keras", paths={"keras": source}, input_shape=IN_SHAPE,
        output_shape=OUT_SHAPE, parameter_count=24, sha256={"keras": "ab" * 32},
    )  # fmt: skip
    runner = registry.get("triggerbench.runners.vart:VartRunner")()
    runner.prepare(
        artifact, RunnerOptions(batch_size=7, extra={"xmodel": str(write_xmodel(tmp_path / "m.xmodel"))})
    )
    yield runner
    runner.close()


def test_vart_times_the_dpu_subgraph_and_lists_the_cpu_one(vart_runner):
    x = np.random.default_rng(1).normal(size=(7, *IN_SHAPE)).astype(np.float32)
    profile = vart_runner.profile(vart_runner.stage(x), n_calls=4)
    nodes = {n.name: n for n in profile.nodes}
    assert list(nodes) == ["subgraph_input", "subgraph_dense", "subgraph_softmax", "worker host work"]
    dpu = nodes["subgraph_dense"]
    assert dpu.status == "EXECUTED" and dpu.time_s > 0 and dpu.n_calls == 4
    assert dpu.details["dpu_runs_per_call"] == math.ceil(7 / DPU_BATCH)
    assert dpu.details["op_types"] == "fix,matmul-fix" and dpu.details["device"] == "DPU"
    softmax = nodes["subgraph_softmax"]
    assert softmax.status == "NOT_RUN" and softmax.time_s is None and softmax.details["op_types"] == "softmax"
    assert any("subgraph_softmax (CPU)" in c for c in profile.caveats)
    assert profile.unit == "s" and profile.n_calls == 4
    assert profile.profiled_call_s >= dpu.time_s and nodes["worker host work"].time_s >= 0
    # The worker still answers infer after profiling (same runners, same buffers).
    assert vart_runner.infer(vart_runner.stage(x)).shape == (7, *OUT_SHAPE)
