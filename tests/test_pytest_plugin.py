"""The pytest summary's row per benchmark: tails, verdict, accuracy and energy with its source."""

from records import make_record, power_figures

from triggerbench.pytest_plugin import _row
from triggerbench.schema import PowerFigures

MEASURED = PowerFigures(
    **power_figures("measured-rapl", 20.0, 2e-3, "package 0", "not measured", energy_j=2.0, window_s=0.1)
)
NOMINAL = PowerFigures(
    **power_figures(
        "nominal-tdp", 135.0, 0.135, "nominal TDP of Intel Xeon E5-2698 v3 (135 W), not measured", "a rating"
    )
)
UNAVAILABLE = PowerFigures.unavailable("no meter")


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


class _Reporter:
    def __init__(self):
        self.lines = []

    def section(self, title):
        self.lines.append(f"== {title}")

    def write_line(self, line):
        self.lines.append(line)


def _summary(records, notes=()):
    import pytest

    from triggerbench.pytest_plugin import _SESSION_KEY, TriggerbenchSession, pytest_terminal_summary

    config = type("Config", (), {"stash": pytest.Stash()})()
    config.stash[_SESSION_KEY] = TriggerbenchSession(
        quick=True, out_dir=None, records=list(records), extra_rows=list(notes)
    )
    reporter = _Reporter()
    pytest_terminal_summary(reporter, 0, config)
    return reporter.lines


def test_summary_says_once_what_each_power_figure_covers():
    measured = make_record(power=MEASURED.model_dump(), power_nominal=NOMINAL.model_dump())
    nominal = make_record(power=UNAVAILABLE.model_dump(), power_nominal=NOMINAL.model_dump())
    lines = _summary([("a", measured), ("b", measured), ("c", nominal)])
    assert lines.count("power scope (measured-rapl): package 0") == 1
    assert "power scope (nominal-tdp): nominal TDP of Intel Xeon E5-2698 v3 (135 W), not measured" in lines


def test_summary_with_only_side_by_side_notes_has_no_empty_table():
    lines = _summary([], notes=[("ratio", "1.5x")])
    assert lines == ["== triggerbench: side-by-side ratios", "ratio: 1.5x"]
