"""Shared fixtures: an isolated model cache and the stand-in workload's context."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).parent


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Keep exports and built workloads out of the user's cache (children inherit it)."""
    cache = tmp_path_factory.mktemp("triggerbench-cache")
    os.environ["TRIGGERBENCH_CACHE"] = str(cache)
    # Test-only runners (tests/fake_runners.py) must import in worker processes too.
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS_DIR), os.environ.get("PYTHONPATH")]))
    sys.path.insert(0, str(TESTS_DIR))
    return cache


@pytest.fixture(scope="session")
def quick_settings():
    from triggerbench.measure.settings import MeasureSettings

    return MeasureSettings.quick().model_copy(update={"accuracy_samples": 64})


@pytest.fixture(scope="session")
def standin_ctx(quick_settings):
    from triggerbench.measure.job import build_context

    return build_context(quick_settings, workload="standin-cnn")
