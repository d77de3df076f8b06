"""The Runner contract, checked the same way for every CPU runner, and for the ONNX Runtime GPU
runners on the onnxruntime-gpu double (real CPU sessions underneath) and NVML's."""

import functools
import importlib
import sys

import numpy as np
import pytest
from doubles import nvml
from doubles import onnxruntime_gpu as ortgpu

from triggerbench.errors import RunnerError
from triggerbench.runners import registry
from triggerbench.runners.base import RunnerOptions

#: Runners that need a GPU, checked on doubles of the GPU build and of NVML.
ON_GPU_DOUBLES = ["onnxruntime-cuda", "onnxruntime-tensorrt"]
#: keras-gpu has no double of TF's or JAX's GPU build: it runs here only on a GPU host (else skipped).
RUNNERS = ["keras", "keras-gpu", "onnxruntime", "openvino", *ON_GPU_DOUBLES]
#: The library each runner's ``available()`` imports first: hidden, the runner must say so.
BACKEND_MODULES = {
    "keras": "keras",
    "keras-gpu": "keras",
    "onnxruntime": "onnxruntime",
    "openvino": "openvino",
    "onnxruntime-cuda": "onnxruntime",
    "onnxruntime-tensorrt": "onnxruntime",
}


@pytest.fixture(params=RUNNERS)
def runner_name(request, monkeypatch) -> str:
    if request.param in ON_GPU_DOUBLES:
        nvml.install(monkeypatch, [nvml.FakeGpu()])
        ortgpu.install(monkeypatch)
    return request.param


@pytest.fixture
def make(runner_name, standin_artifact):
    cls = registry.get(runner_name)
    ok, reason = cls.available()
    if not ok:
        pytest.skip(reason)

    def prepared(**options):
        runner = cls()
        runner.prepare(standin_artifact, RunnerOptions(**options))
        return runner

    return prepared


def test_available_names_the_backend_version(runner_name):
    ok, reason = registry.get(runner_name).available()
    if not ok:
        pytest.skip(reason)
    assert importlib.import_module(BACKEND_MODULES[runner_name]).__version__ in reason


def test_unavailable_says_which_import_failed(runner_name, monkeypatch):
    module = BACKEND_MODULES[runner_name]
    monkeypatch.setitem(sys.modules, module, None)  # "import keras" now raises ImportError
    ok, reason = registry.get(runner_name).available()
    assert ok is False and module in reason


@pytest.mark.parametrize("batch", [1, 7])
def test_outputs_match_the_keras_model(make, standin_artifact, keras_reference, batches, batch):
    x = batches(batch, 11)
    with make(batch_size=batch) as runner:
        out = runner.infer(runner.stage(x))
    assert out.shape == (batch, *standin_artifact.output_shape) and out.dtype == np.float32
    np.testing.assert_allclose(out, keras_reference(x), rtol=1e-5, atol=1e-5)


def test_repeated_infer_is_identical(make, batches):
    with make(batch_size=7) as runner:
        staged = runner.stage(batches(7, 12))
        first = runner.infer(staged).copy()
        for _ in range(3):
            np.testing.assert_array_equal(runner.infer(staged), first)


def test_restaging_uses_the_new_batch_and_owns_a_copy(make, keras_reference, batches):
    xa, xb = batches(7, 13), batches(7, 14)
    with make(batch_size=7) as runner:
        staged_a = runner.stage(xa)
        out_a = runner.infer(staged_a).copy()
        staged_b = runner.stage(xb)
        xb[:] = 0  # the staged batch is a copy: changing the caller's array must not reach it
        out_b = runner.infer(staged_b).copy()
        again_a = runner.infer(staged_a).copy()
    assert not np.allclose(out_a, out_b)
    np.testing.assert_allclose(out_b, keras_reference(batches(7, 14)), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(again_a, out_a)


def test_wrong_input_shape_raises_a_runner_error(make):
    with make() as runner, pytest.raises(RunnerError, match="batch shape"):
        runner.stage(np.zeros((1, 16, 9, 1), np.float32))


def test_description_fits_the_record(make, as_record):
    with make() as runner:
        d = runner.describe()
    assert d.backend_version and d.device and d.precision == "f32"
    as_record(d)


@pytest.mark.parametrize("prompt", [True, False])
def test_a_queue_where_offered_calls_back_once_per_query_and_leaves_infer_intact(make, batches, prompt):
    with make(batch_size=3, scenario="offline") as runner:
        staged = runner.stage(batches(3, 15))
        expected = runner.infer(staged).copy()
        queue = runner.async_queue(staged, 2, prompt=prompt)
        if queue is None:
            pytest.skip(f"{runner.name} is synchronous only")
        with queue:
            assert queue.n_in_flight == 2
            done: list[int] = []
            for i in range(9):
                queue.submit(functools.partial(done.append, i))
            queue.wait_all()
            assert sorted(done) == list(range(9))
        np.testing.assert_array_equal(runner.infer(staged), expected)
