"""Shared fixtures for the runner tests: the stand-in CNN, built once per session, and NVML's GPUs."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from doubles import nvml

from triggerbench.models.artifact import ModelArtifact
from triggerbench.runners.base import RunnerDescription
from triggerbench.schema import RunnerInfo


@pytest.fixture(scope="session")
def standin_artifact(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModelArtifact]:
    """The stand-in CNN's ``.keras`` source and ONNX export, cached in a session tmp dir."""
    from triggerbench.models import workloads

    with pytest.MonkeyPatch.context() as mp:
        cache = os.environ.get("TRIGGERBENCH_CACHE")
        # Share the session's isolated cache when tests/conftest.py set one (one model build
        # per run); never build into the user's own cache.
        if not cache or tmp_path_factory.getbasetemp() not in Path(cache).parents:
            mp.setenv("TRIGGERBENCH_CACHE", str(tmp_path_factory.mktemp("tb-cache")))
        yield workloads.get("standin-cnn").artifact()


@pytest.fixture(scope="session")
def keras_reference(standin_artifact: ModelArtifact) -> Callable[[np.ndarray], np.ndarray]:
    """The Keras model's own ``model(x)``: the outputs every runner must reproduce."""
    import keras

    model = keras.saving.load_model(standin_artifact.path("keras"), compile=False)
    return lambda x: np.asarray(model(x))


@pytest.fixture(scope="session")
def batches() -> Callable[[int, int], np.ndarray]:
    """Toy hit windows of a given batch size; different seeds give different batches."""
    from triggerbench.models import standin

    return lambda n, seed: standin.toy_tracks(n, seed)[0]


@pytest.fixture(scope="session")
def as_record() -> Callable[[RunnerDescription], RunnerInfo]:
    """Check a description against the record schema (whose settings hold scalars only)."""

    def check(d: RunnerDescription) -> RunnerInfo:
        return RunnerInfo(
            name="r",
            backend=d.backend,
            backend_version=d.backend_version,
            device=d.device,
            precision=d.precision,
            batch_size=1,
            threads=d.threads,
            settings=d.settings,
            device_model=d.device_model,
            gpu=d.gpu,
            timing=d.timing,
        )

    return check


@pytest.fixture
def nvml_gpus(monkeypatch: pytest.MonkeyPatch) -> Callable[..., list[nvml.FakeGpu]]:
    """NVML answers with the GPUs given (default: one H200); call it again to change them.

    CUDA's indices are NVML's (``CUDA_VISIBLE_DEVICES`` unset: nothing hidden).
    """
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)

    def install(gpus: list[nvml.FakeGpu] | None = None) -> list[nvml.FakeGpu]:
        return nvml.install(monkeypatch, gpus or [nvml.FakeGpu()])

    return install


@pytest.fixture
def one_gpu(nvml_gpus: Callable[..., list[nvml.FakeGpu]]) -> list[nvml.FakeGpu]:
    """NVML answers with one H200."""
    return nvml_gpus()
