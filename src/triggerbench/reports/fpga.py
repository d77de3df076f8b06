"""The FPGA table: latency and resources per source (report, RTL testbench, open synthesis, estimate).

Resources are shown as used and percent of the part, as the seed talk's resource table does.
"""

from __future__ import annotations

import pandas as pd

from triggerbench.reports import format as fmt

RESOURCES = ("lut", "ff", "dsp", "bram", "uram", "carry")


def _used(entry: dict, name: str) -> str:
    used, available = entry.get(name), entry.get(f"{name}_available")
    if used is None:
        return "—"
    text = f"{int(used):,}" if float(used).is_integer() else f"{used:.3g}"  # BRAM counts halves
    return f"{text} ({100.0 * used / available:.2g} %)" if available else text


def _cycles(worst, best) -> str:
    if worst is None:
        return "—"
    return f"{best}-{worst}" if best is not None and best != worst else f"{worst}"


def fpga_table(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per FPGA figure set of every record that has any."""
    if frame.empty or "fpga" not in frame.columns:
        return pd.DataFrame()
    rows = []
    for _, row in frame.iterrows():
        entries = row["fpga"] if isinstance(row["fpga"], list) else []
        for entry in entries:
            latency_cycles = _cycles(entry.get("latency_cycles"), entry.get("latency_best_cycles"))
            rows.append(
                {
                    "workload": row["workload.name"],
                    "runner": row["runner.name"],
                    "source": entry["source"],
                    "part": entry.get("part") or "—",
                    "latency (cycles)": latency_cycles,
                    "latency": fmt.seconds(entry.get("latency_s")),
                    "clock": fmt.seconds(
                        None if entry.get("clock_period_ns") is None else entry["clock_period_ns"] * 1e-9
                    ),
                    "II (cycles)": _cycles(entry.get("interval_cycles"), entry.get("interval_min_cycles")),
                    **{name.upper(): _used(entry, name) for name in RESOURCES},
                    "method": entry.get("method") or "—",
                }
            )
    # FPGA figures do not depend on the batch size: one row per distinct figure set.
    return pd.DataFrame(rows).drop_duplicates(ignore_index=True)
