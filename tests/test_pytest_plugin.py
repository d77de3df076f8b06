"""The pytest summary's row per benchmark: tails, verdict, accuracy and energy with its source."""

from records import make_record

from triggerbench.pytest_plugin import _row
from triggerbench.schema import PowerFigures

MEASURED = PowerFigures(
    source="measured-rapl", power_mean_w=20.0, energy_j=2.0, energy_per_inference_j=2e-3, scope="package 0"
)
NOMINAL = PowerFigures(
    source="nominal-tdp",
    power_mean_w=135.0,
    energy_per_inference_j=0.135,
    scope="nominal TDP of Intel Xeon E5-2698 v3 (135 W), not measured",
    null_reasons={"energy_j": "a rating"},
)
UNAVAILABLE = PowerFigures(
    source="unavailable",
    null_reasons=dict.fromkeys(("power_mean_w", "energy_j", "energy_per_inference_j", "scope"), "no meter"),
)


def energy_cells(record) -> list[str]:
    return _row("b", record)[-4:]


def test_a_measured_figure_is_shown_with_its_source_even_beside_a_nominal_one():
    record = make_record(power=MEASURED.model_dump(), power_nominal=NOMINAL.model_dump())
    assert energy_cells(record) == ["20 W", "2 mJ", "500", "measured-rapl"]


def test_without_a_meter_the_nominal_tdp_is_shown_and_says_nominal():
    record = make_record(power=UNAVAILABLE.model_dump(), power_nominal=NOMINAL.model_dump())
    assert energy_cells(record) == ["135 W", "135 mJ", "7.41", "nominal-tdp"]


def test_neither_gives_dashes_and_the_reason_s_source():
    record = make_record(power=UNAVAILABLE.model_dump())
    assert energy_cells(record) == ["—", "—", "—", "unavailable"]
