"""Legacy export for Vitis AI: the description rebuilds the same model; bad inputs are one line."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from triggerbench.errors import UserInputError

SCRIPT = Path(__file__).parents[2] / "scripts" / "vitis_ai" / "prepare_xmodel.py"
EVENTS = 16


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("prepare_xmodel", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module", params=["muon-l0-teacher", "llp-vgg"])
def exported(request, tmp_path_factory):
    from triggerbench.models import legacy_export, workloads

    if request.param not in workloads.WORKLOADS:
        pytest.skip(f"{request.param} is not shipped")
    out = tmp_path_factory.mktemp(request.param)
    legacy_export.export(request.param, out, calibration_events=EVENTS)
    return request.param, out


def _load(out: Path) -> tuple[dict, dict]:
    description = json.loads((out / "model.json").read_text())
    return description, dict(np.load(out / description["weights"]))


def test_the_description_rebuilds_the_shipped_model(exported, script):
    import keras

    from triggerbench.models import workloads
    from triggerbench.models.artifact import load_keras

    name, out = exported
    description, weights = _load(out)
    shipped = load_keras(workloads.get(name).source())
    rebuilt = script.build_model(description, weights, keras)
    assert [type(layer).__name__ for layer in rebuilt.layers[1:]] == [
        type(layer).__name__ for layer in shipped.layers[1:]
    ]
    x, _ = workloads.get(name).validation(8, 4242)  # events the export never saw
    np.testing.assert_allclose(np.asarray(rebuilt(x)), np.asarray(shipped(x)), rtol=1e-5, atol=1e-6)
    assert (
        script.check_rebuild(rebuilt, np.load(out / "check_inputs.npy"), np.load(out / "check_outputs.npy"))
        < 1e-5
    )


def test_calibration_is_the_int8_workloads_sample(exported):
    from triggerbench.models import workloads

    name, out = exported
    description, _ = _load(out)
    calibration = np.load(out / "calibration.npy")
    expected, _ = workloads.get(name).validation(EVENTS, workloads.INT8_CALIBRATION_SEED)
    np.testing.assert_array_equal(calibration, expected)
    assert description["calibration"] == {"file": "calibration.npy", "events": EVENTS, "seed": 31337}
    assert len(description["source_sha256"]) == 64


def test_a_wrong_weight_fails_the_rebuild_check(exported, script):
    import keras

    _, out = exported
    description, weights = _load(out)
    weights["0.1"] = weights["0.1"] + 0.5  # the first layer's bias
    rebuilt = script.build_model(description, weights, keras)
    with pytest.raises(script.PrepareError, match="differs from the exported one"):
        script.check_rebuild(rebuilt, np.load(out / "check_inputs.npy"), np.load(out / "check_outputs.npy"))


def test_a_calibration_set_of_the_wrong_shape_is_one_line(exported, script, tmp_path, capsys):
    _, out = exported
    description, _ = _load(out)
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((4, 9, 17, 1), np.float32))
    assert script.main([str(out), "--calibration", str(bad), "--skip-compile"]) == 2
    err = capsys.readouterr().err
    shape = ", ".join(map(str, description["input_shape"]))
    reason = f"calibration set has shape [4, 9, 17, 1]; the model needs (events, {shape})"
    assert err == f"prepare_xmodel: error: {reason}\n"


def test_without_vitis_ai_the_script_stops_at_quantization(exported, script, tmp_path, capsys):
    if importlib.util.find_spec("tensorflow_model_optimization") is not None:
        pytest.skip("a quantizer is installed here")
    _, out = exported
    assert script.main([str(out), "--out", str(tmp_path / "x"), "--skip-compile"]) == 2
    captured = capsys.readouterr()
    assert "rebuilt" in captured.out  # the rebuild with this tf.keras passed its check first
    assert captured.err.startswith("prepare_xmodel: error: vai_q_tensorflow2 is not importable")


def test_missing_arch_is_reported_before_any_work(exported, script, capsys):
    _, out = exported
    assert script.main([str(out), "--arch", "/no/arch.json"]) == 2
    assert "arch file not found: /no/arch.json" in capsys.readouterr().err


def test_quantized_models_are_refused(tmp_path):
    from triggerbench.models import legacy_export, workloads

    if "muon-l0-qstudent-4bit" not in workloads.WORKLOADS:
        pytest.skip("no quantized student shipped")
    with pytest.raises(UserInputError, match="QConv2D"):
        legacy_export.export("muon-l0-qstudent-4bit", tmp_path)
    with pytest.raises(UserInputError, match="already quantized"):
        legacy_export.export("llp-vgg-int8", tmp_path)
