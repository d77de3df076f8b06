"""What this host has for the farm: CPU, NVIDIA GPUs, Alveo cards, HLS tools, a VART worker.

``detect`` looks (NVML, ``xbutil examine``, PATH, the runner registry) and turns what it finds
into the Dask resources the host's worker advertises (names: ``farm.resources``); a host
configuration file (``farm.host_config``) adds to or overrides them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from triggerbench import environment
from triggerbench.devices import nvidia
from triggerbench.farm import resources as names
from triggerbench.farm.host_config import HostConfig
from triggerbench.runners import registry
from triggerbench.runners.registry import RunnerStatus
from triggerbench.runners.vart import WORKER_ENV as VART_WORKER_ENV

#: HLS tools looked for on PATH, and the resource each gives.
HLS_TOOLS = {
    "vitis-run": names.VITIS_HLS,
    "vitis_hls": names.VITIS_HLS,
    "vivado_hls": names.VIVADO,
    "vivado": names.VIVADO,
}
#: Seconds ``xbutil examine`` may take to list the cards.
XBUTIL_TIMEOUT_S = 30.0
#: The card model in an Alveo shell name: ``xilinx_u50_gen3x16_xdma_201920_3`` -> ``u50``.
_SHELL_MODEL = re.compile(r"(?:^|_)(u\d+[a-z]*)(?:_|$)", re.IGNORECASE)


@dataclass(frozen=True)
class AlveoCard:
    """One Alveo card as ``xbutil examine`` lists it."""

    bdf: str
    shell: str
    #: The card model from its shell name (``u50``), or None when the shell names none.
    model: str | None


@dataclass(frozen=True)
class Capabilities:
    """What detection found, and the resources this host's worker advertises."""

    cpu_model: str | None
    cpu_cores: int
    gpus: list[str]
    gpu_reason: str
    alveo_cards: list[AlveoCard]
    alveo_reason: str
    hls_tools: dict[str, str]
    vart_worker_command: str | None
    runners: list[RunnerStatus]
    resources: dict[str, float] = field(default_factory=dict)

    @property
    def enabled_runners(self) -> list[str]:
        """The runners that can run here."""
        return [s.name for s in self.runners if s.available]


def nvidia_gpus() -> tuple[list[str], str]:
    """The names of the NVIDIA GPUs NVML sees (CUDA's order), and why none when none."""
    found: list[str] = []
    reason = ""
    while True:
        ok, reason = nvidia.gpu_available(len(found))
        if not ok:
            break
        found.append(nvidia.gpu_info(len(found)).name)
    return found, "" if found else reason


def parse_alveo_cards(report: dict) -> list[AlveoCard]:
    """The cards in ``xbutil examine -r host -f JSON``: ``system.host.devices[]`` (XRT's ReportHost).

    Each device has ``bdf`` and ``vbnv`` (the shell, e.g. ``xilinx_u50_gen3x16_xdma_201920_3``);
    newer XRT adds ``device_class``, and only its ``Alveo`` devices are cards here.
    """
    devices = report.get("system", {}).get("host", {}).get("devices", [])
    cards = []
    for device in devices if isinstance(devices, list) else []:
        if str(device.get("device_class", "Alveo")).lower() != "alveo":
            continue  # a Ryzen AI NPU, which newer XRT lists beside the cards
        shell = str(device.get("vbnv", ""))
        match = _SHELL_MODEL.search(shell)
        cards.append(AlveoCard(str(device.get("bdf", "?")), shell, match.group(1).lower() if match else None))
    return cards


def alveo_cards(xbutil: str = "xbutil") -> tuple[list[AlveoCard], str]:
    """The Alveo cards ``xbutil examine`` lists, and why none when none (never raises)."""
    if shutil.which(xbutil) is None:
        return [], f"{xbutil!r} not on PATH (XRT not installed, or /opt/xilinx/xrt/setup.sh not sourced)"
    with tempfile.TemporaryDirectory(prefix="triggerbench-xbutil-") as tmp:
        out = Path(tmp) / "host.json"  # xbutil refuses an existing -o file without --force
        try:
            proc = subprocess.run(
                [xbutil, "examine", "-r", "host", "-f", "JSON", "-o", str(out)],
                capture_output=True,
                text=True,
                timeout=XBUTIL_TIMEOUT_S,
            )
        except subprocess.TimeoutExpired:
            return [], f"xbutil examine did not answer within {XBUTIL_TIMEOUT_S:g} s"
        except OSError as exc:
            return [], f"cannot run {xbutil!r}: {exc}"
        if proc.returncode != 0:
            lines = (proc.stderr or proc.stdout).strip().splitlines()
            return [], f"xbutil examine exited {proc.returncode}: {lines[-1] if lines else 'no output'}"
        try:
            cards = parse_alveo_cards(json.loads(out.read_text()))
        except (OSError, ValueError, AttributeError) as exc:
            return [], f"xbutil examine wrote no readable JSON: {exc}"
    return cards, "" if cards else "xbutil examine lists no Alveo card"


def hls_tools() -> dict[str, str]:
    """The HLS tools on PATH: name -> full path."""
    return {tool: path for tool in HLS_TOOLS if (path := shutil.which(tool))}


def advertised_resources(
    gpus: list[str], cards: list[AlveoCard], tools: dict[str, str], vart_enabled: bool
) -> dict[str, float]:
    """The resources a host with these devices advertises, each with capacity 1.

    One GPU job at a time even on a host with several GPUs: the GPU runners measure on GPU 0
    unless told otherwise; run one worker per GPU (``CUDA_VISIBLE_DEVICES=i``, ``gpu=1``) to use
    them all.
    """
    found: dict[str, float] = {names.CPU: 1}
    if gpus:
        found[names.GPU] = 1
    for card in cards:
        found[names.alveo(card.model or "card")] = 1
    if cards and vart_enabled:
        found[names.VART] = 1
    for tool in tools:
        found[HLS_TOOLS[tool]] = 1
    return found


def apply_host_environment(config: HostConfig) -> None:
    """Make the configured VART worker command the one the vart runner (and its jobs) use.

    Called before detection and before a local cluster starts: its workers inherit it.
    """
    if config.vart.worker_command:
        os.environ[VART_WORKER_ENV] = config.vart.worker_command


def detect(config: HostConfig | None = None) -> Capabilities:
    """Look at this host; ``config`` adds to or overrides the resources (0 removes one)."""
    config = config or HostConfig()
    apply_host_environment(config)
    gpus, gpu_reason = nvidia_gpus()
    cards, alveo_reason = alveo_cards(config.tools.xbutil)
    tools = hls_tools()
    runners = registry.statuses()
    vart_enabled = any(s.name == "vart" and s.available for s in runners)
    resources = {**advertised_resources(gpus, cards, tools, vart_enabled), **config.resources}
    return Capabilities(
        cpu_model=environment.cpu_model(),  # the record's own reading of /proc/cpuinfo
        cpu_cores=os.cpu_count() or 1,
        gpus=gpus,
        gpu_reason=gpu_reason,
        alveo_cards=cards,
        alveo_reason=alveo_reason,
        hls_tools=tools,
        vart_worker_command=os.environ.get(VART_WORKER_ENV, "").strip() or None,
        runners=runners,
        resources={k: v for k, v in sorted(resources.items()) if v > 0},
    )
