"""Goal: an active power meter slows the tight loop by at most 1 % (its sampling runs outside it).

The meter here is the XRT board-power meter, the one that samples in a background thread (it
starts ``xbutil examine`` every ``interval_s``), polling a fake ``xbutil`` that follows XRT's
command line and JSON (``tests/power/test_xrt.py``): the cost measured is the meter's own —
thread, process start, JSON parse — not the card's. The tight loop runs the ONNX Runtime runner
on the stand-in CNN at batch 1 (one thread), windows with and without an active meter interleaved
(A B A B ...) so drift on a shared host hits both; the ratio is the median over rounds of
throughput with / without, throughput being queries over their summed time (a poll's stall must
count, so not a median latency).

On a shared 2-vCPU host the tight loop's throughput alone swings by +-40 % between 2 s windows,
far more than the 1 % goal: quick runs there gave 0.995x and 0.898x. A verdict needs a quiet
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


def test_an_active_meter_slows_the_tight_loop_by_at_most_1_percent(triggerbench, fake_xbutil):
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
    for _ in range(n_rounds):
        idle = time_queries(query, window_s, 20, 100_000_000)
        meter = XrtMeter(interval_s=INTERVAL_S)
        meter.start()
        active = time_queries(query, window_s, 20, 100_000_000)
        window = meter.stop()
        polls.append(window.n_samples)
        ratios.append(_throughput_per_s(active) / _throughput_per_s(idle))
    ratio = float(np.median(ratios))
    assert min(polls) >= 2, f"the meter sampled too rarely to be a test of it: {polls}"
    text = (
        f"tight loop with an active XRT meter (poll every {INTERVAL_S:g} s, {int(np.median(polls))} "
        f"polls per {window_s:g} s window) at {ratio:.3f}x the throughput without "
        f"(goal >= {1 - GOAL_SLOWDOWN_FRAC:.2f}x; rounds {min(ratios):.3f}-{max(ratios):.3f})"
    )
    triggerbench.note("meter overhead", text)
    assert ratio >= 1 - GOAL_SLOWDOWN_FRAC, text
