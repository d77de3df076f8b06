"""A measurement job and the context it runs in (model, validation data, reference outputs).

The context is built once per ``triggerbench run`` in the parent process; each runner may then
measure in a child process that reloads the context from its saved form, without re-exporting.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, NamedTuple

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from triggerbench import scenarios
from triggerbench.errors import UserInputError
from triggerbench.measure.settings import MeasureSettings
from triggerbench.models import workloads
from triggerbench.models.artifact import ModelArtifact, from_path
from triggerbench.runners.base import one_line

#: A scenario ``run`` measures and a harness ``--harness`` takes (the table: ``scenarios``).
Scenario = Literal[scenarios.RUNNABLE]  # type: ignore[valid-type]
Harness = Literal[scenarios.HARNESS_CHOICES]  # type: ignore[valid-type]


class Job(BaseModel):
    """One runner x scenario x batch measurement of one model."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    run_id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    runner: str
    scenario: Scenario = "single-stream"
    harness: Harness = "auto"
    batch_size: int = Field(1, ge=1)
    threads: int | None = Field(None, ge=1)
    precision: str = "f32"
    #: Backend-specific settings (``--option KEY=VALUE``), handed to the runner as ``options.extra``.
    runner_options: dict[str, str | int | float | bool] = Field(default_factory=dict)
    settings: MeasureSettings = MeasureSettings()
    out_dir: Path = Path("results")
    timeout_s: float = Field(1800.0, gt=0)


Metrics = Callable[[np.ndarray, np.ndarray], dict[str, float]]


class MetricFunctions(NamedTuple):
    """How outputs are scored: against the labels (task) and against the reference (agreement)."""

    task: Metrics | None
    agreement: Metrics | None


@dataclass(frozen=True)
class Context:
    """Everything shared by the runners measuring one model."""

    artifact: ModelArtifact
    workload_name: str
    task: str
    model_name: str
    variant: str | None
    inputs: np.ndarray
    labels: np.ndarray | None
    reference: np.ndarray
    reference_name: str

    def metric_functions(self) -> MetricFunctions:
        """The workload's task metrics and the task's decision agreement, looked up once."""
        workload = workloads.WORKLOADS.get(self.workload_name)
        return MetricFunctions(
            task=workload.task_metrics if workload else None,
            agreement=workloads.agreement_metrics(self.task),
        )

    def save(self, folder: Path) -> Path:
        """Write the context to ``folder`` (arrays as .npz, the rest as JSON)."""
        folder.mkdir(parents=True, exist_ok=True)
        np.savez(
            folder / "arrays.npz",
            inputs=self.inputs,
            reference=self.reference,
            **({"labels": self.labels} if self.labels is not None else {}),
        )
        a = self.artifact
        meta = {
            "artifact": {
                **dataclasses.asdict(a),
                "paths": {k: str(v) for k, v in a.paths.items()},
            },
            "workload_name": self.workload_name,
            "task": self.task,
            "model_name": self.model_name,
            "variant": self.variant,
            "reference_name": self.reference_name,
        }
        (folder / "context.json").write_text(json.dumps(meta))
        return folder

    @classmethod
    def load(cls, folder: Path) -> Context:
        """Read a context written by ``save``."""
        meta = json.loads((folder / "context.json").read_text())
        a = meta.pop("artifact")
        artifact = ModelArtifact(
            **{
                **a,
                "paths": {k: Path(v) for k, v in a["paths"].items()},
                "input_shape": tuple(a["input_shape"]),
                "output_shape": tuple(a["output_shape"]),
            }
        )
        with np.load(folder / "arrays.npz") as arrays:
            labels = arrays["labels"] if "labels" in arrays.files else None
            return cls(
                artifact=artifact,
                inputs=arrays["inputs"],
                labels=labels,
                reference=arrays["reference"],
                **meta,
            )


def _reference_outputs(
    artifact: ModelArtifact, inputs: np.ndarray, float_keras: Path | None = None
) -> tuple[np.ndarray, str]:
    """Float reference: the Keras model's own call, or ONNX Runtime for an ONNX-only model.

    ``float_keras`` names the float model a derived artifact (INT8) is compared with.
    """
    keras_path = float_keras or artifact.paths.get("keras")
    if keras_path is not None:
        from triggerbench.models.artifact import load_keras

        model = load_keras(keras_path)
        out = np.concatenate(
            [np.asarray(model(inputs[i : i + 256], training=False)) for i in range(0, len(inputs), 256)]
        )
        return out, "keras-float32"
    import onnxruntime as ort

    from triggerbench.runners.onnxruntime import ort_message

    path = artifact.path("onnx")
    # A model whose batch is fixed takes batches of exactly that size: the last one is padded.
    step = artifact.fixed_batch or 256
    x = np.ascontiguousarray(inputs, dtype=np.dtype(artifact.input_dtype))
    outputs = []
    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        for start in range(0, len(x), step):
            chunk = x[start : start + step]
            n = len(chunk)
            if artifact.fixed_batch and n < step:
                chunk = np.concatenate([chunk, np.zeros((step - n, *chunk.shape[1:]), chunk.dtype)])
            outputs.append(np.asarray(session.run(None, {name: chunk})[0])[:n])
    except Exception as exc:
        raise UserInputError(f"ONNX Runtime cannot run {path.name}: {ort_message(exc)}") from None
    out = np.concatenate(outputs)
    # Compared in float: an integer output (a quantized model's) becomes its float values.
    return out.astype(np.float32, copy=False), "onnxruntime-cpu-float32"


def check_batches(artifact: ModelArtifact, batches: list[int]) -> None:
    """Refuse batch sizes other than the one a model fixes in its input (one line)."""
    fixed = artifact.fixed_batch
    other = [b for b in batches if b != fixed]
    if fixed is not None and other:
        raise UserInputError(
            f"--batch {','.join(map(str, other))}: model {artifact.name!r} has its batch fixed at "
            f"{fixed} in its input shape ({fixed}, {', '.join(map(str, artifact.input_shape))}); "
            f"use --batch {fixed}, or export the model with a dynamic batch axis"
        )


def input_values(artifact: ModelArtifact, settings: MeasureSettings, n: int) -> np.ndarray:
    """Seeded random inputs in the model's own input type and range.

    Integer inputs are uniform over ``settings.input_range`` (default: the type's whole range),
    float inputs uniform over it, or standard normal when no range is set.
    """
    dtype = np.dtype(artifact.input_dtype)
    rng = np.random.default_rng(settings.seed)
    shape = (n, *artifact.input_shape)
    lo_hi = settings.input_range
    if dtype == np.bool_:
        return rng.integers(0, 2, shape).astype(np.bool_)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        lo, hi = (info.min, info.max) if lo_hi is None else (int(np.ceil(lo_hi[0])), int(np.floor(lo_hi[1])))
        if lo < info.min or hi > info.max or lo > hi:
            raise UserInputError(
                f"input_range {lo_hi[0]:g},{lo_hi[1]:g} holds no {dtype.name} values or leaves its "  # type: ignore[index]
                f"range {info.min},{info.max} (the model's input type)"
            )
        return rng.integers(lo, hi, shape, dtype=dtype, endpoint=True)
    if lo_hi is None:
        return rng.standard_normal(shape).astype(dtype)
    return rng.uniform(lo_hi[0], lo_hi[1], shape).astype(dtype)


def read_inputs_file(data_path: Path) -> np.ndarray:
    """Read a ``--data`` file: one numeric ``.npy`` array, memory-mapped (checked up front)."""
    data_path = Path(data_path)
    if not data_path.is_file():
        raise UserInputError(f"data file not found: {data_path}")
    try:
        data = np.load(data_path, mmap_mode="r", allow_pickle=False)
    except Exception as exc:  # numpy raises ValueError, OSError, EOFError, UnpicklingError...
        raise UserInputError(f"cannot read {data_path} as a .npy array: {one_line(exc)}") from None
    if isinstance(data, np.lib.npyio.NpzFile):
        names = ", ".join(data.files) or "none"
        data.close()
        raise UserInputError(
            f"{data_path} is an .npz archive (arrays: {names}); give one array as .npy: "
            "np.save('inputs.npy', archive['NAME'])"
        )
    if not (np.issubdtype(data.dtype, np.number) or data.dtype == np.bool_):
        raise UserInputError(f"{data_path} holds {data.dtype} values; inputs must be numbers")
    if data.ndim < 2 or len(data) == 0:
        raise UserInputError(f"{data_path} has shape {data.shape}; give (N, *input_shape) with N >= 1")
    return data


def _load_inputs(data_path: Path, input_shape: tuple[int, ...], n: int, dtype: str = "float32") -> np.ndarray:
    """The first ``n`` samples of ``--data``, in the model's input type ``dtype``.

    Values an integer input cannot hold exactly (fractions, or beyond the type's range) are
    refused rather than wrapped or truncated.
    """
    data = read_inputs_file(data_path)
    if tuple(data.shape[1:]) != tuple(input_shape):
        raise UserInputError(
            f"data shape {tuple(data.shape)} does not fit the model's input "
            f"(N, {', '.join(map(str, input_shape))})"
        )
    x = np.asarray(data[:n])
    want = np.dtype(dtype)
    if np.issubdtype(want, np.integer) and x.dtype != want:
        info = np.iinfo(want)
        if x.size and (not np.array_equal(x, np.round(x)) or x.min() < info.min or x.max() > info.max):
            raise UserInputError(
                f"{data_path} holds {x.dtype} values from {x.min():g} to {x.max():g}; the model's "
                f"input is {want.name} (whole numbers {info.min} to {info.max})"
            )
    return np.ascontiguousarray(x, dtype=want)


def build_context(
    settings: MeasureSettings,
    workload: str | None = None,
    model_path: Path | None = None,
    data_path: Path | None = None,
) -> Context:
    """Resolve the model (a named workload or a user's file) and its validation data."""
    n = settings.accuracy_samples
    if (workload is None) == (model_path is None):
        raise UserInputError("give exactly one of --workload NAME or --model PATH")
    if workload is not None:
        w = workloads.get(workload)
        artifact = w.artifact()
        inputs, labels = w.validation(n, workloads.VALIDATION_SEED)
        if data_path is not None:
            inputs, labels = _load_inputs(data_path, artifact.input_shape, n, artifact.input_dtype), None
        meta = dict(workload_name=w.name, task=w.task, model_name=w.model_name, variant=w.variant)
        float_keras = w.float_reference() if w.float_reference else None
    else:
        artifact = from_path(Path(model_path))
        if data_path is not None:
            inputs = _load_inputs(Path(data_path), artifact.input_shape, n, artifact.input_dtype)
        else:
            inputs = input_values(artifact, settings, n)
        labels, float_keras = None, None
        meta = dict(workload_name=artifact.name, task="user-model", model_name=artifact.name, variant=None)
    inputs = np.ascontiguousarray(inputs, dtype=np.dtype(artifact.input_dtype))
    reference, reference_name = _reference_outputs(artifact, inputs, float_keras)
    return Context(
        artifact=artifact,
        inputs=inputs,
        labels=labels,
        reference=reference,
        reference_name=reference_name,
        **meta,
    )
