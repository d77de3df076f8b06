"""Train the reference models, measure their task metrics and write them with a manifest.

``triggerbench train --all`` runs ``train_all``; with ``--ship`` it writes into the package's
``models/shipped/`` folder (what the workloads load), otherwise into ``--out``.
"""

from __future__ import annotations

import functools
import json
import platform
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from triggerbench.errors import UserInputError
from triggerbench.files import atomic_write_text, ensure_writable
from triggerbench.models import training
from triggerbench.models.artifact import save_keras, sha256_file
from triggerbench.models.shipped import MANIFEST_FORMAT

#: Seed of the fresh sample the shipped metrics are measured on (training uses 2*seed, 2*seed+1).
EVAL_SEED = 777
EVAL_EVENTS = {"l0": 50_000, "llp": 3_000}
#: Noise-only fraction of the L0 evaluation sample (the fake rate is measured on these).
EVAL_NOISE_ONLY_FRAC = 0.1


#: Widths of the quantized-student variants besides the 4-bit reference.
VARIANT_BITS = (2, 3, 6, 8)

# name -> (task, model_name, variant, config key, trainer, needs teacher)
MODELS: dict[str, tuple[str, str, str, str, Callable, bool]] = {
    "muon-l0-teacher": ("l0", "l0_teacher", "teacher", "teacher", training.train_teacher, False),
    "muon-l0-intermediate": (
        "l0",
        "l0_intermediate",
        "intermediate",
        "intermediate",
        training.train_intermediate,
        False,
    ),
    "muon-l0-student": ("l0", "l0_student", "student", "student", training.train_student, False),
    "muon-l0-student-kd": ("l0", "l0_student", "student-kd", "student_kd", training.train_student, True),
    "muon-l0-qstudent-4bit": (
        "l0",
        "l0_qstudent",
        "qstudent-4bit-kd",
        "qstudent",
        training.train_qstudent,
        True,
    ),
    "llp-vgg": ("llp", "llp_vgg", "float", "llp", training.train_llp, False),
}
# The student at other widths (quantization-aware, distilled): the bit-width scan of the seed talk.
for _bits in VARIANT_BITS:
    MODELS[f"muon-l0-qstudent-{_bits}bit"] = (
        "l0",
        "l0_qstudent",
        f"qstudent-{_bits}bit-kd",
        "qstudent_variant",
        functools.partial(training.train_qstudent, bits=_bits),
        True,
    )
TASKS = {"l0": "muon-l0-pt-eta-regression", "llp": "llp-decay-radius-regression"}


def evaluation_sample(task: str, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and labels of a fresh simulated sample (L0 labels: pt, eta, charge, is_signal)."""
    from triggerbench.physics import simulate_l0, simulate_llp

    if task == "l0":
        sample = simulate_l0(n, seed, noise_only_frac=EVAL_NOISE_ONLY_FRAC)
        return sample.x, sample.labels()
    sample = simulate_llp(n, seed)
    return sample.x, sample.targets()


def task_metrics(task: str, labels: np.ndarray, outputs: np.ndarray) -> dict[str, float]:
    """The task's metrics (see ``models.metrics``)."""
    from triggerbench.models.metrics import l0_metrics, llp_metrics

    if task == "l0":
        return l0_metrics(labels, outputs)
    return llp_metrics(labels[:, 0], np.asarray(outputs).reshape(len(labels), -1)[:, 0])


def evaluate(model, task: str, n: int | None = None, seed: int = EVAL_SEED) -> dict[str, float]:
    """Task metrics of ``model`` on a fresh sample."""
    x, labels = evaluation_sample(task, n or EVAL_EVENTS[task], seed)
    outputs = model.predict(x, batch_size=1024, verbose=0)
    return task_metrics(task, labels, outputs)


def _versions() -> dict[str, str]:
    from triggerbench.environment import package_versions

    return {"python": platform.python_version(), **package_versions(("tensorflow", "keras", "hgq2", "numpy"))}


def train_all(
    out_dir: Path,
    configs: dict[str, training.TrainConfig] | None = None,
    only: list[str] | None = None,
    log: Callable[[str], None] = print,
    eval_events: dict[str, int] | None = None,
) -> dict[str, Any]:
    """Train ``only`` (default: every model), write ``.keras`` files and ``manifest.json``.

    A distilled model needs the teacher: trained in the same call, or read from ``out_dir``.
    Entries of models not trained now are kept from an existing manifest in ``out_dir``.
    """
    configs = configs or training.FULL
    names = only or list(MODELS)
    unknown = sorted(set(names) - set(MODELS))
    if unknown:
        raise UserInputError(f"unknown model(s) {', '.join(unknown)}; known: {', '.join(MODELS)}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest_path = out_dir / "manifest.json"
    manifest = (
        json.loads(manifest_path.read_text())
        if manifest_path.exists()
        else {"format": MANIFEST_FORMAT, "models": {}}
    )
    teacher = None
    for name in [n for n in MODELS if n in names]:  # teacher first
        task, model_name, variant, key, trainer, needs_teacher = MODELS[name]
        cfg = configs[key]
        kwargs = {}
        if needs_teacher:
            teacher = teacher or _load_teacher(out_dir)
            kwargs["teacher"] = teacher
        log(f"training {name} ({cfg.epochs} epochs on {cfg.n_train} events)")
        model, history, wall_s = trainer(cfg, **kwargs)
        if name == "muon-l0-teacher":
            teacher = model
        path = out_dir / f"{name}.keras"
        save_keras(model, path)
        metrics, evaluation = _measured_metrics(model, task, eval_events)
        log(f"  {name}: {wall_s:.0f} s, " + ", ".join(f"{k}={v:.4g}" for k, v in metrics.items()))
        manifest["models"][name] = {
            "file": path.name,
            "sha256": sha256_file(path),
            "parameter_count": int(model.count_params()),
            "task": TASKS[task],
            "model_name": model_name,
            "variant": variant,
            "train_config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(cfg).items()},
            "train_wall_s": round(wall_s, 1),
            "history_last": {k: v[-1] for k, v in history.items() if v},
            "evaluation": evaluation,
            "metrics": metrics,
            "versions": _versions(),
        }
        atomic_write_text(manifest_path, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def reevaluate(
    out_dir: Path,
    only: list[str] | None = None,
    log: Callable[[str], None] = print,
    eval_events: dict[str, int] | None = None,
) -> dict[str, Any]:
    """Measure the task metrics of models already in ``out_dir`` again, without training.

    For when the metrics change: weights, hashes and training records stay; ``metrics`` and
    ``evaluation`` of each model are replaced (same sample as ``train_all``).
    """
    from triggerbench.models.artifact import load_keras

    manifest_path = Path(out_dir) / "manifest.json"
    if not manifest_path.is_file():
        raise UserInputError(f"no trained models to evaluate: {manifest_path} does not exist")
    ensure_writable(manifest_path.parent)  # before any evaluation: the manifest is rewritten
    manifest = json.loads(manifest_path.read_text())
    names = only or [n for n in MODELS if n in manifest["models"]]
    missing = sorted(set(names) - set(manifest["models"]))
    if missing:
        raise UserInputError(f"not in {manifest_path}: {', '.join(missing)}")
    for name in names:
        meta = manifest["models"][name]
        path = Path(out_dir) / meta["file"]
        if not path.is_file() or sha256_file(path) != meta["sha256"]:
            raise UserInputError(f"{path} is missing or does not match its hash in {manifest_path}")
        meta["metrics"], meta["evaluation"] = _measured_metrics(
            load_keras(path), MODELS[name][0], eval_events
        )
        log(f"  {name}: " + ", ".join(f"{k}={v:.4g}" for k, v in meta["metrics"].items()))
        atomic_write_text(manifest_path, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def _measured_metrics(model, task: str, eval_events: dict[str, int] | None) -> tuple[dict[str, float], dict]:
    """A manifest entry's ``metrics`` and ``evaluation``: the task metrics on the fresh sample."""
    n = (eval_events or EVAL_EVENTS)[task]
    return evaluate(model, task, n), {"seed": EVAL_SEED, "events": n}


def _load_teacher(out_dir: Path):
    from triggerbench.models.artifact import load_keras

    path = out_dir / "muon-l0-teacher.keras"
    if not path.exists():
        raise UserInputError(f"distillation needs the teacher: train muon-l0-teacher first (no {path})")
    return load_keras(path)
