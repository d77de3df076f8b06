"""The one scenario table: names, harnesses, and the harness a record names."""

from __future__ import annotations

import pytest

from triggerbench import scenarios
from triggerbench.errors import UserInputError
from triggerbench.schema import ScenarioInfo


def test_every_runnable_scenario_is_a_record_scenario_and_the_report_one_is_not_runnable() -> None:
    assert set(scenarios.RUNNABLE) < set(scenarios.NAMES)
    assert "firmware-report" in scenarios.NAMES and "firmware-report" not in scenarios.RUNNABLE
    for name in scenarios.NAMES:
        for harness in scenarios.SCENARIOS[name].harnesses:
            ScenarioInfo(name=name, harness=harness)  # the schema takes every pair the table names


def test_an_unknown_scenario_is_refused_with_the_table() -> None:
    with pytest.raises(UserInputError) as err:
        scenarios.get("burst")
    message = str(err.value)
    assert "\n" not in message
    for name in scenarios.RUNNABLE:
        assert f"{name} (" in message
    with pytest.raises(UserInputError, match="unknown scenario 'firmware-report'"):
        scenarios.get("firmware-report")  # read from reports by `ingest`, never run


@pytest.mark.parametrize(
    ("name", "requested", "emulator", "latency_s", "harness"),
    [
        ("single-stream", "auto", False, 1e-5, "tight-loop"),
        ("single-stream", "auto", False, 5e-3, "loadgen"),
        ("single-stream", "auto", True, 5e-3, "tight-loop"),  # an emulator: no LoadGen verdict
        ("single-stream", "auto", False, None, None),  # not measured: only a latency decides
        ("single-stream", "loadgen", True, None, "loadgen"),
        ("offline", "tight-loop", False, 1e-5, "loadgen"),  # one harness: --harness is single-stream's
        ("trigger", "auto", False, None, "trigger-stream"),
    ],
)
def test_harness_for(name, requested, emulator, latency_s, harness) -> None:
    assert scenarios.harness_for(name, requested, emulator=emulator, latency_s=latency_s) == harness


def test_queued_scenarios_are_the_throughput_ones() -> None:
    assert [n for n in scenarios.NAMES if scenarios.queued(n)] == ["server", "offline"]
    assert not scenarios.queued(None) and not scenarios.queued("nope")


def test_harness_choices() -> None:
    assert scenarios.check_harness("loadgen") == "loadgen"
    with pytest.raises(UserInputError, match="use auto, tight-loop, loadgen"):
        scenarios.check_harness("report")
