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


def _numbers(frame: pd.DataFrame, name: str) -> pd.Series:
    return pd.to_numeric(column(frame, f"scenario.settings.{name}"), errors="coerce")


def _pairs(duration_s: pd.Series, queries: pd.Series) -> list[str]:
    """The records' distinct ``0.3 s / 50 queries`` (the count may be missing)."""
    pairs = pd.DataFrame({"s": duration_s, "n": queries}).dropna(subset=["s"]).drop_duplicates()
    ordered = sorted(pairs.itertuples(index=False), key=lambda p: (p.s, -1 if pd.isna(p.n) else p.n))
    return [f"{p.s:g} s" + ("" if pd.isna(p.n) else f" / {int(p.n):,} queries") for p in ordered]


#: How a header names each ``window_preset`` (``MeasureSettings.window_preset``).
_PRESETS = {
    "quick": "quick mode",
    "quick (emulation)": "quick mode, shortened for emulation",
    "default": "default windows",
    "default (emulation)": "default windows, shortened for emulation",
    "custom": "custom windows",
}


def _mode(frame: pd.DataFrame, seconds: pd.Series) -> str:
    """`` (quick mode)`` and the like, from the presets the records state (``window_preset``)."""
    presets = column(frame, "scenario.settings.window_preset")
    # Records written before window_preset: quick when their window is quick()'s.
    quick = seconds == MeasureSettings.quick().min_duration_s
    inferred = pd.Series("quick", index=seconds.index).where(quick)
    known = _distinct(presets.fillna(inferred))
    words = [_PRESETS.get(p, p) for p in known]
    if not words:
        return ""
    return f" ({words[0]})" if len(words) == 1 else f" (mixed: {'; '.join(words)})"


def windows(frame: pd.DataFrame) -> str:
    """The measurement windows the records ran, each distinct one, and their preset.

    E.g. ``min 0.3 s / 50 queries per point; trigger streams 0.3 s; warm-up 0.05 s / 5 queries
    (quick mode)``. The tight loop records ``min_duration_s``, LoadGen ``min_duration_ms`` (and
    its own ``min_query_count``, raised for early stopping), the trigger stream its length.
    """
    seconds = _numbers(frame, "min_duration_s").fillna(_numbers(frame, "min_duration_ms") / 1e3)
    parts = []
    points = _pairs(seconds, _numbers(frame, "min_query_count"))
    if points:
        maxima = {int(v) for v in _numbers(frame, "max_query_count").dropna()}
        capped = sorted(maxima - {MeasureSettings().max_query_count})
        cap = f" (at most {' / '.join(f'{m:,}' for m in capped)} queries)" if capped else ""
        parts.append(f"min {', '.join(points)} per point{cap}")
    streams = sorted({float(v) for v in _numbers(frame, "stream_duration_s").dropna()})
    if streams:
        parts.append("trigger streams " + ", ".join(f"{s:g} s" for s in streams))
    if not parts:
        return "windows not recorded"
    warmups = _pairs(_numbers(frame, "warmup_s"), _numbers(frame, "warmup_queries"))
    if warmups:
        parts.append(f"warm-up {', '.join(warmups)}")
    return "; ".join(parts) + _mode(frame, seconds)


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
    return f"host {hosts(frame)}, {dates(frame)}, measurement windows {windows(frame)}, {verdicts(frame)}"


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
        ("measurement windows", windows(frame)),
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
