"""Reading the records' DataFrame (``triggerbench.results.load``) the way every layout and plot does.

A results set may hold any subset of sections (CPU only, no power, no FPGA): a column that no
record filled is simply absent from the frame, so every access goes through ``column``, which
gives a column of missing values instead of a ``KeyError``. Missing stays missing (NaN / None),
never 0.
"""

from __future__ import annotations

import math
import re

import pandas as pd

from triggerbench.results.select import KEY_COLUMNS, column, latest

__all__ = ["CONFIG_KEYS", "column", "latest"]  # re-exported: layouts and plots read them from here

#: What identifies one measured configuration (as ``compare`` matches records); repeated runs of it
#: are reduced to the latest.
CONFIG_KEYS = KEY_COLUMNS
FIRMWARE_SCENARIO = "firmware-report"
#: Records of per-layer profiles: their own section of a report, never rows of a performance table.
PROFILE_SCENARIO = "profile"
_BITS = re.compile(r"qstudent-(\d+)bit")


def value(row: pd.Series, name: str):
    """One field of one record; None when absent or NaN."""
    if name not in row.index:
        return None
    v = row[name]
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    return v


def null_note(row: pd.Series, name: str, label: str) -> str | None:
    """A footnote for a null figure ``name`` (``performance.latency_p99_s``): ``no p99: <reason>``.

    None when the figure is there. The reason is the record's own (``null_reasons``).
    """
    if value(row, name) is not None:
        return None
    section, field = name.rsplit(".", 1)
    return f"no {label}: {value(row, f'{section}.null_reasons.{field}') or 'not recorded'}"


def profiles(frame: pd.DataFrame) -> pd.DataFrame:
    """Records of per-layer profiles (``triggerbench profile``), whatever their status."""
    return frame[column(frame, "scenario.name") == PROFILE_SCENARIO]


def without_profiles(frame: pd.DataFrame) -> pd.DataFrame:
    """Every other record: what the performance layouts and plots read."""
    return frame[column(frame, "scenario.name") != PROFILE_SCENARIO]


def ok(frame: pd.DataFrame) -> pd.DataFrame:
    """Records that measured something."""
    return frame[column(frame, "status") == "ok"]


def not_ok(frame: pd.DataFrame) -> pd.DataFrame:
    """Skipped and failed records (they go in a list under a table, never as rows of dashes)."""
    return frame[column(frame, "status") != "ok"]


def measured_speed(frame: pd.DataFrame) -> pd.DataFrame:
    """Ok records whose throughput and latency are a device's, not an emulator's or a report's."""
    frame = ok(frame)
    emulated = column(frame, "performance.emulated").fillna(False).astype(bool)
    has_perf = column(frame, "performance.throughput_samples_per_s").notna()
    firmware = column(frame, "scenario.name") == FIRMWARE_SCENARIO
    return frame[has_perf & ~emulated & ~firmware]


def emulated(frame: pd.DataFrame) -> pd.DataFrame:
    """Ok records that timed a software emulation of hardware (C-simulation, RTL simulation)."""
    frame = ok(frame)
    return frame[column(frame, "performance.emulated").fillna(False).astype(bool)]


def bits(variant: str | None) -> int | None:
    """Weight bit width of a quantized student (``qstudent-4bit-kd`` -> 4); None for float models."""
    match = _BITS.search(variant or "")
    return int(match.group(1)) if match else None


def device_label(row: pd.Series) -> str:
    """The device of a record for a table: its model name, else the runner's word for it.

    A GPU runner names its model (``NVIDIA H200``); a generic ``CPU`` is named by the host's CPU
    model; otherwise what the runner called it (``GPU:0``).
    """
    device = value(row, "runner.device_model") or value(row, "runner.device")
    if device is None or str(device).strip().lower() == "cpu":
        device = value(row, "environment.cpu_model") or device
    return device_short(device)


def current(frame: pd.DataFrame) -> pd.DataFrame:
    """What a report shows: the latest record of each configuration on each host.

    Reduced once before any layout or plot, so that a history of 100k records costs what its
    latest few hundred do; the provenance still counts every record.
    """
    return latest(frame, (*CONFIG_KEYS, "environment.hostname"))


def device_short(device: str | None) -> str:
    """A CPU/GPU model name without trademark noise, short enough for a slide."""
    if not device:
        return "—"
    text = re.sub(r"\((R|TM|r|tm)\)", "", device)
    text = re.sub(r"\s+(CPU|Processor)\b", "", text)
    text = re.sub(r"\s+@\s+[\d.]+\s*GHz", "", text)
    return re.sub(r"\s+", " ", text).strip()
