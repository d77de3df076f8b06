"""The first comparison table: throughput, latency, power and accuracy per runner, as Markdown."""

from __future__ import annotations

import pandas as pd

from triggerbench.reports import format as fmt
from triggerbench.reports.fpga import fpga_table

KEYS = ["workload.name", "scenario.name", "runner.batch_size", "runner.name"]


def _get(row: pd.Series, column: str):
    return row[column] if column in row.index else None


def _power(row: pd.Series) -> str:
    watts = _get(row, "power.power_mean_w")
    source = _get(row, "power.source")
    if watts is None or pd.isna(watts):
        return f"— ({source})"
    per_inf = _get(row, "power.energy_per_inference_j")
    return f"{fmt.number(watts)} W, {fmt.number(per_inf)} J/inf ({source})"


def _throughput(row: pd.Series) -> str:
    text = fmt.rate(_get(row, "performance.throughput_samples_per_s"), "samples/s")
    # C-simulation / RTL simulation speed must never read as the FPGA's.
    return f"{text} (emulated)" if _get(row, "performance.emulated") is True else text


def _status(row: pd.Series) -> str:
    if row["status"] == "ok":
        return row.get("validity.verdict", "")
    message = _get(row, "error.message") or ""
    return f"{row['status']}: {message[:80]}"


def comparison_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows of display strings, one per record, sorted by workload, scenario, batch, runner."""
    if frame.empty:
        return pd.DataFrame()
    frame = frame.sort_values([k for k in KEYS if k in frame.columns], kind="stable")
    rows = []
    for _, row in frame.iterrows():
        rows.append(
            {
                "workload": row["workload.name"],
                "scenario": row["scenario.name"],
                "batch": int(row["runner.batch_size"]) if row["scenario.name"] != "firmware-report" else "—",
                "runner": row["runner.name"],
                "precision": _get(row, "runner.precision") or "—",
                "throughput": _throughput(row),
                "p50": fmt.seconds(_get(row, "performance.latency_p50_s")),
                "p99": fmt.seconds(_get(row, "performance.latency_p99_s")),
                "power": _power(row),
                "max abs Δ vs ref": fmt.number(_get(row, "accuracy.max_abs_diff")),
                "status": _status(row),
            }
        )
    return pd.DataFrame(rows)


def render(frame: pd.DataFrame) -> str:
    """The Markdown report for a DataFrame of records."""
    table = comparison_table(frame)
    if table.empty:
        return "# triggerbench report\n\nNo records.\n"
    lines = [
        "# triggerbench report",
        "",
        f"{len(frame)} record(s); latency per query (one batch); power source in brackets.",
        "",
        table.to_markdown(index=False),
        "",
    ]
    fpga = fpga_table(frame)
    if not fpga.empty:
        lines += [
            "## FPGA latency and resources",
            "",
            "Percent of the part in brackets. Sources: HLS reports (`hls-*`, `vivado-synth`), clock "
            "edges counted in an RTL simulation (`rtl-testbench`), Yosys without timing closure "
            "(`open-synthesis`), analytic `estimate`.",
            "",
            fpga.to_markdown(index=False),
            "",
        ]
    warned = frame[frame["warnings"].map(bool)] if "warnings" in frame.columns else frame.iloc[:0]
    if not warned.empty:
        lines += ["## Warnings", ""]
        for _, row in warned.iterrows():
            for w in row["warnings"]:
                lines.append(
                    f"- {row['workload.name']} / {row['runner.name']} / "
                    f"{row['scenario.name']} b{int(row['runner.batch_size'])}: {w}"
                )
        lines.append("")
    return "\n".join(lines)
