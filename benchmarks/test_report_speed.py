"""How long `triggerbench report` takes on large results sets: 1k, 10k and 100k records.

The sets replicate the real records of one quick demo run (tests/reports/data/demo-run) with
varied fields (run id, time, host, figures jittered), so every layout and plot has work to do.
Goal: every format and plot of 100k records in under 10 s here (rendering from the loaded frame;
loading 100k JSON files is timed separately).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from triggerbench.reports.document import FORMATS, ReportOptions, build, write
from triggerbench.reports.published import SEED_TALK, load_published
from triggerbench.results import load

DEMO_RUN = Path(__file__).parents[1] / "tests" / "reports" / "data" / "demo-run"
RENDER_GOAL_S = 10.0
FIGURES = [
    "performance.throughput_samples_per_s",
    "performance.latency_p50_s",
    "performance.latency_p99_s",
    "performance.latency_p999_s",
]


def replicate(frame: pd.DataFrame, n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` rows drawn from ``frame`` with fresh ids, times, hosts and jittered figures."""
    rng = np.random.default_rng(seed)
    out = frame.iloc[rng.integers(0, len(frame), n)].reset_index(drop=True).copy()
    out["run_id"] = [f"{i:032x}" for i in range(n)]
    stamps = pd.Timestamp("2026-11-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 30 * 86400, n), unit="s")
    out["timestamp_utc"] = stamps.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    out["environment.hostname"] = rng.choice(["xeon-01", "xeon-02", "gpu-01", "alveo-01"], n)
    for column in FIGURES:
        if column in out:
            out[column] = out[column] * rng.lognormal(0.0, 0.05, n)
    return out


@pytest.fixture(scope="module")
def demo_frame() -> pd.DataFrame:
    if not DEMO_RUN.is_dir():
        pytest.skip(f"no demo records in {DEMO_RUN}")
    return load([DEMO_RUN])


@pytest.mark.parametrize("n_records", [1_000, 10_000, 100_000])
def test_render_all_formats_and_plots(benchmark, demo_frame, n_records, tmp_path):
    frame = replicate(demo_frame, n_records)
    options = ReportOptions(published=load_published([SEED_TALK]))

    def render() -> list[Path]:
        return write(build(frame, options), tmp_path / "report", FORMATS)

    written = benchmark.pedantic(render, rounds=1, iterations=1)
    elapsed_s = benchmark.stats.stats.max
    benchmark.extra_info.update(n_records=n_records, render_s=elapsed_s)
    assert all(p.stat().st_size > 0 for p in written)
    if n_records == 100_000:
        assert elapsed_s < RENDER_GOAL_S, f"100k records: {elapsed_s:.1f} s (goal {RENDER_GOAL_S} s)"


def test_load_10k_record_files(benchmark, demo_frame, tmp_path):
    """Reading record files is part of a report's wall time: 10k files through the validating loader."""
    sources = sorted(DEMO_RUN.glob("*.json"))
    folder = tmp_path / "many"
    folder.mkdir()
    texts = [p.read_text() for p in sources]
    for i in range(10_000):
        (folder / f"{i:05d}.json").write_text(texts[i % len(texts)])
    start = time.perf_counter()
    frame = benchmark.pedantic(lambda: load([folder]), rounds=1, iterations=1)
    benchmark.extra_info.update(n_records=len(frame), load_s=time.perf_counter() - start)
    assert len(frame) == 10_000
