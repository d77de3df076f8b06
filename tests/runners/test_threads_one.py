"""``--threads 1`` on every CPU runner and every reference workload.

OpenVINO could not compile the LLP VGG with one thread at batch 1 and 2 ("Layout rank can't be
larger than tensor rank"): its CPU plugin fuses small-batch MatMul chains into a subgraph it
cannot build around a 1x1 weight. The runners are prepared and called directly; one CLI run
covers the command from the report.
"""

import subprocess
import sys

import numpy as np
import pytest
from cli_runs import TINY_WINDOWS

from triggerbench.results.store import load_records
from triggerbench.runners import registry
from triggerbench.runners.base import RunnerOptions

CPU_RUNNERS = ["null", "onnxruntime", "openvino", "keras"]
WORKLOADS = ["muon-l0-teacher", "muon-l0-student-kd", "muon-l0-qstudent-4bit", "llp-vgg"]


@pytest.fixture(scope="module")
def artifact():
    from triggerbench.models import workloads

    built = {}

    def get(name):
        if name not in built:  # built once, into the session's isolated cache (tests/conftest.py)
            built[name] = workloads.get(name).artifact()
        return built[name]

    return get


@pytest.fixture(scope="module")
def reference(artifact):
    """ONNX Runtime with its default threads: what every runner must reproduce with one."""
    import onnxruntime as ort

    sessions = {}

    def outputs(name, x):
        if name not in sessions:
            sessions[name] = ort.InferenceSession(
                str(artifact(name).path("onnx")), providers=["CPUExecutionProvider"]
            )
        session = sessions[name]
        return session.run(None, {session.get_inputs()[0].name: x})[0]

    return outputs


@pytest.mark.parametrize("batch", [1, 2])
@pytest.mark.parametrize("workload", WORKLOADS)
@pytest.mark.parametrize("runner_name", CPU_RUNNERS)
def test_one_thread_prepares_and_infers(artifact, reference, runner_name, workload, batch):
    cls = registry.get(runner_name)
    ok, reason = cls.available()
    if not ok:
        pytest.skip(reason)
    art = artifact(workload)
    x = np.random.default_rng(batch).standard_normal((batch, *art.input_shape)).astype(np.float32)
    with cls() as runner:
        runner.prepare(art, RunnerOptions(batch_size=batch, threads=1))
        out = np.array(runner.infer(runner.stage(x)))
        d = runner.describe()
    assert out.shape == (batch, *art.output_shape) and np.isfinite(out).all()
    if runner_name == "null":
        return
    np.testing.assert_allclose(out, reference(workload, x), rtol=1e-4, atol=1e-4)
    if runner_name == "keras":  # TF fixes its pools when it starts: in this process, maybe earlier
        assert d.threads == 1 or "threads_not_set" in d.settings
    else:
        assert d.threads == 1


def test_cli_openvino_llp_vgg_with_one_thread(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "triggerbench.cli",
            "run",
            "--workload",
            "llp-vgg",
            "--runner",
            "openvino",
            "--threads",
            "1",
            "--scenario",
            "single-stream",
            "--batch",
            "1,2",
            *TINY_WINDOWS,
            "--out",
            str(tmp_path / "res"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    records = load_records([tmp_path / "res"])
    assert sorted(r.runner.batch_size for r in records) == [1, 2]
    for record in records:
        assert record.status == "ok", record.error
        assert record.runner.threads == 1 and record.runner.settings["matmuls_1x1_as_multiply"] == 1
