"""How long a year of nightly history takes to load (cold and warm) and to check for regressions.

Full mode: 365 nights x 274 records (~100k record files, 137 workloads x 2 runners). Goal: a warm
load (the per-night cache filled) in under 2 s. A cold load validates every file with pydantic
once and fills the cache; it is timed and reported, not held to the goal. Quick mode: 30 nights x
50 records, no goal asserted. One series in ten drops 10 % for its last 20 nights: ``farm check``
must find each of those (a check at scale, beside the timing).
"""

from __future__ import annotations

import json
import shutil
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from triggerbench.farm.history import CACHE_DIR_NAME, load_history
from triggerbench.farm.regressions import find_regressions
from triggerbench.schema import BenchmarkRecord

WARM_LOAD_GOAL_S = 2.0
START = datetime(2026, 1, 1, 1, 0, tzinfo=UTC)
STEP_NIGHTS = 20


def _template(workload: str, runner: str) -> dict:
    record = BenchmarkRecord(
        status="ok",
        workload=dict(
            name=workload, task="t", model_name="m", source_format="keras", source_sha256="ab" * 32,
            input_shape=[9, 16, 1], output_shape=[2],
        ),
        runner=dict(name=runner, backend=runner, batch_size=1, precision="f32", device="cpu"),
        scenario=dict(name="single-stream", harness="tight-loop"),
        environment=dict(hostname="xeon-01", platform="p", python_version="3.11", triggerbench_version="0"),
        performance=dict(
            throughput_samples_per_s=1000.0, throughput_queries_per_s=1000.0, latency_p50_s=1e-3,
            latency_p90_s=1.1e-3, latency_p99_s=2e-3, latency_p999_s=3e-3, latency_max_s=4e-3,
            latency_mean_s=1.05e-3, latency_stdev_s=1e-4, n_queries=1000, n_samples=1000, n_warmup=5,
            duration_s=1.0, harness_overhead_per_query_s=1e-7, repeat_throughput_rel_stdev=0.01,
        ),
    )  # fmt: skip
    return record.model_dump(mode="json")


def write_year(root: Path, n_nights: int, n_workloads: int, seed: int = 0) -> set[tuple[str, str]]:
    """Write the history; return the (workload, runner) series given a lasting 10 % drop."""
    rng = np.random.default_rng(seed)
    templates = [_template(f"w{w:03d}", r) for w in range(n_workloads) for r in ("onnxruntime", "keras")]
    stepped = {i for i in range(len(templates)) if i % 10 == 3}
    noise = rng.lognormal(0.0, 0.02, (n_nights, len(templates), 2))
    for night in range(n_nights):
        when = START + timedelta(days=night, minutes=night % 50)
        commit = f"{night:08x}" + "e" * 32
        folder = root / f"{when:%Y-%m-%d}_{commit[:8]}_xeon-01"
        folder.mkdir(parents=True)
        for i, t in enumerate(templates):
            drop = 0.9 if i in stepped and night >= n_nights - STEP_NIGHTS else 1.0
            record = {
                **t,
                "run_id": uuid.uuid4().hex,
                "timestamp_utc": (when + timedelta(seconds=i)).isoformat().replace("+00:00", "Z"),
                "performance": {
                    **t["performance"],
                    "throughput_samples_per_s": 1000.0 * drop * noise[night, i, 0],
                    "latency_p99_s": 2e-3 * noise[night, i, 1],
                },
                "environment": {**t["environment"], "git_commit": commit},
            }
            (folder / f"{i:03d}_{record['run_id'][:8]}.json").write_text(json.dumps(record))
    return {(templates[i]["workload"]["name"], templates[i]["runner"]["name"]) for i in stepped}


@pytest.fixture(scope="module")
def year(triggerbench, tmp_path_factory) -> tuple[Path, set[tuple[str, str]], int]:
    n_nights, n_workloads = (30, 25) if triggerbench.quick else (365, 137)
    root = tmp_path_factory.mktemp("history")
    stepped = write_year(root, n_nights, n_workloads)
    return root, stepped, n_nights * n_workloads * 2


def test_cold_load(benchmark, year):
    root, _, n_records = year
    shutil.rmtree(root / CACHE_DIR_NAME, ignore_errors=True)
    history = benchmark.pedantic(lambda: load_history(root), rounds=1, iterations=1)
    benchmark.extra_info.update(n_records=n_records, cold_load_s=benchmark.stats.stats.max)
    assert len(history.records) == n_records


def test_warm_load(benchmark, triggerbench, year):
    root, _, n_records = year
    load_history(root)  # fills the cache if the cold test did not run
    history = benchmark.pedantic(lambda: load_history(root), rounds=3, iterations=1)
    warm_s = benchmark.stats.stats.median
    benchmark.extra_info.update(n_records=n_records, warm_load_s=warm_s)
    assert len(history.records) == n_records
    if not triggerbench.quick:
        assert warm_s < WARM_LOAD_GOAL_S, (
            f"{n_records} records: warm load {warm_s:.2f} s (goal {WARM_LOAD_GOAL_S} s)"
        )


def test_farm_check(benchmark, year):
    root, stepped, n_records = year
    start = time.perf_counter()
    history = load_history(root)
    load_s = time.perf_counter() - start
    found = benchmark.pedantic(lambda: find_regressions(history), rounds=1, iterations=1)
    check_s = benchmark.stats.stats.max
    flagged = {(r.key[0], r.key[1]) for r in found if r.figure.name == "throughput"}
    benchmark.extra_info.update(
        n_records=n_records, load_s=load_s, check_s=check_s, n_regressions=len(found), n_stepped=len(stepped)
    )
    assert stepped <= flagged, f"missed: {sorted(stepped - flagged)[:5]}"
