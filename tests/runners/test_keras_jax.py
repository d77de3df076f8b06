"""``-O backend=tensorflow|jax`` for the keras runner: checked, set in the child, recorded.

Keras 3 fixes its backend when first imported, so JAX runs only in the isolated child, which
``run_isolated`` starts with ``KERAS_BACKEND``; this process's Keras runs on TensorFlow.
"""

import subprocess
from pathlib import Path

import cli_runs
import pytest
from cli_runs import TINY_WINDOWS

from triggerbench.errors import RunnerError, UserInputError
from triggerbench.measure.job import Job
from triggerbench.results.store import load_records
from triggerbench.runners.base import RunnerOptions
from triggerbench.runners.keras import KerasRunner

WORKLOAD = ["--workload", "standin-cnn", "--runner", "keras"]


def tb(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return cli_runs.tb("run", *WORKLOAD, *args, cwd=cwd)


@pytest.mark.parametrize(("given", "backend"), [("jax", "jax"), ("JAX", "jax"), ("TensorFlow", "tensorflow")])
def test_backend_option_takes_tensorflow_or_jax_in_any_case(given, backend):
    assert KerasRunner.parse_options({"backend": given}).backend == backend
    assert KerasRunner.parse_options({}).backend == "tensorflow"


def test_another_backend_is_refused_in_one_line():
    with pytest.raises(UserInputError) as err:
        KerasRunner.parse_options({"backend": "torch"})
    assert str(err.value) == "keras runner: option backend='torch': use one of tensorflow, jax"


#: The keras runner's child never sees a GPU (the CPU runner stays on the CPU on a GPU host).
NO_GPU = {"CUDA_VISIBLE_DEVICES": "-1", "JAX_PLATFORMS": "cpu"}


@pytest.mark.parametrize(
    ("options", "env"),
    [
        ({"backend": "jax"}, {"KERAS_BACKEND": "jax", **NO_GPU}),
        ({"keras.backend": "JAX"}, {"KERAS_BACKEND": "jax", **NO_GPU}),  # scoped to the keras runner
        ({}, {"KERAS_BACKEND": "tensorflow", **NO_GPU}),  # explicit, whatever the user's shell exports
        ({"backend": "torch"}, NO_GPU),  # a bad value is the child's prepare's error, not this one's
    ],
)
def test_the_isolated_child_gets_keras_backend_from_the_job(options, env):
    from triggerbench.measure.isolate import _runner_env

    assert _runner_env(Job(runner="keras", runner_options=options)) == env
    assert _runner_env(Job(runner="onnxruntime", runner_options=options)) == {}


def test_bad_backend_on_the_cli_is_one_error_line_and_exit_2(tmp_path):
    proc = tb(tmp_path, "-O", "backend=torch", *TINY_WINDOWS, "--out", "res")
    assert proc.returncode == 2, proc.stderr[-3000:]
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, proc.stderr[-3000:]
    assert "keras runner: option backend='torch': use one of tensorflow, jax" in lines[0]
    assert "Traceback" not in proc.stderr


def test_jax_runs_in_the_isolated_child_and_agrees_with_the_reference(tmp_path):
    proc = tb(tmp_path, "-O", "backend=jax", *TINY_WINDOWS, "--out", "res")
    assert proc.returncode == 0, proc.stderr[-3000:]
    (record,) = load_records([tmp_path / "res"])
    assert record.status == "ok", record.error
    assert record.runner.backend == "jax" and record.runner.settings["keras_backend"] == "jax"
    assert record.runner.device == "CPU"  # its child sees no GPU, and it is pinned to the CPU
    assert "/ jax " in record.runner.backend_version and "tensorflow" not in record.runner.backend_version
    assert record.runner.settings["call"] == "jax.jit:stateless_call"
    assert record.accuracy.max_abs_diff < 1e-4


def test_jax_without_isolation_fails_with_one_clear_line(tmp_path):
    proc = tb(tmp_path, "-O", "backend=jax", *TINY_WINDOWS, "--no-isolate", "--out", "res")
    (record,) = load_records([tmp_path / "res"])
    assert record.status == "failed"
    assert record.error.message == (
        "keras backend jax needs the isolated child (Keras is already imported here with "
        "tensorflow); drop --no-isolate"
    )
    assert proc.returncode != 0


def test_jax_in_a_process_on_tensorflow_raises_runner_error(standin_artifact):
    with pytest.raises(RunnerError, match="^keras backend jax needs the isolated child"):
        KerasRunner().prepare(standin_artifact, RunnerOptions(extra={"backend": "jax"}))


def test_tensorflow_backend_is_unchanged(standin_artifact, keras_reference, batches, as_record):
    import numpy as np

    with KerasRunner() as runner:
        runner.prepare(standin_artifact, RunnerOptions(batch_size=4, extra={"backend": "tensorflow"}))
        x = batches(4, 3)
        out = runner.infer(runner.stage(x)).copy()
        d = runner.describe()
    assert d.backend == "tensorflow" and d.settings["keras_backend"] == "tensorflow"
    assert d.settings["call"] == "tf.function:concrete" and "/ tensorflow " in d.backend_version
    np.testing.assert_allclose(out, keras_reference(x), rtol=1e-5, atol=1e-5)
    as_record(d)
