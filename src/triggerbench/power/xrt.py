"""Alveo board power from XRT: ``xbutil examine -r electrical`` polled during the window.

xbutil has no energy counter, only an instantaneous board power (``power_consumption_watts``,
from the card's management controller), so a background thread polls it and the energy is the
trapezoid integral of the samples over the window. Each poll writes a fresh JSON file because
``xbutil examine -o FILE`` refuses an existing file unless ``--force`` is given.

The JSON (Xilinx/XRT ``XBHelpMenus.cpp`` ``produce_reports`` and ``ReportElectrical.cpp``) is
``{"schema_version": {...}, "devices": [{"device_id": BDF, "interface_type": "pcie",
"electrical": {"power_consumption_watts": "18.152385", "power_rails": [...]}}]}``; boost's
JSON writer makes every value a string, and a missing reading is the string ``"N/A"``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from triggerbench.errors import TriggerbenchError
from triggerbench.power.base import EnergyWindow, PowerMeter

#: Seconds one ``xbutil examine`` may take before the poll counts as failed.
XBUTIL_TIMEOUT_S = 30.0


class XrtMeterError(TriggerbenchError):
    """xbutil failed or wrote JSON without the board power; the message is one line."""


@dataclass(frozen=True)
class PowerSample:
    """One board-power reading, at the midpoint of the xbutil call that read it."""

    time_s: float
    power_w: float


@dataclass(frozen=True)
class XrtWindow(EnergyWindow):
    """An energy window integrated from polled power samples."""

    n_samples: int = 0
    power_min_w: float = 0.0
    power_max_w: float = 0.0


def _same_bdf(wanted: str, device_id: str) -> bool:
    # xbutil writes "0000:65:00.1"; users often give "65:00.1" (domain left out) or upper case.
    wanted, device_id = wanted.lower(), device_id.lower()
    return device_id == wanted or device_id.endswith(":" + wanted)


def parse_board_power_w(report: dict, device_bdf: str | None = None) -> float:
    """The board power in watts from one ``xbutil examine -r electrical -f JSON`` document.

    Args:
        report: The parsed JSON file.
        device_bdf: The card's PCIe BDF; ``None`` accepts a report holding exactly one device.

    Raises:
        XrtMeterError: A node is missing or the card reports no power; the message names it.
    """
    devices = report.get("devices")
    if not isinstance(devices, list) or not devices:
        raise XrtMeterError("xbutil JSON has no 'devices' list (no card examined)")
    if device_bdf is None:
        if len(devices) != 1:
            ids = ", ".join(str(d.get("device_id")) for d in devices)
            raise XrtMeterError(f"xbutil examined {len(devices)} cards ({ids}); give the card's BDF")
        device = devices[0]
    else:
        found = [d for d in devices if _same_bdf(device_bdf, str(d.get("device_id", "")))]
        if not found:
            ids = ", ".join(str(d.get("device_id")) for d in devices)
            raise XrtMeterError(f"xbutil JSON has no device {device_bdf} (found: {ids})")
        device = found[0]
    electrical = device.get("electrical")
    if not isinstance(electrical, dict):
        raise XrtMeterError(f"xbutil JSON lacks devices[{device.get('device_id')}].electrical")
    if "power_consumption_watts" not in electrical:
        # Cards without sensors get {"msg": "No sensors present"} (sensor.cpp read_electrical).
        detail = electrical.get("msg") or electrical.get("error_msg")
        raise XrtMeterError(
            "xbutil JSON lacks electrical.power_consumption_watts" + (f" ({detail})" if detail else "")
        )
    value = electrical["power_consumption_watts"]
    try:
        watts = float(value)
    except (TypeError, ValueError):
        raise XrtMeterError(f"card reports no board power (power_consumption_watts = {value!r})") from None
    if watts < 0:
        raise XrtMeterError(f"card reports a negative board power ({value!r})")
    return watts


def integrate_energy_j(samples: list[PowerSample], t_start_s: float, t_stop_s: float) -> float:
    """Energy over ``[t_start_s, t_stop_s]``: trapezoids between samples, flat beyond the edges.

    Power before the first and after the last sample is taken as that sample's, since xbutil
    cannot read at the window's exact edges; samples outside the window are clipped to it.
    """
    if not samples or t_stop_s <= t_start_s:
        return 0.0
    pts = sorted((s.time_s, s.power_w) for s in samples)
    times = [t_start_s] + [min(max(t, t_start_s), t_stop_s) for t, _ in pts] + [t_stop_s]
    powers = [pts[0][1]] + [p for _, p in pts] + [pts[-1][1]]
    return sum(
        0.5 * (p0 + p1) * (t1 - t0)
        for t0, t1, p0, p1 in zip(times, times[1:], powers, powers[1:], strict=False)
    )


class XrtMeter(PowerMeter):
    """Polls an Alveo card's board power through ``xbutil`` and integrates it over the window."""

    source = "measured-xrt"

    def __init__(
        self, device_bdf: str | None = None, xbutil: str = "xbutil", interval_s: float = 0.5
    ) -> None:
        if interval_s <= 0:
            raise ValueError(f"interval_s must be > 0, got {interval_s}")
        self.device_bdf = device_bdf
        self.xbutil = xbutil
        self.interval_s = interval_s
        # A trapezoid over fewer than a few samples says little about the mean.
        self.min_window_s = 4 * interval_s
        self.scope = self._scope()
        self._samples: list[PowerSample] = []
        self._errors: list[str] = []
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._tmp: tempfile.TemporaryDirectory | None = None
        self._n_polls = 0

    def _scope(self, detail: str = "") -> str:
        card = self.device_bdf or "the only card"
        return f"Alveo board, whole card (xbutil electrical power_consumption_watts, BDF {card}){detail}"

    @classmethod
    def available(cls, device_bdf: str | None = None, xbutil: str = "xbutil") -> tuple[bool, str]:
        """Whether ``xbutil`` is on PATH and one poll gives the board power; else why not."""
        if shutil.which(xbutil) is None:
            return (
                False,
                f"{xbutil!r} not found on PATH (XRT not installed, or /opt/xilinx/xrt/setup.sh not sourced)",
            )
        meter = cls(device_bdf, xbutil)
        try:
            with tempfile.TemporaryDirectory(prefix="triggerbench-xrt-") as tmp:
                watts = meter._poll_w(Path(tmp) / "probe.json")
        except XrtMeterError as exc:
            return False, str(exc)
        return True, f"xbutil reads {watts:g} W board power ({meter.device_bdf or 'the only card'})"

    def _command(self, out: Path) -> list[str]:
        cmd = [self.xbutil, "examine"]
        if self.device_bdf:
            cmd += ["-d", self.device_bdf]
        return cmd + ["-r", "electrical", "-f", "JSON", "-o", str(out)]

    def _poll_w(self, out: Path) -> float:
        """Run xbutil once into the new file ``out`` and return the board power."""
        try:
            proc = subprocess.run(
                self._command(out), capture_output=True, text=True, timeout=XBUTIL_TIMEOUT_S, check=False
            )
        except subprocess.TimeoutExpired:
            raise XrtMeterError(f"xbutil examine did not answer within {XBUTIL_TIMEOUT_S:g} s") from None
        except OSError as exc:
            raise XrtMeterError(f"cannot run {self.xbutil!r}: {exc}") from None
        try:
            if proc.returncode != 0 or not out.is_file():
                lines = (proc.stderr or proc.stdout).strip().splitlines()
                raise XrtMeterError(
                    f"xbutil examine exited {proc.returncode}: {lines[-1] if lines else 'no output'}"
                )
            try:
                report = json.loads(out.read_text())
            except (OSError, ValueError) as exc:
                raise XrtMeterError(f"xbutil wrote unreadable JSON: {exc}") from None
            return parse_board_power_w(report, self.device_bdf)
        finally:
            out.unlink(missing_ok=True)

    def _poll_once(self) -> None:
        assert self._tmp is not None
        self._n_polls += 1
        out = Path(self._tmp.name) / f"electrical-{self._n_polls:06d}.json"
        t0 = time.perf_counter()
        try:
            watts = self._poll_w(out)
        except XrtMeterError as exc:
            self._errors.append(str(exc))
            return
        self._samples.append(PowerSample(0.5 * (t0 + time.perf_counter()), watts))

    def _run(self) -> None:
        # Poll until stopped, then once more so a sample follows the window's end.
        while True:
            self._poll_once()
            if self._stop.wait(self.interval_s):
                break
        self._poll_once()

    def start(self) -> None:
        """Open the window and start polling in the background."""
        self._samples, self._errors, self._n_polls = [], [], 0
        self._stop.clear()
        self._tmp = tempfile.TemporaryDirectory(prefix="triggerbench-xrt-")
        self._t0 = time.perf_counter()
        self._thread = threading.Thread(target=self._run, name="xrt-power-poll", daemon=True)
        self._thread.start()

    def stop(self) -> XrtWindow:
        """Close the window, wait for the last poll and integrate the samples.

        Raises:
            XrtMeterError: No poll gave a reading (the message says why).
        """
        t1 = time.perf_counter()
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2 * XBUTIL_TIMEOUT_S + self.interval_s)
        if self._tmp is not None:
            self._tmp.cleanup()
        samples, errors = list(self._samples), list(self._errors)
        if not samples:
            why = errors[-1] if errors else "xbutil still running"
            raise XrtMeterError(f"no board-power reading in {self._n_polls} xbutil poll(s): {why}")
        failed = f"; {len(errors)} poll(s) failed: {errors[-1]}" if errors else ""
        self.scope = self._scope(f", {len(samples)} samples every ~{self.interval_s:g} s{failed}")
        watts = [s.power_w for s in samples]
        return XrtWindow(
            energy_j=integrate_energy_j(samples, self._t0, t1),
            duration_s=t1 - self._t0,
            n_samples=len(samples),
            power_min_w=min(watts),
            power_max_w=max(watts),
        )
