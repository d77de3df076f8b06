"""The vart runner against the xir/vart test double (tests/doubles), in a worker process.

The expected outputs are computed here from the documented DPU arithmetic (int8 at
``2**fix_point``, fixed batch), not with the worker's code, so scaling, rounding, saturation,
padding and row-order mistakes show up.
"""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from triggerbench.errors import RunnerError, RunnerUnavailableError, UserInputError
from triggerbench.models.artifact import ModelArtifact
from triggerbench.runners import registry
from triggerbench.runners.base import RunnerOptions
from triggerbench.workers import vart_worker

DOUBLES = Path(__file__).parents[1] / "doubles"
SPEC = "triggerbench.runners.vart:VartRunner"
IN_SHAPE, OUT_SHAPE = (3, 4, 1), (2,)
DPU_BATCH, FP_IN, FP_OUT, SHIFT = 4, 5, 3, 6
WEIGHTS = np.array([[(-1) ** i * (i + 1) for i in range(12)], [3, -2, 0, 1, 5, -4, 2, 2, -1, 0, 7, -3]])


def write_xmodel(path: Path, dpu: bool = True, in_dims=None) -> Path:
    """An xmodel of the test double: a USER input subgraph and (if ``dpu``) one DPU subgraph."""
    subgraphs = [{"name": "subgraph_input", "device": "USER"}]
    if dpu:
        subgraphs.append(
            {
                "name": "subgraph_dense",
                "device": "DPU",
                "inputs": [{"name": "in_fix", "dims": in_dims or [DPU_BATCH, *IN_SHAPE], "fix_point": FP_IN}],
                "outputs": [{"name": "out_fix", "dims": [DPU_BATCH, *OUT_SHAPE], "fix_point": FP_OUT}],
                "weights": WEIGHTS.tolist(),
                "shift": SHIFT,
            }
        )
    else:
        subgraphs.append({"name": "subgraph_softmax", "device": "CPU"})
    path.write_text(json.dumps({"subgraphs": subgraphs}))
    return path


def expected(x: np.ndarray) -> np.ndarray:
    """The DPU double's answer, row by row, from the documented arithmetic."""
    q = np.clip(np.round(x.reshape(len(x), -1) * 2.0**FP_IN), -128, 127).astype(np.int64)
    y = np.clip(np.floor(q @ WEIGHTS.T / 2.0**SHIFT + 0.5), -128, 127)
    return (y * 2.0**-FP_OUT).astype(np.float32)


@pytest.fixture
def artifact(tmp_path) -> ModelArtifact:
    source = tmp_path / "model.keras"
    source.write_bytes(b"not read by the vart runner")
    return ModelArtifact(
        name="dense-double",
        source_format="keras",
        paths={"keras": source},
        input_shape=IN_SHAPE,
        output_shape=OUT_SHAPE,
        parameter_count=24,
        sha256={"keras": "ab" * 32},
    )


@pytest.fixture
def worker_env(monkeypatch):
    """The double on the worker's path; the worker started as a plain file, as in a container."""
    monkeypatch.setenv("PYTHONPATH", str(DOUBLES))
    monkeypatch.setenv("TRIGGERBENCH_VART_WORKER", f"{sys.executable} {vart_worker.__file__}")
    monkeypatch.delenv("VART_DOUBLE_EXIT_ON", raising=False)
    monkeypatch.delenv("VART_DOUBLE_HANG_ON", raising=False)
    return monkeypatch


@pytest.fixture
def make(worker_env, artifact, tmp_path):
    cls = registry.get(SPEC)
    xmodel = write_xmodel(tmp_path / "dense.xmodel")
    runners = []

    def prepared(batch_size=1, **extra):
        runner = cls()
        runners.append(runner)
        runner.prepare(artifact, RunnerOptions(batch_size=batch_size, extra={"xmodel": str(xmodel), **extra}))
        return runner

    yield prepared
    for runner in runners:
        runner.close()


def batch(n: int, seed: int) -> np.ndarray:
    x = (np.random.default_rng(seed).normal(size=(n, *IN_SHAPE)) * 2).astype(np.float32)
    x[0, 0, 0, 0] = -4.5  # past -128 / 2**5 = -4: saturates on the way in
    return x


def test_available_only_with_a_worker_command_or_local_vart(monkeypatch):
    cls = registry.get(SPEC)
    if cls._local_vart():
        pytest.skip("xir and vart import here: the runner is available without a worker command")
    monkeypatch.delenv("TRIGGERBENCH_VART_WORKER", raising=False)
    ok, reason = cls.available()
    assert not ok and "TRIGGERBENCH_VART_WORKER" in reason
    monkeypatch.setenv(
        "TRIGGERBENCH_VART_WORKER", "docker exec -i vitis-ai python3 /workspace/vart_worker.py"
    )
    ok, reason = cls.available()
    assert ok and "docker exec" in reason


@pytest.mark.parametrize(("n", "n_runners"), [(1, 1), (4, 1), (7, 1), (11, 3)])
def test_outputs_follow_the_dpu_arithmetic(make, n, n_runners):
    x = batch(n, n)
    assert np.abs(x).max() * 2**FP_IN > 127  # the batch exercises saturation
    with make(batch_size=n, n_runners=n_runners) as runner:
        out = runner.infer(runner.stage(x))
    assert out.shape == (n, *OUT_SHAPE) and out.dtype == np.float32
    np.testing.assert_array_equal(out, expected(x))


def test_restaging_and_repeats(make):
    with make(batch_size=5, n_runners=2) as runner:
        xa, xb = batch(5, 1), batch(5, 2)
        sa = runner.stage(xa)
        first = runner.infer(sa).copy()
        sb = runner.stage(xb)
        xb[:] = 0  # staged batches are copies
        np.testing.assert_array_equal(runner.infer(sb), expected(batch(5, 2)))
        np.testing.assert_array_equal(runner.infer(sa), first)


def test_wrong_batch_shape_is_a_runner_error(make):
    with make() as runner, pytest.raises(RunnerError, match="batch shape"):
        runner.stage(np.zeros((1, 4, 3, 1), np.float32))


def test_description_fits_the_record(make, as_record):
    with make(n_runners=2) as runner:
        d = runner.describe()
    assert d.backend == "vart" and d.backend_version == "1.4.1-double" and d.precision == "int8"
    assert d.settings["dpu_batch"] == DPU_BATCH and d.settings["n_runners"] == 2
    assert d.settings["input_fix_point"] == FP_IN and d.settings["output_fix_point"] == FP_OUT
    assert len(d.settings["xmodel_sha256"]) == 64
    as_record(d)


def test_an_xmodel_without_a_dpu_subgraph_fails_clearly(worker_env, artifact, tmp_path):
    xmodel = write_xmodel(tmp_path / "cpu_only.xmodel", dpu=False)
    runner = registry.get(SPEC)()
    with pytest.raises(RunnerError, match="xmodel has no DPU subgraph"):
        runner.prepare(artifact, RunnerOptions(extra={"xmodel": str(xmodel)}))
    assert runner._worker is None  # the worker was closed


def test_an_xmodel_for_another_model_is_refused(worker_env, artifact, tmp_path):
    xmodel = write_xmodel(tmp_path / "wide.xmodel", in_dims=[DPU_BATCH, 3, 5, 1])
    with pytest.raises(
        RunnerError, match=r"DPU input \[3, 5, 1\] does not match the model input \[3, 4, 1\]"
    ):
        registry.get(SPEC)().prepare(artifact, RunnerOptions(extra={"xmodel": str(xmodel)}))


def test_the_sidecar_hash_must_match_the_source(worker_env, artifact, tmp_path):
    xmodel = write_xmodel(tmp_path / "dense.xmodel")
    sidecar = tmp_path / "dense.triggerbench.json"
    sidecar.write_text(json.dumps({"source_sha256": "cd" * 32}))
    with pytest.raises(UserInputError, match="compiled from a model with sha256 cdcdcd"):
        registry.get(SPEC)().prepare(artifact, RunnerOptions(extra={"xmodel": str(xmodel)}))
    sidecar.write_text(json.dumps({"source_sha256": artifact.source_sha256}))
    with registry.get(SPEC)() as runner:
        runner.prepare(artifact, RunnerOptions(extra={"xmodel": str(xmodel)}))
        assert runner.describe().settings["xmodel_source_check"] == "matched"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({}, "needs -O xmodel=PATH"),
        (
            {"xmodel": "m.xmodel", "reuse_factor": 2},
            r"unknown option\(s\) reuse_factor; known options: xmodel",
        ),
        ({"xmodel": "m.xmodel", "n_runners": "many"}, "option n_runners='many': use a whole number >= 1"),
        ({"xmodel": "m.xmodel", "n_runners": 0}, "option n_runners=0: use a whole number >= 1"),
        ({"xmodel": "m.xmodel", "timeout_s": 0}, "option timeout_s=0: use a number > 0"),
    ],
)
def test_option_mistakes_are_user_errors(worker_env, artifact, extra, message):
    with pytest.raises(UserInputError, match=message):
        registry.get(SPEC)().prepare(artifact, RunnerOptions(extra=extra))


def test_a_worker_command_that_does_not_start(worker_env, make):
    with pytest.raises(RunnerError, match="cannot start /no/such/python3"):
        make(worker_command="/no/such/python3 vart_worker.py")


def test_a_worker_whose_python_lacks_vart_is_unavailable(worker_env, make):
    worker_env.setenv("PYTHONPATH", "")
    with pytest.raises(RunnerUnavailableError, match="cannot import xir/vart"):
        make()


def test_a_worker_that_dies_mid_run(worker_env, make):
    worker_env.setenv("VART_DOUBLE_EXIT_ON", "3")  # call 1 is prepare's warm-up
    runner = make()
    staged = runner.stage(batch(1, 0))
    runner.infer(staged)
    with pytest.raises(RunnerError, match="vart worker exited with code 17 during 'infer'"):
        runner.infer(staged)


def test_a_worker_that_hangs_times_out(worker_env, make):
    # The hang is prepare's warm-up batch (call 1): the 1 s limit then bounds only the call that
    # never answers (start and load have start_timeout_s), so a slow host cannot trip it early.
    worker_env.setenv("VART_DOUBLE_HANG_ON", "1")
    with pytest.raises(RunnerError, match=r"no answer to 'infer' within 1 s; killed it"):
        make(timeout_s=1)


def test_power_meter_says_why_without_xrt(make, monkeypatch):
    monkeypatch.setitem(sys.modules, "triggerbench.power.xrt", None)  # import fails
    with make() as runner:
        meter, reason = runner.power_meter()
    assert meter is None and "XRT" in reason


def test_power_meter_with_the_real_xrt_meter_and_no_xbutil(make, monkeypatch):
    with make(device_bdf="0000:3b:00.1") as runner:
        monkeypatch.setenv("PATH", "/nonexistent")
        meter, reason = runner.power_meter()
    assert meter is None and "xbutil" in reason


def test_power_meter_uses_xrt_for_the_given_card(make, monkeypatch):
    class FakeXrtMeter:
        """Follows the XrtMeter interface the power helper provides."""

        def __init__(self, device_bdf=None, xbutil="xbutil", interval_s=0.5):
            self.device_bdf = device_bdf

        @classmethod
        def available(cls, device_bdf=None, xbutil="xbutil"):
            return (device_bdf == "0000:3b:00.1", f"no card {device_bdf}")

    monkeypatch.setitem(sys.modules, "triggerbench.power.xrt", types.SimpleNamespace(XrtMeter=FakeXrtMeter))
    with make(device_bdf="0000:3b:00.1") as runner:
        meter, reason = runner.power_meter()
    assert meter.device_bdf == "0000:3b:00.1" and reason == ""
    with make(device_bdf="0000:af:00.1") as runner:
        meter, reason = runner.power_meter()
    assert meter is None and reason == "no card 0000:af:00.1"


@pytest.mark.filterwarnings("ignore::triggerbench.errors.TriggerbenchUnstableWarning")  # a busy CI host
def test_session_records_vart_ok_and_failed_beside_other_runners(
    worker_env, standin_ctx, quick_settings, tmp_path
):
    from triggerbench.measure.job import Job
    from triggerbench.measure.session import measure_one
    from triggerbench.schema import Status

    a = standin_ctx.artifact
    size_in, size_out = int(np.prod(a.input_shape)), int(np.prod(a.output_shape))
    xmodel = tmp_path / "standin.xmodel"
    tensor = {"dtype": "xint8", "fix_point": 4}
    xmodel.write_text(
        json.dumps(
            {
                "subgraphs": [
                    {
                        "name": "dpu",
                        "device": "DPU",
                        "inputs": [{"name": "i", "dims": [DPU_BATCH, *a.input_shape], **tensor}],
                        "outputs": [{"name": "o", "dims": [DPU_BATCH, *a.output_shape], **tensor}],
                        "weights": np.ones((size_out, size_in), int).tolist(),
                        "shift": 4,
                    }
                ]
            }
        )
    )
    broken = write_xmodel(tmp_path / "cpu_only.xmodel", dpu=False)

    def job(runner, **options):
        return Job(
            runner=runner, settings=quick_settings, out_dir=tmp_path, batch_size=2, runner_options=options
        )

    card = "xilinx_u50_gen3x16_xdma_201920_3"
    ok = measure_one(standin_ctx, job(SPEC, xmodel=str(xmodel), n_runners=2, card=card))
    failed = measure_one(standin_ctx, job(SPEC, xmodel=str(broken)))
    other = measure_one(standin_ctx, job("null"))
    assert ok.status == Status.OK, ok.error
    assert ok.runner.backend == "vart" and ok.runner.precision == "int8"
    assert ok.runner.settings["dpu_batch"] == DPU_BATCH and ok.performance.throughput_samples_per_s > 0
    assert failed.status == Status.FAILED and "xmodel has no DPU subgraph" in failed.error.message
    assert other.status == Status.OK
    # the card named: its nominal TDP (75 W) beside the measured power
    assert ok.runner.device_model == card
    assert ok.power_nominal.power_mean_w == 75 and "Alveo U50" in ok.power_nominal.scope
