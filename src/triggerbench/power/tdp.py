"""Nominal TDPs by device model: the vendor's rated power, recorded beside a measured figure.

The table is ``tdp.toml`` beside this module (one place). A nominal TDP is never a measurement:
a record stores it as ``power_nominal`` with source ``nominal-tdp``, and keeps the measured
``power`` section as it is (the seed talk's 135 / 250 / 75 W figures are such nominal TDPs).
"""

from __future__ import annotations

import functools
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

TABLE = Path(__file__).with_name("tdp.toml")


@dataclass(frozen=True)
class NominalTdp:
    """One row of the table: a device model's rated power and where that figure comes from."""

    name: str
    pattern: str
    tdp_w: float
    source: str

    def matches(self, device_model: str) -> bool:
        """Whether ``device_model`` (as detected on the host) names this device."""
        return re.search(self.pattern, device_model.strip(), re.IGNORECASE) is not None


@functools.cache
def table() -> tuple[NominalTdp, ...]:
    """The rows of ``tdp.toml``, in order (the first that matches wins)."""
    rows = tomllib.loads(TABLE.read_text())["device"]
    return tuple(NominalTdp(r["name"], r["pattern"], float(r["tdp_w"]), r["source"]) for r in rows)


def nominal_tdp(device_model: str | None) -> tuple[NominalTdp | None, str]:
    """The nominal TDP of ``device_model`` and ``""``, or ``None`` and why there is none.

    ``device_model`` is the detected model string, e.g. ``Intel(R) Xeon(R) CPU E5-2698 v3 @
    2.30GHz``, ``NVIDIA H200`` or ``xilinx_u50_gen3x16_xdma_201920_3``. A model the table does
    not name (a VM's generic ``Intel(R) Xeon(R) Processor``) gives ``None``: no guess is made.
    """
    if not device_model or not device_model.strip():
        return None, "device model not detected: no nominal TDP"
    for row in table():
        if row.matches(device_model):
            return row, ""
    return None, f"no nominal TDP for {device_model!r} in triggerbench's table"
