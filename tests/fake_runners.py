"""Test-only runners that misbehave in the ways real backends do."""

from __future__ import annotations

import os
import signal
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np
from fake_queries import busy

from triggerbench.errors import ModelUnsupportedError
from triggerbench.power.base import PowerMeter
from triggerbench.runners.base import AsyncQueue, RunnerDescription
from triggerbench.runners.null import NullRunner
from triggerbench.schema import FpgaFigures


class CopyRunner(NullRunner):
    """Returns a fixed affine function of the input: a runner with a known, checkable output."""

    name = "copy"

    def infer(self, staged: Any) -> np.ndarray:
        return np.full(self._out.shape, float(staged.mean()), np.float32)

    def describe(self) -> RunnerDescription:
        return RunnerDescription("copy", "0", "cpu", "f32", 1)


class RaisingRunner(NullRunner):
    """Raises in the middle of measuring, as a backend that hits a driver error."""

    name = "raising"

    def prepare(self, artifact, options) -> None:
        super().prepare(artifact, options)
        self._calls = 0

    def infer(self, staged: Any) -> np.ndarray:
        self._calls += 1
        if self._calls > 200:
            raise RuntimeError("device lost after 200 calls")
        return self._out


class DyingRunner(NullRunner):
    """Kills its process mid-run, as a segfaulting backend does."""

    name = "dying"

    def infer(self, staged: Any) -> np.ndarray:
        os._exit(139)


class HangingRunner(NullRunner):
    """Never returns from prepare."""

    name = "hanging"

    def prepare(self, artifact, options) -> None:
        time.sleep(3600)


class UnavailableRunner(NullRunner):
    """A backend whose hardware is absent."""

    name = "unavailable"

    @classmethod
    def available(cls) -> tuple[bool, str]:
        return False, "no FooAccelerator found (/dev/foo0 missing)"


class BadDescriptionRunner(NullRunner):
    """Describes itself with a value the record refuses (a list in settings)."""

    name = "bad-description"

    def describe(self) -> RunnerDescription:
        return RunnerDescription("bad", "0", "cpu", "f32", 1, settings={"providers": ["A", "B"]})


class EmulatedFpgaRunner(NullRunner):
    """Echoes its backend options and reports FPGA figures, like the firmware runners do."""

    name = "emulated"
    emulator = True

    def prepare(self, artifact, options) -> None:
        super().prepare(artifact, options)
        self.extra = dict(options.extra)

    def describe(self) -> RunnerDescription:
        return RunnerDescription(
            "emulated", "0", "cpu-emulation", "fixed-point ap_fixed<16,6>", 1, self.extra
        )

    def fpga_figures(self) -> list[FpgaFigures]:
        return [FpgaFigures.with_reason("estimate", "not estimated", method="test", latency_cycles=4)]


class _BrokenMeter(PowerMeter):
    source = "measured-xrt"
    scope = "a board whose meter stops answering"

    @classmethod
    def available(cls) -> tuple[bool, str]:
        return True, ""

    def start(self) -> None:
        pass

    def stop(self):
        raise RuntimeError("xbutil stopped answering")


class BrokenMeterRunner(NullRunner):
    """Paired with a power meter that fails when its window closes."""

    name = "broken-meter"

    def power_meter(self):
        return _BrokenMeter(), ""


class PickyRunner(NullRunner):
    """Works on this host but takes no model at all, as the RTL flow refuses float models."""

    name = "picky"

    def prepare(self, artifact, options) -> None:
        raise ModelUnsupportedError(f"{artifact.name}: picky takes no model")


class SlowEmulatorRunner(EmulatedFpgaRunner):
    """An emulator whose queries take 20 ms: above the tight loop's threshold, so LoadGen's
    64-query minimum would apply to anything but an emulator."""

    def infer(self, staged: Any) -> np.ndarray:
        time.sleep(0.02)
        return super().infer(staged)


class DiskFillingRunner(NullRunner):
    """Fills the disk at ``$TRIGGERBENCH_TEST_FILL`` while preparing, as a neighbour's job might."""

    name = "disk-filling"

    def prepare(self, artifact, options) -> None:
        super().prepare(artifact, options)
        chunk = b"\0" * (1 << 16)
        with open(os.environ["TRIGGERBENCH_TEST_FILL"], "ab") as fh:
            try:
                while True:
                    fh.write(chunk)
                    fh.flush()
            except OSError:  # ENOSPC: full
                pass


class KilledRunner(NullRunner):
    """Is killed by SIGKILL mid-run, as the kernel's OOM killer does."""

    name = "killed"

    def infer(self, staged: Any) -> np.ndarray:
        os.kill(os.getpid(), signal.SIGKILL)
        return self._out


class FakeGpuRunner(NullRunner):
    """Claims NVIDIA GPU 0 and pairs with its NVML meter (use with tests/doubles/nvml.py)."""

    name = "fake-gpu"

    def describe(self) -> RunnerDescription:
        from triggerbench.devices.nvidia import gpu_info

        gpu = gpu_info(0)
        return RunnerDescription(
            "fake-gpu", "0", "GPU:0", "f32", None, device_model=gpu.name, gpu=gpu, timing="host-to-host"
        )

    def power_meter(self):
        from triggerbench.power import gpu_meter

        return gpu_meter(0)


class BatchingQueue(AsyncQueue):
    """A device that starts work only once ``n_in_flight`` queries are queued (or on ``wait_all``).

    Each query spins ``work_us`` on the device's one thread, so the device never runs faster
    than 1 / ``work_us`` queries per second, on any host.

    A harness that waited for each query before submitting the next would only ever start
    groups of one; ``max_group`` records the largest group started by ``submit``, so a test sees
    whether the harness kept ``n_in_flight`` in flight, whatever the host's speed. The group runs
    on a worker thread, which calls each ``on_done`` (never the submitter's thread). The
    ``fail_at``-th query fails on the device: its ``on_done`` is never called, and the error is
    raised by the next ``submit`` and by ``wait_all``, as OpenVINO does.
    """

    def __init__(self, n: int, fail_at: int | None = None, work_us: float = 50, prompt: bool = True) -> None:
        self.n_in_flight = n
        self.prompt = prompt  # what the harness asked for (this device always calls back at once)
        self.closed = False
        self.fail_at = fail_at
        self.work_us = work_us
        self.max_group = 0
        self.n_submitted = 0
        self.n_done = 0
        self.callback_threads: set[int] = set()
        self._queued: list = []
        self._device = ThreadPoolExecutor(1, thread_name_prefix="fake-device")
        self._running: Future | None = None
        self._error: BaseException | None = None
        self._lock = threading.Lock()

    def submit(self, on_done) -> None:
        if self._error is not None:
            raise self._error
        self.n_submitted += 1
        self._queued.append((self.n_submitted, on_done))
        if len(self._queued) == self.n_in_flight:
            self.max_group = max(self.max_group, self.n_in_flight)
            self._start_group()

    def _start_group(self) -> None:
        if self._running is not None:
            self._running.result()  # the device is busy: a full queue blocks, as on a real one
        group, self._queued = self._queued, []
        self._running = self._device.submit(self._run, group)

    def _run(self, group) -> None:
        for number, on_done in group:
            busy(self.work_us)()
            if number == self.fail_at:
                self._error = RuntimeError(f"device lost at query {number}")
                continue
            with self._lock:
                self.n_done += 1
                self.callback_threads.add(threading.get_ident())
            on_done()

    def wait_all(self) -> None:
        if self._queued:
            self._start_group()
        if self._running is not None:
            self._running.result()
        if self._error is not None:
            raise self._error

    def close(self) -> None:
        self._device.shutdown(wait=True)
        self.closed = True


class QueuedRunner(NullRunner):
    """Offers a ``BatchingQueue`` of 3 requests; the last one it made is kept for tests to read."""

    name = "queued"
    n_requests = 3
    fail_at: int | None = None
    last_queue: BatchingQueue | None = None

    def async_queue(self, staged: Any, n: int | None = None, prompt: bool = True) -> BatchingQueue:
        queue = BatchingQueue(n or self.n_requests, self.fail_at, prompt=prompt)
        type(self).last_queue = queue
        return queue


class QueueFailingRunner(QueuedRunner):
    """Its queue loses the device at the 30th query (in the calibration burst or in LoadGen's run:
    either way the record must be failed with the device's error, and nothing may hang)."""

    name = "queue-failing"
    fail_at = 30
