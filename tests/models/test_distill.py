import keras
import numpy as np
import pytest

from triggerbench.errors import UserInputError
from triggerbench.models import distill, reference


def case(teacher_better: bool):
    rng = np.random.default_rng(0)
    y = rng.normal(size=(6, 2)).astype(np.float32)
    y_s = y + 0.5
    y_t = y + (0.1 if teacher_better else 0.9)
    hints_s = [rng.normal(size=(6, 3, 4)).astype(np.float32), rng.normal(size=(6, 5)).astype(np.float32)]
    hints_t = [rng.normal(size=(6, 3, 4)).astype(np.float32), rng.normal(size=(6, 5)).astype(np.float32)]
    return y, y_s, y_t, hints_s, hints_t


def plain_mse(y, y_s):
    return float(np.mean((y - y_s) ** 2))


def test_guided_equals_plain_when_teacher_is_worse_everywhere():
    y, y_s, y_t, hs, ht = case(teacher_better=False)
    loss = distill.guided_loss(y, y_s, y_t, hs, ht, gamma=1.0, hint_weights=(0.3, 2.0))
    assert float(loss) == pytest.approx(plain_mse(y, y_s), rel=1e-6)


def test_guided_adds_weighted_hints_when_teacher_is_better():
    y, y_s, y_t, hs, ht = case(teacher_better=True)
    w = (0.3, 2.0)
    hint = sum(wi * np.mean((a - t) ** 2) for wi, a, t in zip(w, hs, ht, strict=True))
    loss = distill.guided_loss(y, y_s, y_t, hs, ht, gamma=1.0, hint_weights=w)
    assert float(loss) == pytest.approx(plain_mse(y, y_s) + hint, rel=1e-5)


def test_guided_decides_per_sample_and_gamma_scales_the_test():
    y, y_s, y_t, hs, ht = case(teacher_better=True)
    y_t = y_t.copy()
    y_t[:3] = y[:3] + 0.9  # first half: teacher worse
    w = (1.0, 0.0)
    per_sample_hint = np.mean((hs[0] - ht[0]) ** 2, axis=(1, 2))
    expected = plain_mse(y, y_s) + np.mean(np.r_[np.zeros(3), per_sample_hint[3:]])
    assert float(distill.guided_loss(y, y_s, y_t, hs, ht, 1.0, w)) == pytest.approx(expected, rel=1e-5)
    # Teacher error 0.01 vs student 0.25: with gamma 0.01 the teacher no longer counts as better.
    assert float(distill.guided_loss(y, y_s, y_t, hs, ht, 0.01, w)) == pytest.approx(
        plain_mse(y, y_s), rel=1e-6
    )


def test_guided_needs_a_weight_per_hint():
    y, y_s, y_t, hs, ht = case(True)
    with pytest.raises(UserInputError):
        distill.guided_loss(y, y_s, y_t, hs, ht, 1.0, hint_weights=(1.0,))


def test_soft_loss_interpolates_truth_and_teacher():
    y, y_s, y_t, _, _ = case(True)
    assert float(distill.soft_loss(y, y_s, y_t, 1.0)) == pytest.approx(plain_mse(y, y_s), rel=1e-6)
    assert float(distill.soft_loss(y, y_s, y_t, 0.0)) == pytest.approx(plain_mse(y_t, y_s), rel=1e-6)
    mid = 0.25 * plain_mse(y, y_s) + 0.75 * plain_mse(y_t, y_s)
    assert float(distill.soft_loss(y, y_s, y_t, 0.25)) == pytest.approx(mid, rel=1e-6)


def test_teacher_weights_make_a_weighted_mean_and_floor_the_teacher_pt():
    y, y_s, y_t, _, _ = case(True)
    per_sample = 0.5 * ((y - y_s) ** 2).mean(axis=1) + 0.5 * ((y_t - y_s) ** 2).mean(axis=1)
    w = np.array([1, 0, 0, 0, 0, 3], np.float32)
    expected = (w * per_sample).sum() / w.sum()
    assert float(distill.soft_loss(y, y_s, y_t, 0.5, w)) == pytest.approx(expected, rel=1e-6)
    weights = np.asarray(distill.teacher_weights(np.array([0.0, 3.0, 6.0, 30.0], np.float32), 1.0))
    np.testing.assert_allclose(weights, [1 / 3, 1 / 3, 1 / 6, 1 / 30], rtol=1e-6)


def numpy_relative_huber(y, y_s, y_t, alpha, delta, floor):
    target = alpha * y + (1 - alpha) * y_t
    rel = (y_s[:, 0] - target[:, 0]) / np.maximum(y_t[:, 0], floor)
    huber = np.where(np.abs(rel) <= delta, 0.5 * rel**2, delta * (np.abs(rel) - 0.5 * delta))
    return float(np.mean(huber + (y_s[:, 1] - target[:, 1]) ** 2))


def test_relative_huber_divides_by_the_teacher_pt_and_caps_large_residuals():
    y = np.array([[10.0, 0.1], [4.0, 0.0], [20.0, -0.2], [5.0, 0.0]], np.float32)
    y_t = np.array([[11.0, 0.1], [0.5, 0.0], [20.0, -0.2], [5.0, 0.0]], np.float32)
    y_s = np.array([[12.0, 0.3], [4.0, 0.0], [30.0, -0.2], [5.5, 0.0]], np.float32)
    for alpha in (0.0, 0.5, 1.0):
        got = float(distill.relative_huber_loss(y, y_s, y_t, alpha, 0.3, 3.0))
        assert got == pytest.approx(numpy_relative_huber(y, y_s, y_t, alpha, 0.3, 3.0), rel=1e-5)
    # Truth only: sample 1 is quadratic, 2/11 < 0.3; sample 3 linear, 10/20 > 0.3; sample 2's teacher pT
    # (0.5) is floored at 3 but its residual is 0; sample 4 quadratic, 0.5/5.
    expected = (0.5 * (2 / 11) ** 2 + 0.2**2 + 0.3 * (0.5 - 0.15) + 0.5 * 0.1**2) / 4
    assert float(distill.relative_huber_loss(y, y_s, y_t, 1.0, 0.3, 3.0)) == pytest.approx(expected, rel=1e-5)
    # eta_weight scales the eta term only (sample 1's eta residual 0.2).
    lighter = float(distill.relative_huber_loss(y, y_s, y_t, 1.0, 0.3, 3.0, eta_weight=0.25))
    assert lighter == pytest.approx(expected - 0.75 * 0.2**2 / 4, rel=1e-5)
    # The same residual costs more where the teacher predicts a lower pT.
    low = float(distill.relative_huber_loss(y[3:], y_s[3:], y_t[3:], 1.0, 1.0, 0.1))
    high = float(distill.relative_huber_loss(y[3:], y_s[3:], y_t[3:] * 2, 1.0, 1.0, 0.1))
    assert low > high


def test_huber_delta_must_be_positive():
    with pytest.raises(UserInputError, match="huber_delta"):
        distill.make_distiller(
            reference.build_student(), reference.build_student(name="t"), "relative", target_scale=(16, 1),
            huber_delta=0.0,
        )  # fmt: skip


def test_teacher_weights_only_in_soft_mode():
    student, teacher = reference.build_student(), reference.build_student(name="t")
    with pytest.raises(UserInputError, match="soft distillation only"):
        distill.make_distiller(student, teacher, "guided", target_scale=(16, 1), teacher_weight_power=1.0)


def test_adapters_map_to_the_teacher_shape():
    same_grid = distill.build_adapter((3, 7, 4), (3, 7, 32), "a")
    assert any(isinstance(layer, keras.layers.Conv2D) for layer in same_grid.layers)
    assert same_grid.output_shape == (None, 3, 7, 32)
    other = distill.build_adapter((3, 7, 4), (4, 4, 32), "b")
    assert other.output_shape == (None, 4, 4, 32)
    assert distill.build_adapter((9,), (32,), "c").output_shape == (None, 32)


def test_unknown_mode_rejected():
    with pytest.raises(UserInputError):
        distill.make_distiller(
            reference.build_student(), reference.build_teacher(), "hard", target_scale=reference.OUTPUT_SCALE
        )


@pytest.mark.parametrize("mode", ["soft", "relative", "guided"])
def test_distiller_trains_the_student_only(mode):
    keras.utils.set_random_seed(0)
    teacher, student = reference.build_teacher(), reference.build_student()
    d = distill.make_distiller(
        student,
        teacher,
        mode,
        target_scale=reference.OUTPUT_SCALE,
        hint_weights=(0.1, 0.1),
        student_hint_layers=reference.STUDENT_HINT_LAYERS,
        teacher_hint_layers=reference.TEACHER_HINT_LAYERS,
    )
    d.compile(optimizer=keras.optimizers.Adam(1e-2))
    rng = np.random.default_rng(1)
    x = (rng.random((256, 9, 16, 1)) < 0.1).astype(np.float32)
    y = np.stack([rng.uniform(3, 30, 256), rng.uniform(-0.05, 0.05, 256)], 1).astype(np.float32)
    t_before = [w.copy() for w in teacher.get_weights()]
    s_before = [w.copy() for w in student.get_weights()]
    hist = d.fit(x, y, epochs=3, batch_size=64, verbose=0, validation_data=(x, y))
    for a, b in zip(t_before, teacher.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(s_before, student.get_weights(), strict=True))
    assert {"loss", "student_mse", "teacher_better_frac", "val_loss"} <= set(hist.history)
    assert hist.history["student_mse"][-1] < hist.history["student_mse"][0]
    assert student.output_shape == (None, 2)
