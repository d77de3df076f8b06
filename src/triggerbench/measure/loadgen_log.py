"""Read MLPerf LoadGen's detail log back: its values, warnings, errors and the verdict.

The figures of a LoadGen record come from here, so what we report is what LoadGen decided.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from triggerbench.schema import Validity

_MLLOG_PREFIX = ":::MLLOG "


@dataclass
class DetailLog:
    """What LoadGen wrote to ``mlperf_log_detail.txt``: the last value of each key, and messages."""

    values: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    unparsed_lines: int = 0


def parse_detail_log(path: Path) -> DetailLog:
    """Read LoadGen's detail log (lines ``:::MLLOG {json}``) into a ``DetailLog``."""
    log = DetailLog()
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if not line.startswith(_MLLOG_PREFIX):
            continue
        try:
            entry = json.loads(line[len(_MLLOG_PREFIX) :])
        except json.JSONDecodeError:
            log.unparsed_lines += 1
            continue
        key, value = entry.get("key"), entry.get("value")
        log.values[key] = value
        meta = entry.get("metadata") or {}
        if meta.get("is_error"):
            log.errors.append(f"{key}: {value}")
        elif meta.get("is_warning"):
            log.warnings.append(f"{key}: {value}")
    return log


_CHECKS = {
    "result_min_duration_met": "min duration not met",
    "result_min_queries_met": "min query count not met",
    "early_stopping_met": "early stopping criterion not met",
    "result_perf_constraints_met": "performance constraints not met (latency bound exceeded)",
}


def validity(detail: DetailLog, log_dir: Path) -> Validity:
    """LoadGen's verdict, each failed check in words, and LoadGen's own warnings/errors."""
    v = detail.values
    verdict = v.get("result_validity")
    reasons: list[str] = []
    if verdict not in ("VALID", "INVALID"):
        reasons.append(f"LoadGen wrote no verdict (result_validity={verdict!r})")
        verdict = "INVALID"
    for key, words in _CHECKS.items():
        if v.get(key) is False:
            reasons.append(words)
    if v.get("early_stopping_met") is False and v.get("early_stopping_result"):
        reasons.append(f"early stopping: {' '.join(str(v['early_stopping_result']).split())}")
    if v.get("result_invalid_reason"):
        reasons.append(f"LoadGen recommends: {str(v['result_invalid_reason']).strip()}")
    reasons += [f"LoadGen error: {e}" for e in detail.errors]
    reasons += [f"LoadGen warning: {w}" for w in detail.warnings]
    if detail.unparsed_lines:
        reasons.append(f"{detail.unparsed_lines} detail-log lines could not be parsed")
    return Validity(verdict=verdict, reasons=reasons, loadgen_log_dir=str(log_dir))
