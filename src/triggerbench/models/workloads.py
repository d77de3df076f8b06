"""Named workloads: a model (shipped, derived or built), its validation set and task metrics."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from triggerbench import precision
from triggerbench.errors import UserInputError
from triggerbench.models import shipped, standin
from triggerbench.models.artifact import ModelArtifact, cache_dir, from_keras, from_onnx, save_keras

VALIDATION_SEED = 20261124
#: Pruned variants of the distilled student: name suffix -> sparsity (no retraining).
PRUNED_SPARSITIES = {"pruned50": 0.5, "pruned75": 0.75}
#: INT8 calibration sample (a seed no training or validation set uses).
INT8_CALIBRATION_EVENTS = 512
INT8_CALIBRATION_SEED = 31337


@dataclass(frozen=True)
class Workload:
    """A reference model with its data: what ``--workload NAME`` selects."""

    name: str
    task: str
    model_name: str
    variant: str | None
    source: Callable[[], Path]
    validation: Callable[[int, int], tuple[np.ndarray, np.ndarray]]
    task_metrics: Callable[[np.ndarray, np.ndarray], dict[str, float]] | None
    #: The float Keras model accuracy is measured against, when the source is not it (INT8).
    float_reference: Callable[[], Path] | None = None
    #: The model's quantization where the workload knows more than the file shows (its bits).
    quantization: str | None = None

    def artifact(self) -> ModelArtifact:
        """The source (built or verified) and its exports."""
        path = self.source()
        loader = from_keras if path.suffix == ".keras" else from_onnx
        artifact = loader(path, name=self.name)
        if self.quantization:
            artifact = dataclasses.replace(artifact, quantization=self.quantization)
        return artifact


def _cached(key: str, build: Callable[[], object]) -> Path:
    """Build a Keras model once into the cache under ``key``."""
    import keras

    path = cache_dir() / "workloads" / f"{key}-keras{keras.__version__}.keras"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        save_keras(build(), path)
    return path


def _short_task(task: str) -> str:
    return "l0" if task.startswith("muon-l0") else "llp"


def _shipped_workload(name: str, meta: dict) -> Workload:
    from triggerbench.models import ship

    task = _short_task(meta["task"])
    return Workload(
        name=name,
        task=meta["task"],
        model_name=meta["model_name"],
        variant=meta["variant"],
        source=lambda: shipped.verified_path(name),
        validation=lambda n, seed: ship.evaluation_sample(task, n, seed),
        task_metrics=lambda labels, outputs: ship.task_metrics(task, labels, outputs),
        quantization=_quantization(meta),
    )


def _quantization(meta: dict) -> str | None:
    """A shipped quantized student's bits: its training's setting, else its variant's name."""
    bits = (meta.get("train_config") or {}).get("bits")
    found = re.match(r"qstudent-(\d+)bit", meta.get("variant") or "")
    if found or bits:
        return precision.hgq2(bits or int(found.group(1)))  # type: ignore[union-attr]
    return None


def _pruned_workload(base: Workload, suffix: str, sparsity: float) -> Workload:
    def build():
        from triggerbench.models.artifact import load_keras, sha256_file
        from triggerbench.models.training import magnitude_prune

        path = base.source()
        key = f"{base.name}-{suffix}-{sha256_file(path)[:12]}"
        return _cached(key, lambda: magnitude_prune(load_keras(path), sparsity))

    return Workload(
        name=f"{base.name}-{suffix}",
        task=base.task,
        model_name=base.model_name,
        variant=f"{base.variant}-{suffix}",
        source=build,
        validation=base.validation,
        task_metrics=base.task_metrics,
    )


def _int8_workload(base: Workload, task: str) -> Workload:
    """Post-training static INT8 of ``base``'s ONNX export, calibrated on simulated inputs."""

    def build() -> Path:
        from triggerbench.models import ship
        from triggerbench.models.int8 import RECIPE, quantize_int8

        float_artifact = base.artifact()
        key = f"{base.name}-int8-{RECIPE}-{float_artifact.source_sha256[:12]}"
        out = cache_dir() / "workloads" / f"{key}.onnx"
        if not out.exists():
            out.parent.mkdir(parents=True, exist_ok=True)
            calibration, _ = ship.evaluation_sample(task, INT8_CALIBRATION_EVENTS, INT8_CALIBRATION_SEED)
            quantize_int8(float_artifact.path("onnx"), calibration, out)
        return out

    return Workload(
        name=f"{base.name}-int8",
        task=base.task,
        model_name=base.model_name,
        variant="int8-ptq",
        source=build,
        validation=base.validation,
        task_metrics=base.task_metrics,
        float_reference=base.source,
    )


def _all() -> dict[str, Workload]:
    found = {
        "standin-cnn": Workload(
            name="standin-cnn",
            task="toy-track-regression",
            model_name="standin_cnn",
            variant=None,
            source=lambda: _cached("standin-cnn-v1", standin.build),
            validation=lambda n, seed: standin.toy_tracks(n, seed),
            task_metrics=standin.task_metrics,
        )
    }
    for name, meta in shipped.manifest()["models"].items():
        found[name] = _shipped_workload(name, meta)
    for name, meta in shipped.manifest()["models"].items():
        # The HGQ2 students are quantized already; INT8 PTQ applies to the float models.
        if not meta["variant"].startswith("qstudent"):
            found[f"{name}-int8"] = _int8_workload(found[name], _short_task(meta["task"]))
    if "muon-l0-student-kd" in found:
        for suffix, sparsity in PRUNED_SPARSITIES.items():
            w = _pruned_workload(found["muon-l0-student-kd"], suffix, sparsity)
            found[w.name] = w
    return found


WORKLOADS: dict[str, Workload] = _all()


def agreement_metrics(task: str) -> Callable[[np.ndarray, np.ndarray], dict[str, float]] | None:
    """How a model's decisions agree with the float reference's, for tasks that take one.

    Called with ``(reference, outputs)``; the L0 trigger's decision is predicted pT > 10 GeV.
    The LLP regression has no decision, so it has none (its drop shows in ``lr_resolution_m``).
    """
    if task.startswith("muon-l0"):
        from triggerbench.models.int8 import l0_decision_agreement

        return l0_decision_agreement
    return None


def get(name: str) -> Workload:
    """Return the workload called ``name``; unknown names list the known ones."""
    if name not in WORKLOADS:
        raise UserInputError(f"unknown workload {name!r}; known workloads: {', '.join(WORKLOADS)}")
    return WORKLOADS[name]
