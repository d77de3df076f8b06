"""The XRT board-power meter against a fake ``xbutil`` executable that writes XRT's JSON layout."""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
import time
from pathlib import Path

import pytest

from triggerbench.power import XrtMeter, XrtMeterError
from triggerbench.power.xrt import PowerSample, integrate_energy_j, parse_board_power_w

FIXTURES = Path(__file__).parent / "fixtures"

# A stand-in for ``xbutil examine`` that follows xbutil2/SubCmdExamine.cpp (XRT 2021.1): -f needs
# -o, an existing -o file is refused without --force, an unknown -d BDF is an error, and the JSON
# goes to the -o file. Its power values come from FAKE_XBUTIL_WATTS, one per call, last repeated.
FAKE_XBUTIL = """\
import argparse, json, os, sys
from pathlib import Path

p = argparse.ArgumentParser()
p.add_argument("cmd")
p.add_argument("-d", "--device")
p.add_argument("-r", "--report", action="append")
p.add_argument("-f", "--format")
p.add_argument("-o", "--output")
p.add_argument("--force", action="store_true")
a = p.parse_args()
if a.cmd != "examine" or a.report != ["electrical"]:
    sys.exit(f"fake xbutil: unexpected call {sys.argv}")
if a.format and not a.output:
    sys.exit("ERROR: Please specify an output file to redirect the json to")
if a.output and os.path.exists(a.output) and not a.force:
    sys.exit(f"ERROR: The output file '{a.output}' already exists.  Please either remove it or "
             "execute this command again with the '--force' option to overwrite it.")
env = os.environ
if env.get("FAKE_XBUTIL_FAIL"):
    sys.exit(env["FAKE_XBUTIL_FAIL"])
report = json.loads(Path(env["FAKE_XBUTIL_FIXTURE"]).read_text())
if a.device and not any(d["device_id"].endswith(a.device.lower()) for d in report["devices"]):
    sys.exit(f"ERROR: Specified device BDF '{a.device}' not found")
counter = Path(env["FAKE_XBUTIL_COUNTER"])
n = int(counter.read_text()) if counter.exists() else 0
counter.write_text(str(n + 1))
watts = env.get("FAKE_XBUTIL_WATTS")
if watts:
    values = watts.split(",")
    report["devices"][0]["electrical"]["power_consumption_watts"] = values[min(n, len(values) - 1)]
Path(a.output).write_text(json.dumps(report, indent=4))
print(f"Successfully wrote the {a.format} file: {a.output}")
"""


@pytest.fixture
def fake_xbutil(tmp_path, monkeypatch):
    """Put a fake ``xbutil`` on PATH; returns a function choosing its fixture and power values."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    exe = bin_dir / "xbutil"
    exe.write_text(f"#!{sys.executable}\n{FAKE_XBUTIL}")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    counter = tmp_path / "calls"
    monkeypatch.setenv("FAKE_XBUTIL_COUNTER", str(counter))

    def use(fixture: str, watts: str | None = None, fail: str | None = None):
        monkeypatch.setenv("FAKE_XBUTIL_FIXTURE", str(FIXTURES / fixture))
        for key, value in (("FAKE_XBUTIL_WATTS", watts), ("FAKE_XBUTIL_FAIL", fail)):
            if value is None:
                monkeypatch.delenv(key, raising=False)
            else:
                monkeypatch.setenv(key, value)
        return counter

    return use


def _load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def test_parses_both_xrt_layouts_with_string_values():
    assert parse_board_power_w(_load("xbutil_electrical_u50_2021.json")) == pytest.approx(18.152385)
    assert parse_board_power_w(_load("xbutil_electrical_data_driven.json"), "17:00.1") == pytest.approx(20.5)


@pytest.mark.parametrize(
    ("fixture", "bdf", "says"),
    [
        ("xbutil_electrical_no_electrical.json", None, "lacks devices[0000:65:00.1].electrical"),
        ("xbutil_electrical_no_sensors.json", None, "power_consumption_watts (No sensors present)"),
        ("xbutil_electrical_power_na.json", None, "no board power (power_consumption_watts = 'N/A')"),
        ("xbutil_electrical_u50_2021.json", "0000:17:00.1", "no device 0000:17:00.1 (found: 0000:65:00.1)"),
    ],
)
def test_json_without_the_power_names_what_is_missing(fixture, bdf, says):
    with pytest.raises(XrtMeterError) as info:
        parse_board_power_w(_load(fixture), bdf)
    assert says in str(info.value) and "\n" not in str(info.value)


def test_several_cards_need_a_bdf():
    report = _load("xbutil_electrical_u50_2021.json")
    second = json.loads(json.dumps(report["devices"][0]))
    second["device_id"] = "0000:b3:00.1"
    second["electrical"]["power_consumption_watts"] = "30.000000"
    report["devices"].append(second)
    with pytest.raises(XrtMeterError, match="examined 2 cards"):
        parse_board_power_w(report)
    assert parse_board_power_w(report, "B3:00.1") == pytest.approx(30.0)


def test_trapezoid_integral_with_flat_edges():
    samples = [PowerSample(1.0, 10.0), PowerSample(3.0, 30.0)]
    # 0-1 s flat 10 W, 1-3 s ramp 10->30 W (40 J), 3-4 s flat 30 W: 10 + 40 + 30.
    assert integrate_energy_j(samples, 0.0, 4.0) == pytest.approx(80.0)
    # A sample after the window's end (the closing poll) is clipped to the end.
    assert integrate_energy_j([PowerSample(0.0, 20.0), PowerSample(2.0, 20.0)], 0.0, 1.0) == pytest.approx(
        20.0
    )
    assert integrate_energy_j([], 0.0, 1.0) == 0.0


def test_unavailable_without_xbutil(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    ok, reason = XrtMeter.available()
    assert not ok and "'xbutil' not found on PATH" in reason


def test_available_runs_xbutil_and_reports_bad_json(fake_xbutil):
    fake_xbutil("xbutil_electrical_u50_2021.json")
    ok, reason = XrtMeter.available("65:00.1")
    assert ok and "18.1524 W" in reason
    fake_xbutil("xbutil_electrical_no_sensors.json")
    ok, reason = XrtMeter.available()
    assert not ok and "No sensors present" in reason
    fake_xbutil("xbutil_electrical_u50_2021.json")
    ok, reason = XrtMeter.available("0000:aa:00.1")
    assert not ok and "exited 1: ERROR: Specified device BDF '0000:aa:00.1' not found" in reason


def wait_for_calls(counter: Path, n: int, timeout_s: float = 120.0) -> None:
    """Wait until the fake xbutil has been started ``n`` times (however slow the host is)."""
    deadline = time.monotonic() + timeout_s
    while not (counter.exists() and int(counter.read_text() or 0) >= n):
        assert time.monotonic() < deadline, f"xbutil was not polled {n} times in {timeout_s:g} s"
        time.sleep(0.01)


def test_window_integrates_polled_power_through_the_real_subprocess(fake_xbutil):
    counter = fake_xbutil("xbutil_electrical_u50_2021.json", watts="20.000000,40.000000")
    meter = XrtMeter("0000:65:00.1", interval_s=0.05)
    meter.start()
    # Polls run one after another: once the third has started, the first two (20 W, then 40 W)
    # are samples inside the window, whatever a poll costs on this host.
    wait_for_calls(counter, 3)
    window = meter.stop()
    polls = int(counter.read_text())
    # Each poll wrote a fresh -o file (the fake refuses to overwrite), and one follows the window.
    assert window.n_samples == polls >= 4
    assert (window.power_min_w, window.power_max_w) == (20.0, 40.0)
    # 20 W up to the first sample, the ramp to 40 W, 40 W to the end: strictly between the two
    assert 20.0 * window.duration_s < window.energy_j < 40.0 * window.duration_s
    assert meter.source == "measured-xrt"
    assert "BDF 0000:65:00.1" in meter.scope and f"{polls} samples" in meter.scope


def test_constant_power_gives_that_power(fake_xbutil):
    fake_xbutil("xbutil_electrical_data_driven.json")
    meter = XrtMeter(interval_s=0.05)
    meter.start()
    time.sleep(0.2)  # any number of polls will do: one starts the window, one follows it
    window = meter.stop()
    assert window.n_samples >= 2
    assert window.energy_j == pytest.approx(20.5 * window.duration_s)


def test_failing_polls_make_stop_raise_one_line(fake_xbutil):
    fake_xbutil("xbutil_electrical_u50_2021.json", fail="ERROR: Device not ready")
    meter = XrtMeter(interval_s=0.05)
    meter.start()
    time.sleep(0.1)
    with pytest.raises(
        XrtMeterError, match=r"no board-power reading in \d+ xbutil poll\(s\): .*Device not ready$"
    ):
        meter.stop()


def test_missing_executable_at_poll_time_is_a_meter_error(tmp_path):
    meter = XrtMeter(xbutil=str(tmp_path / "no-such-xbutil"), interval_s=0.05)
    meter.start()
    with pytest.raises(XrtMeterError, match="cannot run"):
        meter.stop()


def test_fake_refuses_to_overwrite_like_xrt(fake_xbutil, tmp_path):
    """The double is only as good as its fidelity: an existing -o file is refused."""
    import subprocess

    fake_xbutil("xbutil_electrical_u50_2021.json")
    out = tmp_path / "exists.json"
    out.write_text("{}")
    cmd = [shutil.which("xbutil"), "examine", "-r", "electrical", "-f", "JSON", "-o", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert proc.returncode != 0 and "already exists" in proc.stderr


def test_a_runner_paired_with_the_meter_gets_measured_xrt_power(
    fake_xbutil, standin_ctx, quick_settings, tmp_path
):
    """Through the real measurement: the record's power comes from the polled card."""
    from triggerbench.measure import session
    from triggerbench.measure.job import Job
    from triggerbench.runners.onnxruntime import OnnxRuntimeRunner

    class AlveoPaired(OnnxRuntimeRunner):
        def power_meter(self):
            ok, reason = XrtMeter.available("0000:17:00.1")
            return (XrtMeter("0000:17:00.1", interval_s=0.05), reason) if ok else (None, reason)

    fake_xbutil("xbutil_electrical_data_driven.json")
    job = Job(runner="onnxruntime", settings=quick_settings, out_dir=tmp_path)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(session.registry, "get", lambda name: AlveoPaired)
        record = session.measure_one(standin_ctx, job)
    assert record.status == "ok", record.error
    assert record.power.source == "measured-xrt"
    assert record.power.power_mean_w == pytest.approx(20.5)
    throughput = record.performance.throughput_samples_per_s
    assert record.power.energy_per_inference_j == pytest.approx(record.power.power_mean_w / throughput)
    assert "BDF 0000:17:00.1" in record.power.scope
