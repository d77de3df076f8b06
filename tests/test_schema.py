import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from triggerbench.schema import (
    SCHEMA_VERSION,
    BenchmarkRecord,
    ErrorInfo,
    FpgaFigures,
    IdleBaseline,
    PerformanceFigures,
    PowerFigures,
    json_schema,
)

COMMITTED = Path(__file__).parents[1] / "src" / "triggerbench" / "record.schema.json"


def test_committed_json_schema_is_in_sync():
    # Regenerate with: triggerbench schema > src/triggerbench/record.schema.json
    assert json.loads(COMMITTED.read_text()) == json_schema()


def test_null_figure_needs_a_reason():
    with pytest.raises(ValidationError, match="null without a reason: .*latency_p99_s"):
        PerformanceFigures(throughput_samples_per_s=1.0)
    reasons = {f: "offline" for f in PerformanceFigures.model_fields if f != "null_reasons"}
    reasons.pop("throughput_samples_per_s")
    figures = PerformanceFigures(throughput_samples_per_s=1.0, null_reasons=reasons)
    assert figures.latency_p99_s is None and figures.null_reasons == reasons


def test_power_without_meter_says_why():
    with pytest.raises(ValidationError):
        PowerFigures(source="unavailable")
    assert BenchmarkRecord.model_fields["power"].default.null_reasons["power_mean_w"]


def _minimal(**overrides):
    base = dict(
        status="failed",
        error=ErrorInfo(type="X", message="boom"),
        workload=dict(
            name="w",
            task="t",
            model_name="m",
            source_format="keras",
            source_sha256="ab",
            input_shape=[9, 16, 1],
            output_shape=[2],
        ),
        runner=dict(name="r", backend="b", batch_size=1),
        scenario=dict(name="single-stream", harness="tight-loop"),
        environment=dict(hostname="h", platform="p", python_version="3.11", triggerbench_version="0"),
    )
    base.update(overrides)
    return base


def test_failed_record_must_say_why_and_ok_must_have_figures():
    assert BenchmarkRecord(**_minimal()).schema_version == SCHEMA_VERSION
    with pytest.raises(ValidationError, match="must say why"):
        BenchmarkRecord(**_minimal(error=None))
    with pytest.raises(ValidationError, match="performance, trigger, fpga or profile"):
        BenchmarkRecord(**_minimal(status="ok", error=None))


def test_fpga_only_record_is_ok_and_unmeasured_figures_carry_the_reason():
    figures = FpgaFigures.with_reason("hls-csynth", "not in the report", latency_cycles=10, lut=2532)
    assert figures.null_reasons["dsp"] == "not in the report"
    assert "latency_cycles" not in figures.null_reasons
    record = BenchmarkRecord(**_minimal(status="ok", error=None, fpga=[figures]))
    assert record.fpga[0].lut == 2532
    with pytest.raises(ValidationError, match="null without a reason: method"):
        FpgaFigures(source="estimate")


def test_record_is_frozen_and_round_trips():
    record = BenchmarkRecord(**_minimal())
    with pytest.raises(ValidationError):
        record.status = "ok"
    assert BenchmarkRecord.model_validate_json(record.model_dump_json()) == record


def test_nominal_power_sits_beside_the_measured_one_and_round_trips():
    nominal = PowerFigures(
        source="nominal-tdp",
        power_mean_w=135.0,
        energy_per_inference_j=135.0 / 350,
        scope="nominal TDP of Intel Xeon E5-2698 v3 (135 W), not measured",
        null_reasons=dict.fromkeys(
            ("energy_j", "window_s", "idle"),
            "a nominal TDP is a rating, not an energy counted over the window",
        ),
    )
    record = BenchmarkRecord(**_minimal(power_nominal=nominal))
    assert record.power.source == "unavailable" and record.power_nominal.power_mean_w == 135.0
    assert BenchmarkRecord.model_validate_json(record.model_dump_json()) == record
    assert BenchmarkRecord(**_minimal()).power_nominal is None
    with pytest.raises(ValidationError, match="null without a reason: energy_j"):
        PowerFigures(source="nominal-tdp", power_mean_w=135.0, energy_per_inference_j=0.4, scope="TDP")


def test_unknown_fields_are_refused():
    with pytest.raises(ValidationError, match="Extra inputs"):
        BenchmarkRecord(**_minimal(latency_p99=1.0))


def test_every_figure_name_carries_a_unit():
    units = (
        "_s",
        "_hz",
        "_w",
        "_j",
        "_bytes",
        "_frac",
        "_per_s",
        "_events",
        "_count",
        "_cycles",
        "_ns",
        "_rel_stdev",
        "_diff",
    )
    figures = [*PerformanceFigures.model_fields, *PowerFigures.model_fields, *IdleBaseline.model_fields]
    unitless = {
        "null_reasons",
        "source",
        "scope",
        "n_queries",
        "n_samples",
        "n_warmup",
        "repeat_throughput_rel_stdev",
        "emulated",
        "idle",  # a section; its own figures are checked
        "notes",
    }
    for name in figures:
        assert name in unitless or name.endswith(units), name


def test_profile_record_is_an_ok_record_kind_and_its_nulls_say_why():
    from triggerbench.schema import LayerProfile, NumericalProfile, ProfileFigures

    rows = [
        LayerProfile(layer="conv1", backend_names=["conv1_Conv"], time_s=2e-6, share=0.8, n_calls=100),
        LayerProfile(layer="Softmax_7", mapped=False, time_s=5e-7, share=0.2, n_calls=100),
    ]
    with pytest.raises(ValidationError, match="null without a reason: .*whole_call_s"):
        ProfileFigures(source="onnxruntime session profiling", unit="s", layers=rows, total_s=2.5e-6)
    reasons = {
        "total_cycles": "timed in seconds",
        "whole_call_s": "x",
        "profiled_call_s": "x",
        "n_calls": "x",
    }
    figures = ProfileFigures(
        source="onnxruntime session profiling", unit="s", layers=rows, total_s=2.5e-6, null_reasons=reasons
    )
    record = BenchmarkRecord(
        **_minimal(
            status="ok", error=None, scenario=dict(name="profile", harness="profiler"), profile=figures
        )
    )
    assert BenchmarkRecord.model_validate_json(record.model_dump_json()) == record
    with pytest.raises(ValidationError):
        LayerProfile(layer="conv1", share=1.5)
    overflow = NumericalProfile(
        layer="dense", tensor="activation", n_values=10, overflow_count=3, verdict="overflows"
    )
    assert overflow.overflow_fraction is None and overflow.verdict == "overflows"
