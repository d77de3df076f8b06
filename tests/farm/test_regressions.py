"""Regression detection on synthetic nightly histories: lasting steps found, noise not."""

from __future__ import annotations

import numpy as np
import pytest
from history_nights import commit_of, write_night, write_series

from triggerbench.errors import UserInputError
from triggerbench.farm.history import load_history
from triggerbench.farm.regressions import change_points, find_regressions, parse_threshold, thresholds


def noisy(n_nights: int, noise_frac: float, seed: int, level: float = 1000.0) -> np.ndarray:
    return level * np.random.default_rng(seed).lognormal(0.0, noise_frac, n_nights)


def regressions_of(tmp_path, throughputs=None, latencies=None, **kwargs):
    n = len(throughputs if throughputs is not None else latencies)
    for i in range(n):
        figures = {}
        if throughputs is not None:
            figures["throughput"] = float(throughputs[i])
        if latencies is not None:
            figures["latency_p99_s"] = float(latencies[i])
        write_night(tmp_path, i, **figures)
    return find_regressions(load_history(tmp_path), **kwargs)


def test_a_lasting_20_percent_throughput_step_is_found_at_its_night_and_commit(tmp_path):
    values = noisy(40, 0.02, seed=1)
    values[25:] *= 0.8
    [r] = regressions_of(tmp_path, values)
    assert r.figure.name == "throughput"
    assert r.night.commit == commit_of(25) and r.previous_night.commit == commit_of(24)
    assert r.change_frac * 100 == pytest.approx(-20, abs=3)
    assert r.before == pytest.approx(np.median(values[:25])) and r.after == pytest.approx(
        np.median(values[25:])
    )
    assert r.nights_after == 15 and not r.recovered and r.host_note is None
    assert r.key[:2] == ("standin-cnn", "onnxruntime")


@pytest.mark.parametrize("night", [10, 39])
@pytest.mark.parametrize("factor", [0.7, 1.3])
def test_one_noisy_night_of_30_percent_is_not_a_regression(tmp_path, night, factor):
    values = noisy(40, 0.02, seed=2)
    values[night] *= factor  # inside the series, and on the latest night
    assert regressions_of(tmp_path, values) == []


def test_a_slow_noisy_series_without_a_step_is_not_a_regression(tmp_path):
    # 3 % night-to-night noise (outliers of 6-9 % included) and a drift of -2 % over 120 nights.
    values = noisy(120, 0.03, seed=3, level=12.0) * np.linspace(1.0, 0.98, 120)
    assert regressions_of(tmp_path, values) == []


def test_a_step_that_lasts_only_one_night_at_the_end_is_not_yet_one_but_two_are(tmp_path):
    values = noisy(30, 0.01, seed=4)
    values[29:] *= 0.8
    assert find_regressions(load_history(_write(tmp_path / "one", values))) == []
    values[28:] = values[28:29] * 0.8
    [r] = find_regressions(load_history(_write(tmp_path / "two", values)))
    assert r.night.commit == commit_of(28) and r.nights_after == 2


def _write(root, throughputs):
    write_series(root, throughputs)
    return root


def test_a_p99_latency_increase_is_a_regression_and_a_decrease_is_not(tmp_path):
    latencies = 2e-3 * noisy(30, 0.02, seed=5, level=1.0)
    latencies[18:] *= 1.25
    [r] = regressions_of(tmp_path / "up", latencies=latencies)
    assert r.figure.name == "latency_p99" and r.night.commit == commit_of(18)
    assert r.change_frac * 100 == pytest.approx(25, abs=3)
    assert r.after > r.before
    faster = 2e-3 * noisy(30, 0.02, seed=5, level=1.0)
    faster[18:] *= 0.75
    assert regressions_of(tmp_path / "down", latencies=faster) == []


def test_a_throughput_increase_is_not_a_regression(tmp_path):
    values = noisy(30, 0.02, seed=6)
    values[15:] *= 1.3
    assert regressions_of(tmp_path, values) == []


def test_a_step_that_was_undone_later_is_listed_as_recovered(tmp_path):
    values = noisy(40, 0.01, seed=7)
    values[15:22] *= 0.8
    [r] = regressions_of(tmp_path, values)
    assert r.night.commit == commit_of(15) and r.nights_after == 7
    assert r.recovered and r.latest == pytest.approx(np.median(values[22:]))


def test_the_threshold_is_per_figure_and_configurable(tmp_path):
    values = noisy(30, 0.005, seed=8)
    values[20:] *= 0.93  # 7 %: over the 5 % default, under a 10 % limit
    write_series(tmp_path, values)
    history = load_history(tmp_path)
    [r] = find_regressions(history)
    assert r.threshold_pct == 5.0
    assert find_regressions(history, thresholds([parse_threshold("throughput:10%")])) == []
    [r] = find_regressions(history, thresholds([parse_threshold("throughput:6.5")]))
    assert r.threshold_pct == 6.5


def test_only_the_series_that_stepped_is_flagged_and_last_nights_limits_the_window(tmp_path):
    stepped = noisy(30, 0.01, seed=9)
    stepped[20:] *= 0.8
    steady = noisy(30, 0.01, seed=10)
    for i in range(30):
        write_night(tmp_path, i, throughput=float(stepped[i]), workloads=("stepped",), folder=f"n{i:02d}")
        write_night(tmp_path, i, throughput=float(steady[i]), workloads=("steady",), folder=f"n{i:02d}")
    history = load_history(tmp_path)
    [r] = find_regressions(history)
    assert r.key[0] == "stepped"
    assert find_regressions(history, last_nights=9) == []
    assert len(find_regressions(history, last_nights=10)) == 1


def test_a_step_that_coincides_with_a_host_change_says_so(tmp_path):
    values = noisy(20, 0.01, seed=11)
    values[12:] *= 0.8
    for i, v in enumerate(values):
        write_night(tmp_path, i, throughput=float(v), hostname="xeon-01" if i < 12 else "xeon-02")
    [r] = find_regressions(load_history(tmp_path))
    assert r.host_note == "host xeon-01 -> xeon-02"


def test_change_points_of_a_clean_step_and_of_too_short_a_series():
    assert change_points([10.0] * 6 + [8.0] * 6) == [6]
    assert change_points([10.0, 8.0, 8.0]) == []
    assert change_points([10.0] * 6 + [8.0] + [10.0] * 5) == []  # one night is an outlier
    assert change_points([10.0] * 6 + [8.0] + [10.0] * 5, min_nights=1) == [6, 7]
    with pytest.raises(UserInputError, match="--min-nights 0"):
        change_points([1.0] * 10, min_nights=0)


def test_change_points_handle_a_figure_that_can_be_zero():
    assert change_points([0.0] * 6 + [0.1] * 6) == [6]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("throughput", "--threshold 'throughput': use FIGURE:N%"),
        ("speed:5%", "--threshold 'speed:5%': unknown figure 'speed'; known figures: throughput,"),
    ],
)
def test_a_bad_threshold_is_one_clear_error(text, message):
    with pytest.raises(UserInputError) as err:
        parse_threshold(text)
    assert str(err.value).startswith(message)


def test_thresholds_default_to_5_and_10_percent_and_take_either_spelling():
    defaults = {t.figure.name: t.max_worse_pct for t in thresholds()}
    assert defaults == {"throughput": 5.0, "latency_p99": 10.0}
    merged = {t.figure.name: t.max_worse_pct for t in thresholds([parse_threshold("latency-p99:15%")])}
    assert merged == {"throughput": 5.0, "latency_p99": 15.0}
    added = thresholds([parse_threshold("latency_p50_s:20%")])
    assert {t.figure.name: t.max_worse_pct for t in added}["latency_p50"] == 20.0
