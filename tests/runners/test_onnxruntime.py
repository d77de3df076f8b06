import numpy as np
import pytest

from triggerbench.errors import RunnerError
from triggerbench.models.artifact import ModelArtifact
from triggerbench.runners.base import RunnerOptions
from triggerbench.runners.onnxruntime import OnnxRuntimeRunner

pytest.importorskip("onnxruntime")


def prepared(artifact, **kw) -> OnnxRuntimeRunner:
    runner = OnnxRuntimeRunner()
    runner.prepare(artifact, RunnerOptions(**kw))
    return runner


def test_available_here():
    ok, reason = OnnxRuntimeRunner.available()
    assert ok, reason
    assert "CPUExecutionProvider" in reason


@pytest.mark.parametrize("batch", [1, 7])
def test_outputs_match_keras(standin_artifact, keras_reference, batches, batch):
    x = batches(batch, 11)
    with prepared(standin_artifact, batch_size=batch) as runner:
        out = runner.infer(runner.stage(x))
    assert out.shape == (batch, *standin_artifact.output_shape) and out.dtype == np.float32
    np.testing.assert_allclose(out, keras_reference(x), rtol=1e-5, atol=1e-5)


def test_repeated_infer_is_identical(standin_artifact, batches):
    with prepared(standin_artifact, batch_size=7) as runner:
        staged = runner.stage(batches(7, 12))
        first = runner.infer(staged).copy()
        for _ in range(3):
            np.testing.assert_array_equal(runner.infer(staged), first)


def test_restaging_binds_the_new_batch(standin_artifact, keras_reference, batches):
    xa, xb = batches(7, 13), batches(7, 14)
    with prepared(standin_artifact, batch_size=7) as runner:
        staged_a = runner.stage(xa)
        out_a = runner.infer(staged_a).copy()
        staged_b = runner.stage(xb)
        xb[:] = 0  # the staged batch is a copy: changing the caller's array must not reach it
        out_b = runner.infer(staged_b).copy()
        again_a = runner.infer(staged_a).copy()
    assert not np.allclose(out_a, out_b)
    np.testing.assert_allclose(out_b, keras_reference(batches(7, 14)), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(again_a, out_a)


def test_describe_records_threads_and_precision(standin_artifact, as_record):
    with prepared(standin_artifact, threads=1) as runner:
        d = runner.describe()
    assert (d.backend, d.device, d.precision, d.threads) == ("onnxruntime", "CPU", "f32", 1)
    assert d.settings["intra_op_num_threads"] == 1
    assert d.settings["providers"] == "CPUExecutionProvider"
    as_record(d)
    assert d.backend_version


def test_default_threads_are_recorded_as_default(standin_artifact, as_record):
    with prepared(standin_artifact) as runner:
        d = runner.describe()
    assert d.threads is None and d.settings["intra_op_num_threads"] == 0
    as_record(d)


@pytest.mark.parametrize("precision", ["f16", "int8"])
def test_unsupported_precision_raises(standin_artifact, precision):
    with pytest.raises(RunnerError, match="f32 only"):
        prepared(standin_artifact, precision=precision)


def test_wrong_input_shape_raises(standin_artifact):
    with prepared(standin_artifact) as runner, pytest.raises(RunnerError, match="batch shape"):
        runner.stage(np.zeros((1, 16, 9, 1), np.float32))


def test_vendor_errors_become_runner_errors(standin_artifact, tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not an onnx model")
    artifact = ModelArtifact(
        name="bad",
        source_format="onnx",
        paths={"onnx": bad},
        input_shape=(9, 16, 1),
        output_shape=(2,),
        parameter_count=None,
    )
    with pytest.raises(RunnerError, match="cannot load bad.onnx") as info:
        prepared(artifact)
    assert info.value.__cause__ is not None
    assert "\n" not in str(info.value)
