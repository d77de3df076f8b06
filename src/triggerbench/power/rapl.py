"""Intel/AMD RAPL package energy through the Linux powercap interface."""

from __future__ import annotations

import time
from pathlib import Path

from triggerbench.power.base import EnergyWindow, PowerMeter

POWERCAP = Path("/sys/class/powercap")


def _package_zones(root: Path = POWERCAP) -> list[Path]:
    # Top-level zones (intel-rapl:0, intel-rapl:1) are packages; intel-rapl:0:0 are sub-zones.
    return sorted(p for p in root.glob("intel-rapl:*") if p.name.count(":") == 1)


class RaplMeter(PowerMeter):
    """Sums ``energy_uj`` over CPU packages, unwrapping at ``max_energy_range_uj``."""

    source = "measured-rapl"

    def __init__(self, root: Path = POWERCAP) -> None:
        self._zones = _package_zones(root)
        self.scope = f"CPU packages ({len(self._zones)}), whole socket incl. other processes"

    @classmethod
    def available(cls, root: Path = POWERCAP) -> tuple[bool, str]:
        """Readable package zones exist (often root-only, absent in VMs and containers)."""
        zones = _package_zones(root)
        if not zones:
            return False, f"no RAPL package zones under {root} (VM, container or non-x86 host)"
        try:
            int((zones[0] / "energy_uj").read_text())
        except (OSError, ValueError) as exc:
            return False, f"cannot read {zones[0] / 'energy_uj'}: {exc.__class__.__name__}"
        return True, f"{len(zones)} RAPL package zone(s)"

    def _read_uj(self) -> list[int]:
        return [int((z / "energy_uj").read_text()) for z in self._zones]

    def start(self) -> None:
        """Read the counters at the window's start."""
        self._t0 = time.perf_counter()
        self._e0 = self._read_uj()

    def stop(self) -> EnergyWindow:
        """Read the counters at the window's end and add up the energy, unwrapping."""
        e1 = self._read_uj()
        duration_s = time.perf_counter() - self._t0
        total_uj = 0
        for zone, before, after in zip(self._zones, self._e0, e1, strict=True):
            delta = after - before
            if delta < 0:  # the counter wrapped
                delta += int((zone / "max_energy_range_uj").read_text())
            total_uj += delta
        return EnergyWindow(energy_j=total_uj * 1e-6, duration_s=duration_s)
