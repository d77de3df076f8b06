"""The NVML meter (Zeus' ZeusMonitor on the NVML double) and Zeus' empty measurement."""

import time

import pytest
from doubles import nvml

from triggerbench.devices.nvidia import gpu_available, gpu_info
from triggerbench.power import EmptyMeasurementError, NvmlMeter, gpu_meter
from triggerbench.power.zeus_monitor import ZeusMeter


def test_nvml_meter_reads_the_gpus_energy_counter(monkeypatch):
    (gpu,) = nvml.install(monkeypatch, [nvml.FakeGpu(power_w=250.0, update_period_s=0.01)])
    meter, reason = gpu_meter(0)
    assert isinstance(meter, NvmlMeter), reason
    assert meter.scope.startswith("NVML: board energy of GPU 0 (NVIDIA H200)")
    assert meter.min_window_s >= 0.1  # the counter's update period, with a margin
    meter.start()
    time.sleep(0.3)
    window = meter.stop()
    meter.close()
    assert set(window.by_domain_j) == {"gpu-0"}
    # 250 W for ~0.3 s, quantized by the counter's 10 ms steps (a slow host sleeps longer)
    assert window.energy_j == pytest.approx(250.0 * window.duration_s, abs=250.0 * 0.02)


def test_nvml_meter_follows_cuda_visible_devices(monkeypatch):
    gpus = nvml.install(monkeypatch, [nvml.FakeGpu(name="NVIDIA A100"), nvml.FakeGpu(name="NVIDIA L4")])
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    assert gpu_info(0).name == "NVIDIA L4" and gpu_info(0).index == 1
    meter, _ = gpu_meter(0)
    assert "(NVIDIA L4)" in meter.scope
    gpus[0].power_w, gpus[1].power_w = 1000.0, 10.0
    meter.start()
    time.sleep(0.1)
    assert meter.stop().energy_j < 5.0  # the L4's 10 W, not the A100's 1 kW
    meter.close()


def test_gpu_info_has_what_the_record_needs(monkeypatch):
    nvml.install(monkeypatch, [nvml.FakeGpu(power_limit_mw=None)], driver="550.54.15", cuda=12040)
    info = gpu_info(0, cuda_runtime_version="12.2")
    assert (info.name, info.driver_version, info.cuda_driver_version) == ("NVIDIA H200", "550.54.15", "12.4")
    assert info.cuda_runtime_version == "12.2" and info.compute_capability == "9.0"
    assert info.memory_total_bytes == 141 * 2**30
    assert info.power_limit_w is None  # NOT_SUPPORTED on this board: unknown, not an error


def test_no_driver_no_gpu_and_an_index_too_far_each_say_why(monkeypatch):
    nvml.install_no_driver(monkeypatch)
    ok, reason = gpu_available(0)
    assert not ok and reason.startswith("no NVIDIA GPU driver here (NVML: ")
    assert "install the NVIDIA driver" in reason
    assert gpu_meter(0) == (None, reason)
    nvml.install(monkeypatch, [nvml.FakeGpu()])
    assert gpu_available(1) == (False, "no NVIDIA GPU 1: NVML sees 1 GPU(s)")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-1234")
    ok, reason = gpu_available(0)
    assert not ok and "CUDA_VISIBLE_DEVICES='GPU-1234' has no plain index" in reason


def test_zeus_measuring_nothing_is_an_error_never_zero_joules(monkeypatch):
    class AnyZeusMeter(ZeusMeter):
        source, scope = "measured-nvml", "whatever Zeus finds"

        @classmethod
        def available(cls):
            return True, ""

    nvml.install_no_driver(monkeypatch)  # no GPU, and this test asks for no CPU package
    meter = AnyZeusMeter(gpu_indices=[], cpu_indices=[])
    meter.start()
    with pytest.raises(EmptyMeasurementError, match="Zeus measured no energy domain"):
        meter.stop()
