import pytest

from triggerbench.errors import RunnerError
from triggerbench.models.artifact import ModelArtifact
from triggerbench.runners.base import RunnerOptions
from triggerbench.runners.onnxruntime import OnnxRuntimeRunner


def prepared(artifact, **kw) -> OnnxRuntimeRunner:
    runner = OnnxRuntimeRunner()
    runner.prepare(artifact, RunnerOptions(**kw))
    return runner


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
