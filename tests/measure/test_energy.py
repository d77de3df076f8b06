"""The power section: idle baseline, a lengthened window, and every way a meter can fail."""

import time

import pytest
from doubles import nvml

from triggerbench.measure.energy import EnergyReading
from triggerbench.power import EmptyMeasurementError, gpu_meter
from triggerbench.power.base import EnergyWindow, PowerMeter


class StepMeter(PowerMeter):
    """A counter that draws ``power_w`` (``idle_w`` when no query runs) and updates in steps."""

    source = "measured-nvml"
    scope = "a test GPU"

    def __init__(self, min_window_s=0.0, step_s=0.0, fail_on_stop=None):
        self.min_window_s = min_window_s
        self.step_s = step_s
        self.fail_on_stop = fail_on_stop
        self.windows = 0
        self.closed = False
        self.busy = False

    @classmethod
    def available(cls):
        return True, "test"

    def start(self):
        self._t0 = time.perf_counter()

    def stop(self):
        if self.fail_on_stop:
            raise self.fail_on_stop
        self.windows += 1
        t = time.perf_counter() - self._t0
        counted = (t // self.step_s) * self.step_s if self.step_s else t
        watts = 200.0 if self.busy else 50.0
        return EnergyWindow(energy_j=watts * counted, duration_s=t, by_domain_j={"gpu-0": watts * counted})

    def close(self):
        self.closed = True


def run(reading, meter, seconds=0.05):
    with reading:
        meter.busy = True
        time.sleep(seconds)
    meter.busy = False


def test_power_is_the_windows_mean_and_per_inference_is_power_over_throughput():
    meter = StepMeter()
    reading = EnergyReading(meter, "", idle_baseline_s=0.05)
    run(reading, meter)
    power = reading.figures(lambda: None, 1, throughput_samples_per_s=1000.0)
    assert power.source == "measured-nvml" and power.scope == "a test GPU"
    assert power.power_mean_w == pytest.approx(200.0)
    assert power.energy_per_inference_j == pytest.approx(0.2)
    assert power.energy_by_domain_j == {"gpu-0": pytest.approx(power.energy_j)}
    assert power.window_s == pytest.approx(power.energy_j / 200.0)
    # idle: 50 W read before the window; above it, 150 W of the 200
    assert power.idle.power_w == pytest.approx(50.0)
    assert power.idle.energy_per_inference_above_idle_j == pytest.approx(0.15)
    assert power.idle.energy_above_idle_j == pytest.approx(power.energy_j - 50.0 * power.window_s)
    assert meter.closed and power.notes == []


def test_no_idle_baseline_when_it_is_switched_off():
    meter = StepMeter()
    reading = EnergyReading(meter, "", idle_baseline_s=0.0)
    run(reading, meter)
    power = reading.figures(lambda: None, 1, 1000.0)
    assert power.idle is None and "idle_baseline_s" in power.null_reasons["idle"]
    assert meter.windows == 1


def test_a_window_shorter_than_the_meter_resolves_is_lengthened_and_says_so():
    meter = StepMeter(min_window_s=0.1, step_s=0.08)
    calls = []

    def query():
        meter.busy = True
        calls.append(1)
        time.sleep(0.001)

    reading = EnergyReading(meter, "")
    run(reading, meter, seconds=0.01)  # 0.01 s: the 80 ms counter has not stepped yet
    power = reading.figures(query, batch_size=4, throughput_samples_per_s=1e9)
    assert calls, "the lengthened window ran queries"
    assert power.window_s >= 0.2 and power.power_mean_w > 0
    # per inference from the lengthened window's own count, not the scenario's throughput
    inferences = 4 * len(calls)
    assert power.energy_per_inference_j == pytest.approx(power.energy_j / inferences, rel=1e-6)
    assert "shorter than the measured-nvml meter resolves (0.1 s)" in power.notes[0]
    assert "separate" in power.notes[0]


def test_zero_energy_even_over_the_lengthened_window_is_null_with_the_reason():
    meter = StepMeter(min_window_s=0.05, step_s=10.0)
    reading = EnergyReading(meter, "")
    run(reading, meter, seconds=0.0)
    power = reading.figures(lambda: None, 1, 100.0)
    assert power.source == "measured-nvml" and power.energy_j is None and power.power_mean_w is None
    assert power.null_reasons["energy_j"].startswith("the meter counted zero energy over a ")


@pytest.mark.parametrize(
    "error",
    [RuntimeError("xbutil stopped answering"), EmptyMeasurementError("Zeus measured no energy domain")],
)
def test_a_meter_that_fails_or_measures_nothing_leaves_power_unavailable_with_why(error):
    meter = StepMeter(fail_on_stop=error)
    reading = EnergyReading(meter, "")
    run(reading, meter)
    power = reading.figures(lambda: None, 1, 100.0)
    assert power.source == "unavailable" and power.energy_j is None
    assert power.null_reasons["power_mean_w"] == f"measured-nvml meter failed: {error}"
    assert meter.closed


def test_no_meter_is_unavailable_with_the_meters_reason():
    reading = EnergyReading(None, "no RAPL under /sys/class/powercap", idle_baseline_s=5.0)
    t0 = time.perf_counter()
    run(reading, StepMeter(), seconds=0.0)
    assert time.perf_counter() - t0 < 2.0  # no idle baseline without a meter
    power = reading.figures(lambda: None, 1, 100.0)
    assert power.source == "unavailable"
    assert set(power.null_reasons.values()) == {"no RAPL under /sys/class/powercap"}


def test_a_failing_scenario_still_stops_and_closes_the_meter():
    meter = StepMeter()
    with pytest.raises(ValueError), EnergyReading(meter, ""):
        raise ValueError("device lost")
    assert meter.windows == 1 and meter.closed


def test_nvml_through_zeus_end_to_end_with_baseline_and_lengthening(monkeypatch):
    (gpu,) = nvml.install(monkeypatch, [nvml.FakeGpu(power_w=60.0, update_period_s=0.05)])
    meter, _ = gpu_meter(0)
    monkeypatch.setattr(meter, "min_window_s", 0.2)

    def query():
        gpu.power_w = 300.0
        time.sleep(0.002)

    reading = EnergyReading(meter, "", idle_baseline_s=0.2)
    with reading:
        query()  # a scenario far shorter than the counter resolves
    power = reading.figures(query, 1, throughput_samples_per_s=500.0)
    assert power.source == "measured-nvml" and power.notes
    assert power.idle.power_w == pytest.approx(60.0, rel=0.35)
    assert power.power_mean_w == pytest.approx(300.0, rel=0.35)
    assert power.energy_by_domain_j.keys() == {"gpu-0"}
