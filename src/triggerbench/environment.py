"""Capture what decides whether a figure can be trusted (CPU, governor, turbo, load, versions)."""

from __future__ import annotations

import os
import platform
import socket
import statistics
import subprocess
import time
from functools import cache
from importlib import metadata
from pathlib import Path

from triggerbench import __version__
from triggerbench.schema import Environment

#: Library versions recorded in every record.
PACKAGES = (
    "numpy",
    "tensorflow",
    "keras",
    "onnxruntime",
    "openvino",
    "onnx",
    "tf2onnx",
    "mlcommons-loadgen",
    "pydantic",
    "pandas",
    "pytest-benchmark",
)
#: Variables that set thread pools behind the backends' backs.
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "TF_NUM_INTRAOP_THREADS",
    "TF_NUM_INTEROP_THREADS",
    "OMP_PROC_BIND",
    "KMP_AFFINITY",
    "OPENBLAS_CORETYPE",
)
_SYS_CPU = Path("/sys/devices/system/cpu")


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def cpu_model() -> str | None:
    """The CPU model name from /proc/cpuinfo (None where it has none)."""
    text = _read(Path("/proc/cpuinfo")) or ""
    for line in text.splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or None


def _turbo() -> str | None:
    no_turbo = _read(_SYS_CPU / "intel_pstate" / "no_turbo")
    if no_turbo is not None:
        return "off" if no_turbo == "1" else "on"
    boost = _read(_SYS_CPU / "cpufreq" / "boost")
    if boost is not None:
        return "on" if boost == "1" else "off"
    return None


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str]:
    """Installed versions of ``names``; packages that are not installed are left out."""
    found = {}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def git_state(folder: Path) -> tuple[str | None, bool | None]:
    """The commit of the git checkout holding ``folder`` and whether tracked files differ from it.

    ``(None, None)`` outside a checkout (an installed wheel) or without git; untracked files
    (results, reports) do not make a checkout dirty.
    """
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, timeout=5
        )
        if head.returncode != 0 or not head.stdout.strip():
            return None, None
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None, None
    return head.stdout.strip(), (bool(status.stdout.strip()) if status.returncode == 0 else None)


#: Where Linux counts the threads runnable right now (``procs_running``).
PROC_STAT = Path("/proc/stat")


def runnable_others(samples: int = 5, interval_s: float = 0.01) -> int | None:
    """Threads runnable now beside this one: the median of a few reads of ``procs_running``.

    The 1-minute load average remembers the run's own previous measurement for minutes (a 2-core
    host looked busy after every record); this counts only what competes now, as pyperf's
    ``runnable_threads`` does. None where /proc/stat is not readable.
    """
    counts = []
    for i in range(samples):
        if i:
            time.sleep(interval_s)
        try:
            text = PROC_STAT.read_text()
        except OSError:
            return None
        running = [line.split()[1] for line in text.splitlines() if line.startswith("procs_running ")]
        if not running or not running[0].isdigit():
            return None
        counts.append(int(running[0]))
    return max(int(statistics.median(counts)) - 1, 0)  # this thread is one of them


@cache
def _package_git_state() -> tuple[str | None, bool | None]:
    return git_state(Path(__file__).resolve().parent)


def capture() -> Environment:
    """Snapshot the environment now (call at the start of a measurement)."""
    try:
        cores = sorted(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = list(range(os.cpu_count() or 0))
    try:
        load = list(os.getloadavg())
    except OSError:
        load = []
    return Environment(
        hostname=socket.gethostname(),
        platform=platform.platform(),
        python_version=platform.python_version(),
        cpu_model=cpu_model(),
        cpu_count_logical=os.cpu_count(),
        cores_used=cores,
        thread_settings={k: os.environ[k] for k in THREAD_VARIABLES if k in os.environ},
        cpu_governor=_read(_SYS_CPU / "cpu0" / "cpufreq" / "scaling_governor"),
        cpu_turbo=_turbo(),
        loadavg_1m_5m_15m=load,
        runnable_threads_others=runnable_others(),
        packages=package_versions(),
        triggerbench_version=__version__,
        git_commit=_package_git_state()[0],
        git_dirty=_package_git_state()[1],
    )


def load_problems(env: Environment) -> list[str]:
    """Warn when the host was busy at the start: other work skews latency tails.

    Judged by the threads runnable beside the measurement where Linux counts them, else by the
    1-minute load average.
    """
    cores = len(env.cores_used)
    if not cores:
        return []
    others = env.runnable_threads_others
    if others is not None:
        if others > 0.5 * cores:
            return [f"host busy at start: {others} other threads runnable on {cores} cores"]
        return []
    if env.loadavg_1m_5m_15m and env.loadavg_1m_5m_15m[0] > 0.5 * cores:
        return [f"host busy at start: load average {env.loadavg_1m_5m_15m[0]:.2f} on {cores} cores"]
    return []
