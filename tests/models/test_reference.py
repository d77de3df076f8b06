import keras
import numpy as np
import pytest

from triggerbench.errors import UserInputError
from triggerbench.models import reference


def windows(n: int, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).random((n, 9, 16, 1)) < 0.1).astype(np.float32)


@pytest.fixture(scope="module")
def trained_qstudent():
    """A 4-bit student after a few QAT steps and HGQ2's integer-bit trace (non-trivial quantizers)."""
    from hgq.utils import trace_minmax

    keras.utils.set_random_seed(3)
    model = reference.build_qstudent(4)
    x = windows(512, 1)
    y = np.random.default_rng(2).normal(size=(512, 2)).astype(np.float32)
    view = keras.Model(model.input, model.get_layer("to_physical").input)
    view.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    view.fit(x, y, epochs=2, batch_size=64, verbose=0)
    trace_minmax(model, x)
    return model


@pytest.mark.parametrize("name", ["teacher", "intermediate", "student", "qstudent", "llp_vgg"])
def test_parameter_counts_near_targets(name):
    model = reference.BUILDERS[name]()
    n = reference.weight_count(model)
    target = reference.PARAMETER_TARGETS[name]
    assert abs(n - target) <= 0.15 * target, (name, n)
    if name in ("student", "qstudent"):
        assert 700 <= n <= 1000
    if name != "qstudent":  # HGQ2 also counts its quantizers' state as parameters
        assert model.count_params() == n


def test_llp_vgg_is_the_seed_talks_size():
    model = reference.build_llp_vgg()
    assert model.output_shape == (None, 1)
    assert model.count_params() * 4 / 1e6 == pytest.approx(10.9, abs=0.1)  # MB in float32


def test_small_input_shapes_build():
    model = reference.build_llp_vgg(input_shape=(9, 64, 1), dense_units=8)
    assert model(np.zeros((2, 9, 64, 1), np.float32)).shape == (2, 1)


def test_float_and_quantized_students_have_the_same_weights():
    float_shapes = [tuple(w.shape) for w in reference.build_student().weights]
    q = reference.build_qstudent(4)
    q_shapes = [tuple(v.shape) for v in q.weights if v.path.rsplit("/", 1)[-1] in ("kernel", "bias")]
    assert q_shapes == float_shapes


def test_outputs_are_physical_units():
    model = reference.build_student()
    layer = model.get_layer("to_physical")
    assert not layer.trainable
    np.testing.assert_array_equal(layer.get_weights()[0], np.diag(reference.OUTPUT_SCALE))
    scaled = keras.Model(model.input, layer.input)
    x = windows(4)
    np.testing.assert_allclose(model(x), scaled(x) * np.asarray(reference.OUTPUT_SCALE), rtol=1e-6)


def test_qstudent_rescaling_is_exact(trained_qstudent):
    layer = trained_qstudent.get_layer("to_physical")
    np.testing.assert_array_equal(np.asarray(layer.qkernel), np.diag(reference.OUTPUT_SCALE))
    assert not layer.trainable_weights


def test_hint_layers_exist():
    teacher, student, q = reference.build_teacher(), reference.build_student(), reference.build_qstudent(3)
    for name in reference.TEACHER_HINT_LAYERS:
        teacher.get_layer(name)
    for name in reference.STUDENT_HINT_LAYERS:
        student.get_layer(name)
        q.get_layer(name)


@pytest.mark.parametrize("bits", [1, 0, 17, 4.0, "4"])
def test_bad_bits_rejected(bits):
    with pytest.raises(UserInputError):
        reference.build_qstudent(bits)


def test_float_save_load_round_trip(tmp_path):
    model = reference.build_teacher()
    x = windows(32)
    path = tmp_path / "teacher.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_array_equal(model(x), loaded(x))


def test_hgq_save_load_round_trip(tmp_path, trained_qstudent):
    x = windows(256, 5)
    path = tmp_path / "qstudent.keras"
    trained_qstudent.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_array_equal(trained_qstudent(x), loaded(x))


def fixed_point_codes(values: np.ndarray, quantizer) -> np.ndarray:
    """``values`` as integers on the quantizer's grid (``value * 2**f``), broadcast like ``values``."""
    f = np.broadcast_to(np.asarray(quantizer.quantizer.f), values.shape)
    codes = values * 2.0**f
    np.testing.assert_array_equal(codes, np.round(codes))  # on the grid
    return codes


@pytest.mark.parametrize("layer_name", ["student_conv", "student_fc"])
def test_qstudent_kernels_are_quantized(trained_qstudent, layer_name):
    layer = trained_qstudent.get_layer(layer_name)
    qkernel = np.asarray(layer.qkernel)
    codes = fixed_point_codes(qkernel, layer.kq)
    # 4 bits with sign: integers in [-8, 8), so at most 16 values per output channel.
    assert codes.min() >= -8 and codes.max() < 8
    per_channel = qkernel.reshape(-1, qkernel.shape[-1])
    assert all(len(np.unique(per_channel[:, c])) <= 2**4 for c in range(per_channel.shape[1]))
    assert not np.array_equal(qkernel, np.asarray(layer.kernel))


def test_qstudent_activations_are_quantized(trained_qstudent):
    hidden = keras.Model(trained_qstudent.input, trained_qstudent.get_layer("student_fc").output)
    quantizer = trained_qstudent.get_layer("student_scaled_out").iq
    acts = np.asarray(quantizer(hidden(windows(2000, 7))))
    codes = fixed_point_codes(acts, quantizer)
    # 4 unsigned bits: integers in [0, 16).
    assert codes.min() >= 0 and codes.max() < 16
    for j in range(acts.shape[1]):
        assert len(np.unique(acts[:, j])) <= 2**4


def test_hgq_onnx_export_matches_keras(tmp_path, trained_qstudent):
    import onnxruntime as ort

    path = tmp_path / "qstudent.onnx"
    trained_qstudent.export(str(path), format="onnx", verbose=False)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = windows(256, 9)
    (out,) = session.run(None, {session.get_inputs()[0].name: x})
    np.testing.assert_array_equal(out, np.asarray(trained_qstudent(x)))
