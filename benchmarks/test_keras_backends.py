"""Keras on JAX against Keras on TensorFlow (both XLA-compiled) on this CPU, side by side.

Keras fixes its backend when first imported, so the two cannot share a process: each side is
measured by ``run_isolated`` in its own child (``KERAS_BACKEND`` set from ``-O backend``), on
the same saved context, one right after the other (A B, and B A again in full mode, so drift
on a shared host hits both). No speed goal is stated: the ratio is noted, and only that both
ran and agree with the reference is asserted.
"""

from __future__ import annotations

import numpy as np
import pytest

from triggerbench.measure.isolate import run_isolated
from triggerbench.measure.job import Job

WORKLOADS = ["muon-l0-teacher", "llp-vgg"]
BACKENDS = ("tensorflow", "jax")
#: Agreement with the float reference (Keras on TensorFlow, uncompiled).
MAX_ABS_DIFF = 1e-4


def _measure(triggerbench, ctx, ctx_dir, backend: str, batch_size: int):
    job = Job(
        runner="keras",
        batch_size=batch_size,
        runner_options={"backend": backend},
        settings=triggerbench.settings,
        out_dir=ctx_dir.parent / "records",
        timeout_s=600,
    )
    record = run_isolated(ctx, ctx_dir, job)
    assert record.status == "ok", (
        f"{backend}: {record.error.type}: {record.error.message}\n{record.error.stderr}"
    )
    assert record.runner.backend == backend
    assert record.accuracy.max_abs_diff < MAX_ABS_DIFF, f"{backend} disagrees with the reference"
    return record


@pytest.mark.parametrize("batch_size", [1, 256])
# "model", not "workload": conftest.py parametrizes every "workload" with its own list.
@pytest.mark.parametrize("model", WORKLOADS)
def test_keras_jax_vs_tensorflow(benchmark, triggerbench, tmp_path, model, batch_size):
    ctx = triggerbench.context(model)
    ctx_dir = ctx.save(tmp_path / "context")
    order = [*BACKENDS] if triggerbench.quick else [*BACKENDS, *reversed(BACKENDS)]
    records: dict[str, list] = {b: [] for b in BACKENDS}
    for backend in order:
        records[backend].append(_measure(triggerbench, ctx, ctx_dir, backend, batch_size))
    # The median latency is the steady-state cost per call; throughput follows the same runs.
    p50_s = {b: float(np.median([r.performance.latency_p50_s for r in rs])) for b, rs in records.items()}
    qps = {
        b: float(np.median([r.performance.throughput_samples_per_s for r in rs])) for b, rs in records.items()
    }
    diff = {b: max(r.accuracy.max_abs_diff for r in rs) for b, rs in records.items()}
    ratio = qps["jax"] / qps["tensorflow"]
    benchmark.extra_info.update(
        jax_over_tensorflow=ratio,
        **{f"{b}_throughput_samples_per_s": qps[b] for b in BACKENDS},
        **{f"{b}_latency_p50_s": p50_s[b] for b in BACKENDS},
        **{f"{b}_max_abs_diff": diff[b] for b in BACKENDS},
    )
    benchmark.extra_info["record"] = records["jax"][-1].model_dump(mode="json")
    for backend in BACKENDS:  # their tails and verdicts go in the session's summary table
        triggerbench.records.append((f"{benchmark.name} {backend}", records[backend][-1]))
    benchmark.pedantic(lambda: None, rounds=1)  # the figures are the children's, not this call's
    triggerbench.note(
        f"keras jax/tensorflow {model} b{batch_size}",
        f"{ratio:.3f}x throughput (jax {qps['jax']:.4g}/s p50 {p50_s['jax'] * 1e6:.1f} us; "
        f"tensorflow {qps['tensorflow']:.4g}/s p50 {p50_s['tensorflow'] * 1e6:.1f} us; "
        f"max|diff| jax {diff['jax']:.2g}, tf {diff['tensorflow']:.2g})",
    )
