import keras
import numpy as np
import pytest

from triggerbench.errors import UserInputError
from triggerbench.models import reference, training
from triggerbench.models.training import TINY, TrainConfig


@pytest.fixture(scope="module")
def l0():
    return training.l0_data(TINY["teacher"])


@pytest.fixture(scope="module")
def teacher(l0):
    return training.train_teacher(TINY["teacher"].with_(epochs=2), data=l0)


def val_mse(model, data, scale=reference.OUTPUT_SCALE) -> float:
    _, _, xv, yv = data
    pred = np.asarray(model(xv))
    return float(np.mean(((pred - yv) / np.asarray(scale)) ** 2))


def test_teacher_tiny_training_lowers_the_loss(teacher, l0):
    model, history, wall_s = teacher
    assert wall_s > 0
    assert len(history["loss"]) == 2 and "val_loss" in history
    assert not model.compiled  # trained through a view; nothing to restore on load
    assert val_mse(model, l0) < val_mse(reference.build_teacher(), l0)
    assert val_mse(model, l0) == pytest.approx(history["val_loss"][-1], rel=1e-3)


@pytest.mark.parametrize(
    ("mode", "power"), [("none", 0.0), ("soft", 0.0), ("soft", 1.0), ("relative", 0.0), ("guided", 0.0)]
)
def test_student_tiny_training(mode, power, teacher, l0):
    t_weights = [w.copy() for w in teacher[0].get_weights()]
    cfg = TINY["student"].with_(kd_mode=mode, epochs=2, teacher_weight_power=power)
    model, history, _ = training.train_student(cfg, teacher=teacher[0], data=l0)
    assert history["loss"][-1] < history["loss"][0]
    assert model.output_shape == (None, 2)
    for a, b in zip(t_weights, teacher[0].get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_distillation_needs_a_teacher(l0):
    with pytest.raises(UserInputError):
        training.train_student(TINY["student_kd"], teacher=None, data=l0)


def test_qstudent_tiny_training_and_round_trip(teacher, l0, tmp_path):
    model, history, _ = training.train_qstudent(TINY["qstudent"], teacher=teacher[0], bits=3, data=l0)
    assert model.name == "l0_qstudent_3bit"
    assert np.isfinite(history["loss"]).all()
    path = tmp_path / "q.keras"
    model.save(path)
    x = l0[2]
    np.testing.assert_array_equal(model(x), keras.models.load_model(path)(x))


def test_llp_tiny_training():
    cfg = TINY["llp"]
    rng = np.random.default_rng(0)
    data = (
        (rng.random((64, 9, 48, 1)) < 0.02).astype(np.float32),
        rng.uniform(0.5, 9.5, (64, 1)).astype(np.float32),
        (rng.random((16, 9, 48, 1)) < 0.02).astype(np.float32),
        rng.uniform(0.5, 9.5, (16, 1)).astype(np.float32),
    )
    model, history, _ = training.train_llp(cfg.with_(epochs=2), data=data)
    assert model.output_shape == (None, 1)
    assert history["loss"][-1] < history["loss"][0]


@pytest.mark.parametrize("sparsity", [0.0, 0.5, 0.9])
def test_magnitude_prune_reaches_the_sparsity(sparsity):
    keras.utils.set_random_seed(0)
    model = reference.build_teacher()
    before = [w.copy() for w in model.get_weights()]
    pruned = training.magnitude_prune(model, sparsity)
    for a, b in zip(before, model.get_weights(), strict=True):  # the original is untouched
        np.testing.assert_array_equal(a, b)
    for layer in pruned.layers:
        if getattr(layer, "kernel", None) is None:
            continue
        k = np.asarray(layer.kernel)
        if layer.name == "to_physical":
            np.testing.assert_array_equal(k, np.diag(reference.OUTPUT_SCALE))
        else:
            assert np.mean(k == 0) == pytest.approx(np.floor(sparsity * k.size) / k.size)
    x = np.zeros((2, 9, 16, 1), np.float32)
    if sparsity == 0.0:
        np.testing.assert_array_equal(model(x), pruned(x))


def test_magnitude_prune_keeps_hgq_models_and_rejects_bad_sparsity():
    q = reference.build_qstudent(4)
    pruned = training.magnitude_prune(q, 0.5)
    assert np.mean(np.asarray(pruned.get_layer("student_fc").kernel) == 0) == pytest.approx(0.5, abs=0.01)
    with pytest.raises(UserInputError):
        training.magnitude_prune(q, 1.0)


def test_student_at_bits():
    for bits in training.STUDENT_BITS:
        model = training.student_at_bits(bits)
        assert reference.weight_count(model) == reference.weight_count(reference.build_student())
    with pytest.raises(UserInputError):
        training.student_at_bits("fp16")


@pytest.mark.parametrize(
    "changes",
    [
        {"n_train": 0},
        {"kd_mode": "hard"},
        {"learning_rate": 0.0},
        {"alpha": 2.0},
        {"gamma": 0.0},
        {"huber_delta": -1.0},
        {"eta_weight": -0.5},
    ],
)
def test_config_validation(changes):
    with pytest.raises(UserInputError):
        TrainConfig(**changes)


def test_full_configs_are_sized_for_a_cpu():
    assert 200_000 <= training.FULL["teacher"].n_train <= 400_000
    assert 20_000 <= training.FULL["llp"].n_train <= 40_000
    assert all(cfg.epochs == 1 and cfg.n_train < 1000 for cfg in TINY.values())
