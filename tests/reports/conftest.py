"""A small, realistic results set for the report tests: CPU runners, firmware, power, failures."""

from __future__ import annotations

import numpy as np
import pytest
from records import PERF_OK, make_record, power_figures

from triggerbench.models.metrics import l0_metrics
from triggerbench.schema import BenchmarkRecord, FpgaFigures

HOST = "node-7"


def l0_task_metrics(spread: float, n: int = 4000, seed: int = 1) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    pt = rng.uniform(3.0, 30.0, n)
    labels = np.stack([pt, np.zeros(n), np.ones(n), np.ones(n)], axis=1)
    outputs = np.stack([pt * (1 + spread * rng.standard_normal(n)), np.zeros(n)], axis=1)
    return l0_metrics(labels, outputs)


def workload(name: str, variant: str, size: int | None = 400_000) -> dict:
    return dict(
        name=name,
        task="muon-l0-pt-eta-regression",
        model_name="l0",
        variant=variant,
        source_format="keras",
        artifact_format="onnx",
        source_sha256="ab" * 32,
        artifact_size_bytes=size,
        input_shape=[9, 16, 1],
        output_shape=[2],
    )


def env() -> dict:
    return dict(
        hostname=HOST,
        platform="Linux",
        python_version="3.11.7",
        cpu_model="Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz",
        triggerbench_version="0.1.0",
        git_commit="0123456789abcdef",
        packages={"onnxruntime": "1.32.0"},
    )


def record(name, variant, runner, batch=1, throughput=1000.0, p99=2e-3, power=None, metrics=None, **kw):
    perf = {**PERF_OK, "throughput_samples_per_s": throughput, "latency_p99_s": p99, "latency_p50_s": p99 / 2}
    fields = dict(
        workload=workload(name, variant),
        runner=dict(name=runner, backend=runner, batch_size=batch, precision="f32", device="CPU"),
        scenario=dict(name="single-stream", harness="tight-loop", settings={"min_duration_s": 0.3}),
        performance=perf,
        environment=env(),
        accuracy=dict(
            reference="keras-float32",
            n_samples=512,
            max_abs_diff=0.0,
            mean_abs_diff=0.0,
            task_metrics=metrics or {},
        ),
    )
    if power is not None:
        fields["power"] = power
    fields.update(kw)
    return BenchmarkRecord(status="ok", **fields)


def rtl_figures(bits: int) -> list[FpgaFigures]:
    return [
        FpgaFigures.with_reason(
            "rtl-testbench",
            "not measured in the testbench",
            method="clock edges counted",
            part="xcvu13p-fhga2104-2L-e",
            clock_period_ns=5.0,
            latency_cycles=bits + 2,
            latency_s=(bits + 2) * 5e-9,
            interval_cycles=1,
        ),
        FpgaFigures.with_reason(
            "open-synthesis",
            "Yosys does not report it",
            part="xcvu13p-fhga2104-2L-e",
            lut=5000 * bits,
            ff=1000 * bits,
            dsp=0,
            lut_available=1_728_000,
            ff_available=3_456_000,
            dsp_available=12_288,
        ),
    ]


@pytest.fixture()
def report_records():
    teacher = l0_task_metrics(0.1)
    rapl = power_figures("measured-rapl", 50.0, 0.05, "package 0", "no baseline", energy_j=5.0, window_s=0.1)
    nominal = power_figures("nominal-tdp", 250.0, 0.025, "TDP", "a rating", energy_j=25.0)
    records = [
        record("muon-l0-teacher", "teacher", "keras", 1, 2_000.0, 1e-3, metrics=teacher),
        record("muon-l0-teacher", "teacher", "keras", 64, 20_000.0, 8e-3, metrics=teacher),
        record("muon-l0-teacher", "teacher", "onnxruntime", 1, 30_000.0, 60e-6, rapl, teacher),
        record("muon-l0-teacher", "teacher", "onnxruntime", 64, 61_000.0, 2e-3, rapl, teacher),
        record("muon-l0-teacher", "teacher", "gpu-runner", 64, 400_000.0, 1e-3, nominal, teacher),
        record(
            "muon-l0-teacher",
            "teacher",
            "hls4ml",
            1,
            20.0,
            0.05,
            performance={**PERF_OK, "emulated": True},
            fpga=[
                FpgaFigures.with_reason(
                    "estimate",
                    "not modelled by the multiplication-count estimate",
                    method="analytic",
                    part="xcu50-fsvh2104-2-e",
                    clock_period_ns=5.0,
                    latency_cycles=460,
                    latency_s=2.3e-6,
                    dsp=326_472,
                    dsp_available=5_952,
                )
            ],
        ),
        make_record(
            "openvino",
            status="failed",
            workload=workload("muon-l0-teacher", "teacher"),
            environment=env(),
            error=dict(type="RuntimeError", message="device lost\nsecond line"),
        ),
    ]
    for bits, spread in ((2, 0.4), (4, 0.3), (8, 0.25)):
        name = f"muon-l0-qstudent-{bits}bit"
        variant = f"qstudent-{bits}bit-kd"
        metrics = l0_task_metrics(spread, seed=bits)
        records += [
            record(name, variant, "keras", 1, 5_000.0, 300e-6, metrics=metrics),
            record(
                name,
                variant,
                "rtl",
                1,
                900.0,
                2e-3,
                metrics=metrics,
                performance={**PERF_OK, "emulated": True},
                fpga=rtl_figures(bits),
            ),
        ]
    records.append(
        record("muon-l0-student-kd", "student-kd", "keras", 1, 6_000.0, 250e-6, metrics=l0_task_metrics(0.2))
    )
    return records
