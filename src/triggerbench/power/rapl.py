"""The host CPU's energy from RAPL (Linux powercap), package and DRAM domains, through Zeus."""

from __future__ import annotations

from pathlib import Path

from triggerbench.power.zeus_monitor import ZeusMeter, quiet_zeus

#: Where Linux exposes RAPL, and where Zeus looks in a container that mounts the host's
#: ``/sys`` there; checked before importing Zeus (0.4 s) on hosts that have neither.
POWERCAP = Path("/sys/class/powercap")
ZEUS_CONTAINER_POWERCAP = Path("/zeus_sys/class/powercap")

#: How to get read access (the counters are root-only since Linux 5.10, CVE-2020-8694).
PERMISSION_HINT = "run as root, or: sudo chmod a+r /sys/class/powercap/intel-rapl:*/energy_uj"


class RaplMeter(ZeusMeter):
    """Sums RAPL's package and DRAM energy over every CPU package (whole sockets)."""

    source = "measured-rapl"
    #: RAPL's counters update about every millisecond; Zeus' wrap-around process polls each
    #: second, so any window resolves.
    min_window_s = 0.01

    def __init__(self) -> None:
        quiet_zeus()
        from zeus.device import get_cpus

        cpus = get_cpus()
        packages = list(range(len(cpus)))
        super().__init__(gpu_indices=[], cpu_indices=packages)
        dram = [i for i in packages if cpus.supports_get_dram_energy_consumption(i)]
        self.scope = (
            f"RAPL: {len(packages)} CPU package(s)"
            + (f" and DRAM of {len(dram)}" if dram else ", no DRAM domain")
            + ", whole sockets including other processes"
        )

    @classmethod
    def available(cls) -> tuple[bool, str]:
        """Readable RAPL zones, as Zeus finds them; else the reason and how to fix it."""
        if not any(any(p.glob("intel-rapl*")) for p in (POWERCAP, ZEUS_CONTAINER_POWERCAP)):
            return False, f"no RAPL under {POWERCAP} (a VM, a container or a non-x86 host)"
        quiet_zeus()
        from zeus.device.cpu import get_cpus
        from zeus.device.cpu.common import ZeusCPUInitError, ZeusCPUNoPermissionError

        try:
            cpus = get_cpus()
        except ZeusCPUNoPermissionError:
            return False, f"RAPL counters are not readable by this user; {PERMISSION_HINT}"
        except ZeusCPUInitError:
            return False, "no RAPL under /sys/class/powercap (a VM, a container or a non-x86 host)"
        if len(cpus) == 0:
            return False, "RAPL lists no CPU package zone under /sys/class/powercap"
        return True, f"RAPL: {len(cpus)} CPU package zone(s)"
