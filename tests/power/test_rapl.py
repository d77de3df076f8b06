from triggerbench.power.rapl import RaplMeter


def _zone(root, name, energy_uj, max_uj=1_000_000):
    zone = root / name
    zone.mkdir()
    (zone / "energy_uj").write_text(str(energy_uj))
    (zone / "max_energy_range_uj").write_text(str(max_uj))
    return zone


def test_rapl_sums_packages_and_unwraps(tmp_path):
    p0 = _zone(tmp_path, "intel-rapl:0", 999_000)
    p1 = _zone(tmp_path, "intel-rapl:1", 10)
    _zone(tmp_path, "intel-rapl:0:0", 5)  # a sub-zone (core), inside package 0: not summed
    assert RaplMeter.available(tmp_path)[0]
    meter = RaplMeter(tmp_path)
    meter.start()
    (p0 / "energy_uj").write_text("2000")  # wrapped: 1_000 uj to the top, then 2_000
    (p1 / "energy_uj").write_text("500010")
    window = meter.stop()
    assert abs(window.energy_j - (3_000 + 500_000) * 1e-6) < 1e-12
    assert window.power_mean_w > 0


def test_rapl_unavailable_says_why(tmp_path):
    ok, reason = RaplMeter.available(tmp_path)
    assert not ok and "no RAPL package zones" in reason
    zone = tmp_path / "intel-rapl:0"
    zone.mkdir()
    ok, reason = RaplMeter.available(tmp_path)
    assert not ok and "cannot read" in reason
