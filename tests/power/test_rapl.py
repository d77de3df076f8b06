"""The RAPL meter, read by Zeus from a fake powercap tree laid out as the kernel does."""

import pytest
from doubles import powercap
from doubles.nvml import reset_zeus

from triggerbench.power import default_meter
from triggerbench.power.rapl import RaplMeter


def test_rapl_adds_package_and_dram_domains_of_every_package(tmp_path, monkeypatch):
    zones = powercap.install(monkeypatch, tmp_path, packages=2)
    ok, reason = RaplMeter.available()
    assert ok, reason
    meter, _ = default_meter()
    assert isinstance(meter, RaplMeter)
    assert "2 CPU package(s) and DRAM of 2" in meter.scope
    meter.start()
    zones["package-0"].energy_uj += 3_000_000
    zones["package-1"].energy_uj += 1_000_000
    zones["dram-0"].energy_uj += 250_000
    window = meter.stop()
    meter.close()
    assert window.by_domain_j == pytest.approx(
        {"package-0": 3.0, "package-1": 1.0, "dram-0": 0.25, "dram-1": 0.0}, abs=1e-9
    )
    assert window.energy_j == pytest.approx(4.25)
    assert window.power_mean_w > 0


def test_rapl_without_dram_says_so_in_its_scope(tmp_path, monkeypatch):
    powercap.install(monkeypatch, tmp_path, packages=1, dram=False)
    assert "no DRAM domain" in RaplMeter().scope


def test_rapl_absent_says_why_without_importing_zeus(tmp_path, monkeypatch):
    from triggerbench.power import rapl

    monkeypatch.setattr(rapl, "POWERCAP", tmp_path)
    monkeypatch.setattr(rapl, "ZEUS_CONTAINER_POWERCAP", tmp_path / "absent")
    ok, reason = RaplMeter.available()
    assert not ok and reason == f"no RAPL under {tmp_path} (a VM, a container or a non-x86 host)"
    assert default_meter() == (None, reason)


def test_rapl_without_permission_says_how_to_get_it(tmp_path, monkeypatch):
    # Root reads any file, so the kernel's EACCES (RAPL is root-only since Linux 5.10) is raised
    # where Zeus turns it into its own error: reading a zone's energy_uj.
    import builtins

    import zeus.device.cpu.rapl as zeus_rapl

    powercap.install(monkeypatch, tmp_path)
    real_open = builtins.open

    def denying_open(path, *args, **kwargs):
        if str(path).endswith("energy_uj"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(zeus_rapl, "open", denying_open, raising=False)
    ok, reason = RaplMeter.available()
    assert not ok
    assert reason.startswith("RAPL counters are not readable by this user; run as root")
    assert default_meter() == (None, reason)


def test_this_hosts_rapl_is_measured_or_says_why(monkeypatch):
    reset_zeus(monkeypatch)
    meter, reason = default_meter()
    assert reason
    if meter is not None:
        meter.close()
