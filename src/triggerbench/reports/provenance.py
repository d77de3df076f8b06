"""Where figures come from: host, date, windows and verdicts for captions; the report's provenance.

The provenance section lists devices, library versions, git commits and warnings.
"""

from __future__ import annotations

import pandas as pd

from triggerbench.measure.settings import MeasureSettings
from triggerbench.reports.frame import column

#: Packages whose versions the provenance section lists, when records carry them.
KEY_PACKAGES = (
    "tensorflow",
    "keras",
    "onnxruntime",
    "openvino",
    "hls4ml",
    "da4ml",
    "mlcommons-loadgen",
    "numpy",
)


def _distinct(series: pd.Series) -> list[str]:
    return sorted({str(v) for v in pd.unique(series.dropna())})  # unique first: 100k records


def windows(frame: pd.DataFrame) -> str:
    """``quick windows`` / ``full windows``, from the measurement settings the records carry."""
    # The tight loop and trigger stream record min_duration_s; LoadGen its own min_duration_ms.
    seconds = pd.to_numeric(column(frame, "scenario.settings.min_duration_s"), errors="coerce")
    millis = pd.to_numeric(column(frame, "scenario.settings.min_duration_ms"), errors="coerce")
    durations = seconds.fillna(millis / 1e3).dropna()
    if durations.empty:
        return "windows not recorded"
    quick = MeasureSettings.quick().min_duration_s
    shortest = float(durations.min())
    kind = "quick" if shortest <= quick else "full"
    return f"{kind} windows (>= {shortest:g} s)"


def dates(frame: pd.DataFrame) -> str:
    """The UTC day(s) of the records."""
    days = sorted({day[:10] for day in _distinct(column(frame, "timestamp_utc"))})
    if not days:
        return "date not recorded"
    return days[0] if len(days) == 1 else f"{days[0]} to {days[-1]}"


def hosts(frame: pd.DataFrame) -> str:
    """The host(s) the records were measured on."""
    names = _distinct(column(frame, "environment.hostname"))
    return ", ".join(names) if names else "host not recorded"


def verdicts(frame: pd.DataFrame) -> str:
    """LoadGen verdicts of the records, counted (``VALID x3, UNCHECKED x2 (tight loop)``)."""
    counts = column(frame, "validity.verdict").dropna().value_counts().to_dict()
    if not counts:
        return "no verdicts"
    parts = []
    for verdict in sorted(counts):
        note = " (no LoadGen verdict: tight loop / report)" if verdict == "UNCHECKED" else ""
        parts.append(f"{verdict} x{counts[verdict]}{note}")
    return "LoadGen " + ", ".join(parts)


def caption_context(frame: pd.DataFrame) -> str:
    """Host, date, windows and verdicts: the part of every caption that says where figures come from."""
    return f"host {hosts(frame)}, {dates(frame)}, {windows(frame)}, {verdicts(frame)}"


def provenance(frame: pd.DataFrame) -> list[tuple[str, str]]:
    """(label, text) pairs for the report's provenance section."""
    statuses = sorted(column(frame, "status").dropna().value_counts().to_dict().items())
    commits = ", ".join(c[:12] for c in _distinct(column(frame, "environment.git_commit")))
    versions = ", ".join(_distinct(column(frame, "environment.triggerbench_version")))
    rows = [
        ("records", f"{len(frame)} ({', '.join(f'{k} {v}' for k, v in statuses)})"),
        ("hosts", hosts(frame)),
        ("dates (UTC)", dates(frame)),
        ("CPU", "; ".join(_distinct(column(frame, "environment.cpu_model"))) or "not recorded"),
        ("devices", "; ".join(_distinct(column(frame, "runner.device"))) or "not recorded"),
        ("FPGA parts", "; ".join(_fpga_parts(frame)) or "none"),
        ("git commits", commits or "not recorded"),
        ("triggerbench", versions or "not recorded"),
        ("python", ", ".join(_distinct(column(frame, "environment.python_version"))) or "not recorded"),
        ("measurement", windows(frame)),
        ("verdicts", verdicts(frame)),
    ]
    for package in KEY_PACKAGES:
        versions = _distinct(column(frame, f"environment.packages.{package}"))
        if versions:
            rows.append((package, ", ".join(versions)))
    return rows


def _fpga_parts(frame: pd.DataFrame) -> list[str]:
    parts = set()
    for entries in column(frame, "fpga").dropna():
        for entry in entries if isinstance(entries, list) else []:
            if entry.get("part"):
                parts.add(str(entry["part"]))
    return sorted(parts)


def warning_lines(frame: pd.DataFrame, limit: int = 40) -> list[str]:
    """Distinct warnings (numbers masked, so one kind is one line) with how many records and which.

    At most ``limit`` lines; a last line says how many kinds were left out.
    """
    if "warnings" not in frame.columns or frame.empty:
        return []
    keys = ["workload.name", "runner.name", "runner.batch_size"]
    exploded = frame[[*keys, "warnings"]].explode("warnings").dropna(subset=["warnings"])
    if exploded.empty:
        return []
    exploded = exploded.assign(
        kind=exploded["warnings"].astype(str).str.replace(r"\d+(\.\d+)?(e-?\d+)?", "#", regex=True),
        where=exploded["workload.name"].astype(str)
        + " / "
        + exploded["runner.name"].astype(str)
        + " b"
        + exploded["runner.batch_size"].astype(str),
    )
    lines = []
    for _kind, group in sorted(exploded.groupby("kind"), key=lambda item: (-len(item[1]), item[0])):
        where = sorted(set(group["where"]))
        shown = ", ".join(where[:4]) + (f", +{len(where) - 4} more" if len(where) > 4 else "")
        example = sorted(group["warnings"].astype(str))[0]
        lines.append(f"{example} — {len(group)} record(s): {shown}")
    if len(lines) > limit:
        lines = lines[:limit] + [f"... and {len(lines) - limit} more kinds of warning"]
    return lines
