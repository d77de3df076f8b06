"""A fake Linux powercap tree (RAPL) for Zeus to read: package zones with an optional DRAM sub-zone.

``install(monkeypatch, root, packages=2)`` writes ``root/intel-rapl/intel-rapl:N/{name,
energy_uj, max_energy_range_uj}`` (and ``intel-rapl:N:0`` named ``dram``) as the kernel lays
them out, and points triggerbench's and Zeus' powercap paths at it.
"""

from __future__ import annotations

from pathlib import Path

from doubles.nvml import reset_zeus


class Zone:
    """One RAPL zone: set ``energy_uj`` to advance its counter."""

    def __init__(self, path: Path, name: str, energy_uj: int, max_uj: int = 262_143_328_850) -> None:
        path.mkdir(parents=True)
        self.path = path
        (path / "name").write_text(f"{name}\n")
        (path / "max_energy_range_uj").write_text(f"{max_uj}\n")
        self.energy_uj = energy_uj

    @property
    def energy_uj(self) -> int:
        return int((self.path / "energy_uj").read_text())

    @energy_uj.setter
    def energy_uj(self, value: int) -> None:
        (self.path / "energy_uj").write_text(f"{value}\n")


def install(monkeypatch, root: Path, packages: int = 1, dram: bool = True) -> dict[str, Zone]:
    """Lay out the tree and make triggerbench and Zeus read it; returns the zones by domain name."""
    import zeus.device.cpu.rapl as zeus_rapl

    from triggerbench.power import rapl

    powercap = root / "class" / "powercap"
    control = powercap / "intel-rapl"
    zones: dict[str, Zone] = {}
    for i in range(packages):
        zones[f"package-{i}"] = Zone(control / f"intel-rapl:{i}", f"package-{i}", 1_000_000)
        if dram:
            zones[f"dram-{i}"] = Zone(control / f"intel-rapl:{i}" / f"intel-rapl:{i}:0", "dram", 500_000)
    (powercap / f"intel-rapl:{0}").symlink_to(control / "intel-rapl:0")  # as sysfs links each zone
    monkeypatch.setattr(rapl, "POWERCAP", powercap)
    monkeypatch.setattr(rapl, "ZEUS_CONTAINER_POWERCAP", root / "absent")
    monkeypatch.setattr(zeus_rapl, "RAPL_DIR", str(control))
    monkeypatch.setattr(zeus_rapl, "CONTAINER_RAPL_DIR", str(root / "absent" / "intel-rapl"))
    reset_zeus(monkeypatch)
    return zones
