import math

import pandas as pd
import pytest

from triggerbench.errors import UserInputError
from triggerbench.models import kd_study, training
from triggerbench.models.kd_study import CONTROL, DISTILLED, StudyResult


@pytest.fixture(scope="module")
def teacher():
    return training.train_teacher(training.TINY["teacher"])


def result(control, distilled, teacher=0.28):
    rows = [{"recipe": CONTROL, "seed": s, "pt_resolution_frac": v} for s, v in enumerate(control)]
    rows += [{"recipe": DISTILLED, "seed": s, "pt_resolution_frac": v} for s, v in enumerate(distilled)]
    return StudyResult(pd.DataFrame(rows), {"pt_resolution_frac": teacher})


def test_gap_closed_compares_seed_means_with_the_teacher():
    # control mean 0.34, distilled mean 0.31, teacher 0.28: half the gap
    assert result([0.33, 0.35], [0.30, 0.32]).gap_closed() == pytest.approx(0.5)
    assert result([0.34], [0.34]).gap_closed() == pytest.approx(0.0)
    assert result([0.34], [0.28]).gap_closed() == pytest.approx(1.0)
    assert result([0.34], [0.36]).gap_closed() < 0
    assert math.isnan(result([0.27], [0.26]).gap_closed())  # control already beats the teacher


def test_summary_has_mean_and_std_per_recipe():
    summary = result([0.33, 0.35], [0.30, 0.32]).summary(["pt_resolution_frac"])
    assert summary.loc[CONTROL, ("pt_resolution_frac", "mean")] == pytest.approx(0.34)
    assert summary.loc[DISTILLED, ("pt_resolution_frac", "std")] == pytest.approx(0.01414, rel=1e-3)
    with pytest.raises(UserInputError, match="no such metric"):
        result([0.3], [0.3]).summary(["nope"])


def test_tiny_study_trains_both_recipes_per_seed(teacher, monkeypatch):
    from triggerbench.models import ship

    tiny = training.TINY["student"]
    trained = []
    real_train_student = training.train_student

    def spy(cfg, teacher=None, data=None):
        trained.append((cfg.seed, cfg.kd_mode, teacher))
        return real_train_student(cfg, teacher=teacher, data=data)

    monkeypatch.setattr(training, "train_student", spy)
    lines = []
    study = kd_study.distillation_study(
        teacher[0], [1, 2], tiny, tiny.with_(kd_mode="relative"), eval_events=2000, log=lines.append
    )
    # each seed replaces the configs' own, and both recipes get the frozen teacher (the control
    # ignores it: kd_mode none)
    assert [(seed, mode) for seed, mode, _ in trained] == [
        (1, "none"), (1, "relative"), (2, "none"), (2, "relative")
    ]  # fmt: skip
    assert all(t is teacher[0] for _, _, t in trained)
    assert list(zip(study.runs["recipe"], study.runs["seed"], strict=True)) == [
        (CONTROL, 1), (DISTILLED, 1), (CONTROL, 2), (DISTILLED, 2)
    ]  # fmt: skip
    assert (study.runs["train_wall_s"] > 0).all()
    assert "pt_resolution_calibrated_frac" in study.runs
    # the teacher is evaluated on the same fresh sample as the students
    assert study.teacher == pytest.approx(ship.evaluate(teacher[0], "l0", 2000), nan_ok=True)
    for line, row in zip(lines, study.runs.itertuples(), strict=True):
        assert line.startswith(f"seed {row.seed} {row.recipe}: pT resolution {row.pt_resolution_frac:.4f}")


def test_study_refuses_swapped_recipes(teacher):
    tiny = training.TINY["student"]
    with pytest.raises(UserInputError, match="control trains without"):
        kd_study.distillation_study(teacher[0], [1], tiny.with_(kd_mode="soft"), tiny)
