import numpy as np
import pytest

from triggerbench.errors import RunnerError
from triggerbench.models.artifact import ModelArtifact
from triggerbench.runners.base import RunnerOptions
from triggerbench.runners.openvino import OpenVinoRunner

pytest.importorskip("openvino")


def prepared(artifact, **kw) -> OpenVinoRunner:
    runner = OpenVinoRunner()
    runner.prepare(artifact, RunnerOptions(**kw))
    return runner


def test_describe_reads_back_f32_and_threads(standin_artifact, as_record):
    # Without an explicit precision hint, bf16-capable CPUs run bf16: f32 must be read back.
    with prepared(standin_artifact, threads=1) as runner:
        d = runner.describe()
    assert (d.backend, d.device, d.precision, d.threads) == ("openvino", "CPU", "f32", 1)
    s = d.settings
    assert s["inference_num_threads"] == 1 and s["performance_hint"] == "LATENCY"
    assert s["precision_requested"] == "f32" and isinstance(s["num_streams"], int)
    assert s["device_name"] and d.backend_version and s["batch_shape"] == "1x9x16x1"
    as_record(d)


def test_bf16_is_allowed_and_read_back(standin_artifact, keras_reference, batches, as_record):
    x = batches(7, 25)
    with prepared(standin_artifact, batch_size=7, precision="bf16") as runner:
        out = runner.infer(runner.stage(x)).copy()
        d = runner.describe()
    # A CPU without bf16 falls back to f32; the record says what actually ran.
    assert d.precision in ("bf16", "f32") and d.settings["precision_requested"] == "bf16"
    as_record(d)
    np.testing.assert_allclose(out, keras_reference(x), atol=0.1)


def test_performance_hint_comes_from_extra(standin_artifact):
    with prepared(standin_artifact, extra={"performance_hint": "THROUGHPUT"}) as runner:
        assert runner.describe().settings["performance_hint"] == "THROUGHPUT"


@pytest.mark.parametrize("precision", ["int8", "f64"])
def test_unsupported_precision_raises(standin_artifact, precision):
    with pytest.raises(RunnerError, match="supports precision f32, bf16, f16 only"):
        prepared(standin_artifact, precision=precision)


def test_batch_other_than_compiled_raises(standin_artifact, batches):
    with prepared(standin_artifact, batch_size=7) as runner:
        with pytest.raises(RunnerError, match="compiled for batch shape"):
            runner.stage(batches(1, 26))


def test_vendor_errors_become_runner_errors(standin_artifact, tmp_path):
    with pytest.raises(RunnerError, match="PERFORMANCE_HINT") as info:
        prepared(standin_artifact, extra={"performance_hint": "FASTEST"})
    assert info.value.__cause__ is not None and "\n" not in str(info.value)
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
    with pytest.raises(RunnerError, match="cannot compile bad.onnx"):
        prepared(artifact)
