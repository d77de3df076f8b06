"""Test-only runners that misbehave in the ways real backends do."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import numpy as np

from triggerbench.errors import ModelUnsupportedError
from triggerbench.power.base import PowerMeter
from triggerbench.runners.base import RunnerDescription
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
        return RunnerDescription("emulated", "0", "cpu-emulation", "ap_fixed", 1, self.extra, emulated=True)

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
