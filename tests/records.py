"""Build small valid records for tests of the store and reports."""

from __future__ import annotations

from triggerbench.schema import BenchmarkRecord

PERF_OK = dict(
    throughput_samples_per_s=1000.0,
    throughput_queries_per_s=1000.0,
    latency_p50_s=1e-3,
    latency_p90_s=1.1e-3,
    latency_p99_s=2e-3,
    latency_p999_s=3e-3,
    latency_max_s=4e-3,
    latency_mean_s=1.05e-3,
    latency_stdev_s=1e-4,
    n_queries=1000,
    n_samples=1000,
    n_warmup=5,
    duration_s=1.0,
    harness_overhead_per_query_s=1e-7,
    repeat_throughput_rel_stdev=0.01,
)


def make_record(runner: str = "onnxruntime", status: str = "ok", **overrides) -> BenchmarkRecord:
    fields = dict(
        status=status,
        workload=dict(
            name="standin-cnn",
            task="t",
            model_name="m",
            source_format="keras",
            source_sha256="ab" * 32,
            input_shape=[9, 16, 1],
            output_shape=[2],
        ),
        runner=dict(name=runner, backend=runner, batch_size=1, precision="f32"),
        scenario=dict(name="single-stream", harness="tight-loop"),
        environment=dict(hostname="h", platform="p", python_version="3.11", triggerbench_version="0"),
    )
    if status == "ok":
        fields.update(
            performance=PERF_OK,
            accuracy=dict(reference="keras-float32", n_samples=64, max_abs_diff=1e-7, mean_abs_diff=1e-8),
        )
    else:
        fields["error"] = dict(type="RuntimeError", message="device lost")
    fields.update(overrides)
    return BenchmarkRecord(**fields)


def perf_few_queries(n_queries: int = 64, **overrides) -> dict:
    """``PERF_OK`` measured on ``n_queries``: its tail percentiles nulled as the percentile rule does."""
    from triggerbench.measure.stats import PERCENTILE_FIELDS, percentile_null_reason

    perf = {**PERF_OK, "n_queries": n_queries, "n_samples": n_queries}
    reasons = {}
    for percentile, name in PERCENTILE_FIELDS.items():
        reason = percentile_null_reason(percentile, n_queries)
        if reason is not None:
            perf[name] = None
            reasons[name] = reason
    return {**perf, "null_reasons": reasons, **overrides}


def power_figures(
    source: str, power_mean_w: float, energy_per_inference_j: float, scope: str, reason: str, **figures: float
) -> dict:
    """A ``power`` section: ``idle``, and ``energy_j`` / ``window_s`` unless given, null for ``reason``."""
    nulls = [name for name in ("energy_j", "window_s") if name not in figures] + ["idle"]
    return dict(
        source=source,
        power_mean_w=power_mean_w,
        energy_per_inference_j=energy_per_inference_j,
        scope=scope,
        **figures,
        null_reasons=dict.fromkeys(nulls, reason),
    )
