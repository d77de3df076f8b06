"""Goal: an active power meter slows the tight loop by at most 1 % (its sampling runs outside it).

Two meters, the two that do work while the window is open:

- XRT, which samples board power in a background thread (it starts ``xbutil examine`` every
  ``interval_s``), polling a fake ``xbutil`` that follows XRT's command line and JSON
  (``tests/power/test_xrt.py``): the cost measured is the meter's own — thread, process start,
  JSON parse — not the card's;
- RAPL through Zeus, whose wrap-around watcher is a separate process reading each counter every
  second, here reading a fake powercap tree laid out as the kernel does (``tests/doubles``).

NVML through Zeus reads its counter only at the window's edges on Volta and newer: nothing runs
during the window, so there is nothing to measure without a GPU. The tight loop runs the ONNX Runtime runner
on the stand-in CNN at batch 1 (one thread), windows with and without an active meter interleaved
(A B A B ...) so drift on a shared host hits both; the ratio is the median over rounds of
throughput with / without, throughput being queries over their summed time (a poll's stall must
count, so not a median latency).

On a shared 2-vCPU host the tight loop's throughput alone swings by +-40 % between 2 s windows,
far more than the 1 % goal: quick runs there gave XRT 0.995x, 0.898x and 1.019x, RAPL
(Zeus) 0.988x (rounds 0.81-2.46x). A verdict needs a quiet
host and full mode (10 rounds of 4 s). Polling every 0.1 s instead of 0.5 s gave 0.84x there.
"""

from __future__ import annotations

import importlib.util
import os
import stat
import sys
from pathlib import Path

import numpy as np
import pytest

from triggerbench.measure.tight_loop import time_queries, warm_up
from triggerbench.power import XrtMeter
from triggerbench.runners import registry
from triggerbench.runners.base import RunnerOptions

TESTS = Path(__file__).parents[1] / "tests"
GOAL_SLOWDOWN_FRAC = 0.01
INTERVAL_S = 0.5  # XrtMeter's default


def _fake_xbutil_source() -> str:
    spec = importlib.util.spec_from_file_location("test_xrt", TESTS / "power" / "test_xrt.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.FAKE_XBUTIL


@pytest.fixture
def fake_xbutil(tmp_path, monkeypatch) -> None:
    exe = tmp_path / "bin" / "xbutil"
    exe.parent.mkdir()
    exe.write_text(f"#!{sys.executable}\n{_fake_xbutil_source()}")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{exe.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("FAKE_XBUTIL_COUNTER", str(tmp_path / "calls"))
    monkeypatch.setenv(
        "FAKE_XBUTIL_FIXTURE", str(TESTS / "power" / "fixtures" / "xbutil_electrical_u50_2021.json")
    )


def _throughput_per_s(latencies_ns: np.ndarray) -> float:
    return latencies_ns.size / (latencies_ns.sum() * 1e-9)


@pytest.fixture
def fake_powercap(tmp_path, monkeypatch) -> None:
    monkeypatch.syspath_prepend(str(TESTS))
    from doubles import powercap

    powercap.install(monkeypatch, tmp_path / "sys", packages=2)


def _xrt_meter():
    return XrtMeter(interval_s=INTERVAL_S)


def _rapl_meter():
    from triggerbench.power import RaplMeter

    return RaplMeter()


@pytest.mark.parametrize(
    "meter_name,make_meter,fixture",
    [("XRT", _xrt_meter, "fake_xbutil"), ("RAPL (Zeus)", _rapl_meter, "fake_powercap")],
)
def test_an_active_meter_slows_the_tight_loop_by_at_most_1_percent(
    triggerbench, request, meter_name, make_meter, fixture
):
    request.getfixturevalue(fixture)
    status = registry.status("onnxruntime")
    if not status.available:
        pytest.skip(f"runner onnxruntime unavailable: {status.reason}")
    ctx = triggerbench.context("standin-cnn")
    runner = registry.get("onnxruntime")()
    runner.prepare(ctx.artifact, RunnerOptions(batch_size=1, threads=1))
    staged = runner.stage(ctx.inputs[:1])

    def query() -> None:
        runner.infer(staged)

    n_rounds, window_s = (5, 2.0) if triggerbench.quick else (10, 4.0)
    warm_up(query, triggerbench.settings)
    ratios, polls = [], []
    meter = make_meter()
    meter.start()  # as the idle baseline does before a real window: Zeus starts its watcher here
    meter.stop()
    for _ in range(n_rounds):
        idle = time_queries(query, window_s, 20, 100_000_000)
        meter.start()
        active = time_queries(query, window_s, 20, 100_000_000)
        window = meter.stop()
        polls.append(getattr(window, "n_samples", None))
        ratios.append(_throughput_per_s(active) / _throughput_per_s(idle))
    meter.close()
    ratio = float(np.median(ratios))
    if meter_name == "XRT":
        assert min(polls) >= 2, f"the meter sampled too rarely to be a test of it: {polls}"
        how = f"poll every {INTERVAL_S:g} s, {int(np.median(polls))} polls per {window_s:g} s window"
    else:
        how = f"Zeus' wrap-around watcher reading each counter every 1 s, {window_s:g} s windows"
    text = (
        f"tight loop with an active {meter_name} meter ({how}) at {ratio:.3f}x the throughput "
        f"without (goal >= {1 - GOAL_SLOWDOWN_FRAC:.2f}x; rounds {min(ratios):.3f}-{max(ratios):.3f})"
    )
    triggerbench.note(f"meter overhead ({meter_name})", text)
    assert ratio >= 1 - GOAL_SLOWDOWN_FRAC, text
