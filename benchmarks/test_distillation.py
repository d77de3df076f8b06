"""Knowledge distillation: does the shipped recipe close half of the student-teacher gap?

Trains the student without a teacher (the control) and with the shipped distillation recipe for
several seeds against the shipped teacher, and compares the seed means on a fresh sample (one run
is too noisy a figure, see ``models.kd_study``). Goal (issue 4): the distilled student closes at
least half of the pT-resolution gap between the control and the teacher. The response-corrected
resolution is noted beside it: the overall figure also counts the pT-dependent response, which a
loss can trade against the resolution.

Opt-in (marker ``training``: ``pytest benchmarks --training``, or ``-m training`` for it alone)
and full mode only (16 trainings, about an hour on 2 cores: the distilled students run the
teacher on every batch); the default run and quick mode skip it.
"""

from __future__ import annotations

import os

import pytest

GOAL_GAP_CLOSED = 0.5
#: ``TRIGGERBENCH_KD_SEEDS=1,2`` runs fewer (a smoke run; two seeds say little about the goal).
SEEDS = tuple(int(s) for s in os.environ.get("TRIGGERBENCH_KD_SEEDS", "1,2,3,4,5,6,7,8").split(","))
METRICS = ("pt_resolution_frac", "pt_resolution_calibrated_frac", "turnon_90_gev", "plateau_eff_frac")


@pytest.mark.training
def test_distillation_closes_half_the_gap(benchmark, triggerbench):
    if triggerbench.quick:
        pytest.skip(f"full mode only: trains {2 * len(SEEDS)} students")
    from triggerbench.models import kd_study, shipped, training
    from triggerbench.models.artifact import load_keras

    teacher = load_keras(shipped.verified_path("muon-l0-teacher"))
    # Not deterministic: enabling it is process-wide, and the rest of the suite shares the process.
    control = training.FULL["student"].with_(deterministic=False)
    distilled = training.FULL["student_kd"].with_(deterministic=False)
    study = benchmark.pedantic(
        kd_study.distillation_study,
        args=(teacher, SEEDS, control, distilled),
        kwargs={"log": lambda _: None},
        rounds=1,
        iterations=1,
    )
    summary = study.summary(METRICS)
    closed = {m: study.gap_closed(m) for m in METRICS[:2]}
    for metric in METRICS:
        mean = summary[(metric, "mean")]
        std = summary[(metric, "std")]
        benchmark.extra_info[metric] = {r: [float(mean[r]), float(std[r])] for r in mean.index}
        benchmark.extra_info[f"teacher_{metric}"] = study.teacher.get(metric)
    benchmark.extra_info["gap_closed"] = closed
    res = summary[("pt_resolution_frac", "mean")]
    triggerbench.note(
        "distillation",
        f"pT resolution over seeds {list(SEEDS)}: control {res[kd_study.CONTROL]:.4f}, "
        f"distilled {res[kd_study.DISTILLED]:.4f}, teacher {study.teacher['pt_resolution_frac']:.4f}: "
        f"{closed['pt_resolution_frac']:.0%} of the gap closed (goal >= {GOAL_GAP_CLOSED:.0%}); "
        f"response-corrected {closed['pt_resolution_calibrated_frac']:.0%}",
    )
    # The goal sits within the control's seed spread (README, "Knowledge distillation"), so a hard
    # assert on it would fail some runs by chance: the note reports it, the assert checks that
    # distillation helps at all.
    assert closed["pt_resolution_frac"] > 0, f"distillation does not help: {closed}"
