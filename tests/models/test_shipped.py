"""The shipped models load, match their hashes, and reach their recorded metrics again."""

import shutil

import pytest

from triggerbench.models import ship, shipped, workloads
from triggerbench.models.artifact import load_keras

SHIPPED = shipped.manifest()["models"]
#: A sample the recorded metrics were not measured on (they used ship.EVAL_SEED).
RECHECK_SEED = 4242
RECHECK_EVENTS = {"l0": 20_000, "llp": 600}
# (metric, kind, tolerance): "rel" relative, "abs" absolute
TOLERANCES = {
    "l0": [
        ("pt_resolution_frac", "rel", 0.15),
        ("turnon_50_gev", "abs", 1.0),
        ("plateau_eff_frac", "abs", 0.03),
        ("eta_residual_rms", "rel", 0.15),
    ],
    "llp": [("lr_resolution_m", "rel", 0.25), ("lr_bias_m", "abs", 0.3)],
}


def test_the_reference_models_are_shipped():
    assert set(ship.MODELS) <= set(SHIPPED)


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_model_loads_and_reaches_its_recorded_metrics(name):
    meta = SHIPPED[name]
    model = load_keras(shipped.verified_path(name))
    assert model.count_params() == meta["parameter_count"]
    task = "l0" if meta["task"].startswith("muon-l0") else "llp"
    again = ship.evaluate(model, task, RECHECK_EVENTS[task], seed=RECHECK_SEED)
    for metric, kind, tol in TOLERANCES[task]:
        if metric not in meta["metrics"]:  # e.g. no 50 % crossing: the 2-bit student fires always
            assert metric not in again, metric
            continue
        recorded, measured = meta["metrics"][metric], again[metric]
        bound = tol * abs(recorded) if kind == "rel" else tol
        assert abs(measured - recorded) <= bound, (metric, recorded, measured)


def test_corrupt_shipped_file_is_a_clear_error(tmp_path):
    name = sorted(SHIPPED)[0]
    copy = tmp_path / SHIPPED[name]["file"]
    shutil.copy(shipped.verified_path(name), copy)
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0xFF
    copy.write_bytes(bytes(data))
    with pytest.raises(shipped.CorruptArtifactError, match="is corrupt: sha256") as info:
        shipped.verified_path(name, folder=tmp_path)
    assert "\n" not in str(info.value)
    copy.unlink()
    with pytest.raises(shipped.CorruptArtifactError, match="missing its file"):
        shipped.verified_path(name, folder=tmp_path)


def test_unknown_shipped_model_lists_the_known_ones():
    with pytest.raises(Exception, match="no shipped model 'muon-l9'; shipped models: .*muon-l0-teacher"):
        shipped.entry("muon-l9")


def test_workloads_cover_shipped_models_and_pruned_variants():
    names = set(workloads.WORKLOADS)
    assert set(SHIPPED) <= names
    assert {"muon-l0-student-kd-pruned50", "muon-l0-student-kd-pruned75"} <= names


def test_pruned_variant_is_sparse_and_derived_from_the_shipped_student():
    import numpy as np

    w = workloads.get("muon-l0-student-kd-pruned75")
    model = load_keras(w.source())
    kernels = [
        np.asarray(layer.kernel) for layer in model.layers if getattr(layer, "kernel", None) is not None
    ]
    zeros = sum(int((k == 0).sum()) for k in kernels[:-1])  # the last is the frozen rescale
    assert zeros >= 0.7 * sum(k.size for k in kernels[:-1])


def test_llp_int8_variant_is_small_and_close_to_the_float_model():
    import numpy as np
    import onnxruntime as ort

    int8 = workloads.get("llp-vgg-int8").artifact()
    float_ = workloads.get("llp-vgg").artifact()
    assert int8.source_format == "onnx" and "keras" not in int8.paths
    assert int8.size_bytes("onnx") < 0.3 * float_.size_bytes("onnx")  # 2.8 MB vs 10.9 MB
    x, _ = ship.evaluation_sample("llp", 64, RECHECK_SEED)

    def run(path):
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return session.run(None, {session.get_inputs()[0].name: x})[0]

    diff = np.abs(run(int8.path("onnx")) - run(float_.path("onnx")))
    assert 0 < diff.mean() < 0.1  # metres: quantized, but close
