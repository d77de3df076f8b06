"""The accuracy pass: run the validation set through a runner and compare with the reference."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from triggerbench.runners.base import Runner
from triggerbench.schema import AccuracyFigures


def run_batches(runner: Runner, inputs: np.ndarray, batch_size: int) -> np.ndarray:
    """Outputs of ``runner`` for every sample, fed in full batches (the last one zero-padded)."""
    outputs = []
    for start in range(0, len(inputs), batch_size):
        chunk = inputs[start : start + batch_size]
        n = len(chunk)
        if n < batch_size:  # runners are prepared for a fixed batch
            pad = np.zeros((batch_size - n, *chunk.shape[1:]), chunk.dtype)
            chunk = np.concatenate([chunk, pad])
        # np.asarray: a device-only runner returns outputs still on the device (the copy is here)
        out = np.asarray(runner.infer(runner.stage(chunk)))
        outputs.append(np.array(out[:n], copy=True))  # the runner may reuse its buffer
    return np.concatenate(outputs)


def accuracy_pass(
    runner: Runner,
    batch_size: int,
    inputs: np.ndarray,
    reference: np.ndarray,
    reference_name: str,
    labels: np.ndarray | None,
    task_metrics: Callable[[np.ndarray, np.ndarray], dict[str, float]] | None,
    agreement: Callable[[np.ndarray, np.ndarray], dict[str, float]] | None = None,
) -> AccuracyFigures:
    """Agreement with the float reference, plus the workload's task metrics on its labels."""
    outputs = run_batches(runner, inputs, batch_size).reshape(reference.shape)
    diff = np.abs(outputs.astype(np.float64) - reference.astype(np.float64))
    metrics: dict[str, float] = {}
    null_reasons: dict[str, str] = {}
    if task_metrics is not None and labels is not None:
        metrics = task_metrics(labels, outputs)
    if agreement is not None:  # decisions vs the float reference's (e.g. L0 pT > 10 GeV)
        metrics.update(agreement(reference, outputs))
    return AccuracyFigures(
        reference=reference_name,
        n_samples=int(len(inputs)),
        max_abs_diff=float(diff.max()),
        mean_abs_diff=float(diff.mean()),
        task_metrics=metrics,
        null_reasons=null_reasons,
    )
