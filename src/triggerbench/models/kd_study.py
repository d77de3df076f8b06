"""Does distillation help? The distilled student against its control, over several seeds.

One training run of the ~800-parameter student is a noisy figure: plain training with 15 seeds
lands anywhere from 0.329 to 0.371 in pT resolution here (a bad seed loses the low-pT muons). A
goal such as "distillation closes half of the student-teacher gap" is therefore judged on means
over seeds, each seed giving both recipes the same data and the same initial weights.

``distillation_study`` trains both recipes per seed against one frozen teacher and evaluates
every model on the same fresh sample; ``StudyResult`` holds the runs and the gap closed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pandas as pd

from triggerbench.errors import UserInputError
from triggerbench.models import training

CONTROL, DISTILLED = "control", "distilled"


@dataclass(frozen=True)
class StudyResult:
    """Runs of a distillation study.

    Attributes:
        runs: One row per (recipe, seed): ``recipe``, ``seed``, ``train_wall_s`` and the task
            metrics (``models.metrics.l0_metrics``).
        teacher: The teacher's task metrics on the same sample.
    """

    runs: pd.DataFrame
    teacher: dict[str, float]

    def summary(self, metrics: Sequence[str]) -> pd.DataFrame:
        """Mean and standard deviation over seeds of ``metrics``, one row per recipe."""
        missing = sorted(set(metrics) - set(self.runs.columns))
        if missing:
            raise UserInputError(f"no such metric in the study: {', '.join(missing)}")
        return self.runs.groupby("recipe")[list(metrics)].agg(["mean", "std"])

    def gap_closed(self, metric: str = "pt_resolution_frac") -> float:
        """``(control - distilled) / (control - teacher)`` of the seed means of ``metric``.

        1 means the distilled student is as good as the teacher, 0 no better than the control;
        NaN when the control is not worse than the teacher (there is no gap to close).
        """
        means = self.runs.groupby("recipe")[metric].mean()
        gap = means[CONTROL] - self.teacher[metric]
        return float((means[CONTROL] - means[DISTILLED]) / gap) if gap > 0 else float("nan")


def distillation_study(
    teacher,
    seeds: Sequence[int],
    control: training.TrainConfig,
    distilled: training.TrainConfig,
    eval_events: int | None = None,
    log: Callable[[str], None] = print,
) -> StudyResult:
    """Train the student with ``control`` (no teacher) and ``distilled`` for every seed.

    Args:
        teacher: The trained, frozen teacher (outputs in physical units).
        seeds: Training seeds; each replaces the configs' ``seed``.
        control: Config of the control (``kd_mode`` must be ``"none"``).
        distilled: Config of the distilled student (a distillation ``kd_mode``).
        eval_events: Size of the fresh evaluation sample (default: the shipped models' size).
        log: Progress messages.

    Returns:
        The runs and the teacher's metrics on the same sample.
    """
    from triggerbench.models import ship

    if control.kd_mode != "none" or distilled.kd_mode == "none":
        raise UserInputError("the control trains without a teacher and the distilled student with one")
    if not seeds:
        raise UserInputError("a distillation study needs at least one seed")
    n = eval_events or ship.EVAL_EVENTS["l0"]
    rows = []
    for seed in seeds:
        for recipe, cfg in ((CONTROL, control), (DISTILLED, distilled)):
            model, _, wall_s = training.train_student(cfg.with_(seed=seed), teacher=teacher)
            metrics = ship.evaluate(model, "l0", n)
            log(f"seed {seed} {recipe}: pT resolution {metrics['pt_resolution_frac']:.4f} ({wall_s:.0f} s)")
            rows.append({"recipe": recipe, "seed": seed, "train_wall_s": wall_s, **metrics})
    return StudyResult(pd.DataFrame(rows), ship.evaluate(teacher, "l0", n))
