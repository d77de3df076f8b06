"""The keras-gpu runner against doubles: NVML's (tests/doubles/nvml.py) and TF's / JAX's device lists.

No test here needs a GPU. What the doubles cannot show honestly (a model that really ran on a
GPU) is tested in pieces: the placement checks, the refusal of a model whose outputs come from
the CPU (TF places ops there silently when the GPU it was given does not exist), the per-call
copy, and the description built from NVML. On a GPU host the contract tests
(``test_contract.py``) run the whole runner.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import types
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pytest
from doubles import nvml

from triggerbench.errors import RunnerError, RunnerUnavailableError, UserInputError
from triggerbench.measure.job import Job
from triggerbench.runners.base import RunnerDescription, RunnerOptions
from triggerbench.runners.keras import KerasRunner, _Staged
from triggerbench.runners.keras_gpu import KerasGpuRunner, jax_cuda_version, jax_gpu, tf_gpu

SPEC = "triggerbench.runners.keras_gpu:KerasGpuRunner"
TF_HINT = "pip install tensorflow[and-cuda]"
NO_GPU = {"CUDA_VISIBLE_DEVICES": "-1", "JAX_PLATFORMS": "cpu"}
#: What ``jax.devices("gpu")`` raises where JAX has no CUDA backend (jax 0.10, CPU-only host).
JAX_NO_GPU = (
    "Unknown backend: 'gpu' requested, but no platforms that are instances of gpu are present. "
    "Platforms present are: cpu"
)
JAX_HAS_CUDA_PLUGIN = any(importlib.util.find_spec(p) for p in ("jax_cuda12_plugin", "jax_cuda13_plugin"))


@pytest.fixture
def tf():
    """TensorFlow, with its TF32 setting restored after the test (the GPU runner turns it off)."""
    import tensorflow as tf

    tf32 = tf.config.experimental.tensor_float_32_execution_enabled()
    yield tf
    tf.config.experimental.enable_tensor_float_32_execution(tf32)


def tf_sees(monkeypatch, tf, n: int) -> None:
    """TF's device list as on a host with ``n`` GPUs TF can use (0: a plain wheel without CUDA libs)."""
    gpus = [tf.config.PhysicalDevice(name=f"/physical_device:GPU:{i}", device_type="GPU") for i in range(n)]
    real = tf.config.list_physical_devices

    def listed(device_type=None):
        return gpus if device_type == "GPU" else real(device_type)

    monkeypatch.setattr(tf.config, "list_physical_devices", listed)


# --- options and the child's environment ---------------------------------------------------


def test_options_are_keras_options_plus_device_id():
    opts = KerasGpuRunner.parse_options({"backend": "JAX", "device_id": "1", "jit_compile": "false"})
    assert (opts.backend, opts.device_id, opts.jit_compile) == ("jax", 1, False)
    assert KerasGpuRunner.parse_options({}).device_id == 0


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"device_id": -1}, "keras-gpu runner: option device_id=-1: use a whole number >= 0"),
        ({"device_id": True}, "keras-gpu runner: option device_id=True: use a whole number >= 0"),
        (
            {"gpu": 0},
            "keras-gpu runner: unknown option(s) gpu; known options: jit_compile, backend, device_id",
        ),
    ],
)
def test_bad_options_are_one_line(extra, message):
    with pytest.raises(UserInputError) as err:
        KerasGpuRunner.parse_options(extra)
    assert str(err.value) == message


@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_the_cpu_runner_hides_gpus_from_its_child_and_the_gpu_runner_does_not(backend):
    from triggerbench.measure.isolate import _runner_env

    options = {"backend": backend}
    cpu = _runner_env(Job(runner="keras", runner_options=options))
    gpu = _runner_env(Job(runner=SPEC, runner_options=options))
    assert cpu == {"KERAS_BACKEND": backend, **NO_GPU}
    # CUDA's GPU order made NVML's, so that device_id is the board NVML describes and meters.
    assert gpu == {"KERAS_BACKEND": backend, "CUDA_DEVICE_ORDER": "PCI_BUS_ID"}


# --- available(): cheap, and the reasons ----------------------------------------------------


def test_available_without_driver_says_how_to_get_it(monkeypatch):
    nvml.install_no_driver(monkeypatch)
    ok, reason = KerasGpuRunner.available()
    assert ok is False
    assert reason.startswith("no NVIDIA GPU driver here (NVML: ")
    assert reason.endswith("; install the NVIDIA driver (nvidia-smi must list the GPU)")


def test_available_with_a_gpu_names_the_libraries_and_the_gpu(one_gpu):
    ok, reason = KerasGpuRunner.available()
    assert ok is True, reason
    assert reason.startswith(f"keras {version('keras')} on tensorflow {version('tensorflow')}, jax ")
    assert reason.endswith("; NVIDIA GPU 0 of 1")
    assert ("(no CUDA plugin: pip install jax[cuda12])" in reason) is not JAX_HAS_CUDA_PLUGIN


def test_available_without_keras_says_so_before_asking_nvml(monkeypatch):
    monkeypatch.setitem(sys.modules, "keras", None)  # "import keras" now fails, as uninstalled
    assert KerasGpuRunner.available() == (False, "keras is not installed (pip install keras)")


def test_available_imports_neither_keras_nor_a_backend():
    code = (
        "import json, sys\n"
        "from triggerbench.runners.keras_gpu import KerasGpuRunner\n"
        "KerasGpuRunner.available()\n"
        "print(json.dumps([m for m in ('keras', 'tensorflow', 'jax') if m in sys.modules]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []


# --- prepare: the reasons, for TF (this process's Keras backend) -----------------------------


def prepare(artifact, **extra) -> KerasGpuRunner:
    runner = KerasGpuRunner()
    runner.prepare(artifact, RunnerOptions(extra=extra))
    return runner


def test_no_driver_is_the_reason_in_prepare(standin_artifact, monkeypatch):
    nvml.install_no_driver(monkeypatch)
    with pytest.raises(RunnerUnavailableError, match="^no NVIDIA GPU driver here"):
        prepare(standin_artifact)


def test_a_gpu_nvml_does_not_see_is_the_reason(standin_artifact, one_gpu):
    with pytest.raises(RunnerUnavailableError) as err:
        prepare(standin_artifact, device_id=1)
    assert str(err.value) == "no NVIDIA GPU 1: NVML sees 1 GPU(s)"


def test_tf_without_cuda_libraries_says_install_and_cuda(standin_artifact, one_gpu, tf, monkeypatch):
    tf_sees(monkeypatch, tf, 0)
    with pytest.raises(RunnerUnavailableError) as err:
        prepare(standin_artifact)
    assert str(err.value) == f"tensorflow {tf.__version__} sees no GPU (CUDA libraries not found?); {TF_HINT}"


def test_tf_with_gpus_hidden_says_so(tf, monkeypatch):
    tf_sees(monkeypatch, tf, 0)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "-1")
    with pytest.raises(RunnerUnavailableError, match=r"sees no GPU \(CUDA_VISIBLE_DEVICES='-1'\)"):
        tf_gpu(tf, 0)


def test_tf_not_built_with_cuda_says_install_and_cuda(tf, monkeypatch):
    monkeypatch.setattr(tf.test, "is_built_with_cuda", lambda: False)
    with pytest.raises(RunnerUnavailableError) as err:
        tf_gpu(tf, 0)
    assert (
        str(err.value)
        == f"tensorflow {tf.__version__} is not built with CUDA; pip install tensorflow[and-cuda]"
    )


def test_tf_device_names_count_from_zero_and_stop_at_what_tf_sees(tf, monkeypatch):
    tf_sees(monkeypatch, tf, 2)
    assert tf_gpu(tf, 1) == "/GPU:1"
    with pytest.raises(RunnerUnavailableError, match=r"^tensorflow sees 2 GPU\(s\); there is no GPU:2$"):
        tf_gpu(tf, 2)


def test_tf_the_plain_wheel_on_this_host_is_a_cuda_build(tf):
    # Why the reason for a plain wheel is "sees no GPU", not "not built with CUDA" (DESIGN.md).
    assert tf.test.is_built_with_cuda() and tf.sysconfig.get_build_info()["cuda_version"]


def test_a_model_that_ran_on_the_cpu_is_refused(standin_artifact, one_gpu, tf, monkeypatch):
    # TF is told of a GPU it does not have: asked for /GPU:0 it places everything on the CPU
    # without a word (soft placement). The runner must refuse, never record a CPU figure as GPU.
    tf_sees(monkeypatch, tf, 1)
    with pytest.raises(RunnerError) as err:
        prepare(standin_artifact)
    message = str(err.value)
    assert message.startswith(
        "keras-gpu runner: the model ran on /job:localhost/replica:0/task:0/device:CPU:0"
    )
    assert message.endswith("not on GPU 0; refusing to time it as a GPU run") and "\n" not in message


# --- prepare: the reasons, for JAX -----------------------------------------------------------


def jax_devices(gpus):
    """``jax.devices`` as with ``gpus`` CUDA devices (None: JAX without a CUDA backend)."""
    import jax

    real = jax.devices

    def devices(backend=None):
        if backend == "gpu":
            if gpus is None:
                raise RuntimeError(JAX_NO_GPU)
            return gpus
        return real(backend)

    return devices


@pytest.mark.skipif(JAX_HAS_CUDA_PLUGIN, reason="JAX has a CUDA plugin here")
def test_the_jax_double_raises_what_jax_raises_without_a_gpu():
    import jax

    with pytest.raises(RuntimeError) as err:
        jax.devices("gpu")
    assert str(err.value) == JAX_NO_GPU


def test_jax_without_cuda_plugin_says_install_jax_cuda12(monkeypatch):
    import jax

    monkeypatch.delenv("JAX_PLATFORMS", raising=False)
    monkeypatch.setattr(jax, "devices", jax_devices(None))
    with pytest.raises(RunnerUnavailableError) as err:
        jax_gpu(jax, 0)
    assert str(err.value) == (
        f"jax {jax.__version__} has no CUDA backend: RuntimeError: {JAX_NO_GPU}; pip install jax[cuda12]"
    )
    monkeypatch.setenv("JAX_PLATFORMS", "cpu")
    with pytest.raises(RunnerUnavailableError, match=r"has no CUDA backend \(JAX_PLATFORMS='cpu'\): "):
        jax_gpu(jax, 0)


def test_jax_device_counts_stop_at_what_jax_sees(monkeypatch):
    import jax

    gpus = [types.SimpleNamespace(platform="gpu", id=i) for i in range(2)]
    monkeypatch.setattr(jax, "devices", jax_devices(gpus))
    assert jax_gpu(jax, 1) is gpus[1]
    with pytest.raises(RunnerUnavailableError, match=r"^jax sees 2 GPU\(s\); there is no GPU 2$"):
        jax_gpu(jax, 2)


def test_jax_outputs_on_the_cpu_are_refused():
    # What a JAX whose "gpu" devices were CPU ones would give: outputs on a CPU device.
    import jax

    cpu = jax.devices("cpu")[0]
    runner = KerasGpuRunner()
    runner._jax, runner._placement = object(), cpu  # the JAX path, pinned to what it was given
    with pytest.raises(RunnerError, match=f"^keras-gpu runner: the model ran on {cpu}, not on GPU 0; "):
        runner._check_device(cpu)
    runner._placement = types.SimpleNamespace(platform="gpu", id=0)
    runner._check_device(types.SimpleNamespace(platform="gpu", id=0))  # the GPU it was given: accepted
    with pytest.raises(RunnerError, match="not on GPU 0"):
        runner._check_device(types.SimpleNamespace(platform="gpu", id=1))  # another GPU


def test_jax_prepare_in_a_jax_process(standin_artifact, tmp_path):
    # Keras fixes its backend at import, so JAX runs in its own process (as in the isolated
    # child): with NVML's double, first a JAX without CUDA, then one whose "gpu" devices are
    # the CPU's. The second runs the whole JAX path (placement, per-call copy, compile) and must
    # be refused at the device check.
    import pickle

    code = f"""
import json, pickle, sys
import pytest
from doubles import nvml
import jax
from triggerbench.runners.base import RunnerOptions
from triggerbench.runners.keras_gpu import KerasGpuRunner
artifact = pickle.loads(bytes.fromhex(sys.argv[1]))
out = []
with pytest.MonkeyPatch.context() as mp:
    nvml.install(mp, [nvml.FakeGpu()])
    real = jax.devices
    for gpus in (None, real("cpu")):
        def devices(backend=None, gpus=gpus):
            if backend != "gpu":
                return real(backend)
            if gpus is None:
                raise RuntimeError({JAX_NO_GPU!r})
            return gpus
        mp.setattr(jax, "devices", devices)
        try:
            KerasGpuRunner().prepare(artifact, RunnerOptions(extra={{"backend": "jax"}}))
            out.append(["ok", ""])
        except Exception as exc:
            out.append([type(exc).__name__, str(exc)])
print(json.dumps(out))
"""
    tests_dir = Path(__file__).parents[1]
    env = {
        **os.environ,
        "KERAS_BACKEND": "jax",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(tests_dir), os.environ.get("PYTHONPATH")])),
        "TF_CPP_MIN_LOG_LEVEL": "3",
    }
    proc = subprocess.run(
        [sys.executable, "-c", code, pickle.dumps(standin_artifact).hex()],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    no_cuda, on_cpu = json.loads(proc.stdout.strip().splitlines()[-1])
    assert no_cuda[0] == "RunnerUnavailableError" and no_cuda[1].endswith("; pip install jax[cuda12]")
    assert on_cpu[0] == "RunnerError"
    assert on_cpu[1].startswith("keras-gpu runner: the model ran on ") and "not on GPU 0" in on_cpu[1]


def test_jax_cuda_version_from_the_plugin(monkeypatch):
    from jax._src import lib

    monkeypatch.setattr(lib, "cuda_versions", None)  # JAX without a CUDA plugin
    assert jax_cuda_version() is None
    plugin = types.SimpleNamespace(cuda_runtime_build_version=lambda: 12080)
    monkeypatch.setattr(lib, "cuda_versions", plugin)
    assert jax_cuda_version() == "12.8"


# --- the timed call and the description ------------------------------------------------------


def test_each_timed_call_copies_the_host_batch(tf):
    # On the CPU device, since this host has no GPU: the wrapper is the same on a GPU.
    runner = KerasGpuRunner()
    runner._jax, runner._tf, runner._placement = None, tf, "/CPU:0"
    host = np.arange(6, dtype=np.float32).reshape(2, 3)
    compiled = tf.function(lambda x: x * 2).get_concrete_function(tf.TensorSpec((2, 3), tf.float32))
    timed = runner._for_timing(_Staged(tf.constant(host), compiled), host)
    assert isinstance(timed.tensor, np.ndarray) and timed.tensor is not host  # stays on the host
    host[:] = -1  # the staged batch is a copy
    np.testing.assert_array_equal(timed.fn(timed.tensor).numpy(), np.arange(6).reshape(2, 3) * 2)


def test_describe_names_the_gpu_from_nvml(one_gpu, tf, monkeypatch, as_record):
    # Everything but the GPU part is KerasRunner's, tested on the CPU; here it is stubbed (this
    # host has no GPU to prepare on) and the GPU part runs against the NVML double.
    one_gpu[0].name = "NVIDIA A100-SXM4-40GB"

    def prepared_on_gpu(self, artifact, options):
        self._tf, self._jax, self._fn, self._device_id = tf, None, object(), 0

    cpu_part = RunnerDescription(
        backend="tensorflow",
        backend_version="keras 3 / tensorflow 2",
        device="GPU:0",
        precision="f32",
        threads=None,
        settings={"keras_backend": "tensorflow", "tf_device": "/job:localhost/replica:0/task:0/device:GPU:0"},
    )
    monkeypatch.setattr(KerasRunner, "prepare", prepared_on_gpu)
    monkeypatch.setattr(KerasRunner, "describe", lambda self: cpu_part)
    runner = KerasGpuRunner()
    runner.prepare(None, RunnerOptions())
    d = runner.describe()
    assert (d.device, d.device_model, d.timing) == ("GPU:0", "NVIDIA A100-SXM4-40GB", "host-to-host")
    assert d.gpu.name == "NVIDIA A100-SXM4-40GB" and d.gpu.index == 0
    assert d.gpu.cuda_runtime_version == tf.sysconfig.get_build_info()["cuda_version"]  # built for
    assert d.gpu.cuda_driver_version == "13.0" and d.gpu.power_limit_w == 700.0
    assert d.settings["keras_backend"] == "tensorflow" and d.settings["tf_device"].endswith("GPU:0")
    assert d.settings["device_id"] == 0 and d.settings["tf32"] is False
    as_record(d)


def test_power_meter_is_the_gpus(monkeypatch):
    nvml.install_no_driver(monkeypatch)
    runner = KerasGpuRunner()
    runner._device_id = 0
    meter, reason = runner.power_meter()
    assert meter is None and reason.startswith("no NVIDIA GPU driver here")
