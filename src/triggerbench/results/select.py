"""Selecting records in a DataFrame of ``load``: the configuration key and the latest run of each.

``compare`` matches records by ``KEY_COLUMNS`` and reports show one record per configuration;
both reduce repeated runs here, so "the latest" means the same everywhere.
"""

from __future__ import annotations

import pandas as pd

#: What makes two records "the same measurement": a repeated run has the same key.
KEY_COLUMNS = (
    "workload.name",
    "runner.name",
    "runner.device",
    "runner.precision",
    "scenario.name",
    "runner.batch_size",
)


def column(frame: pd.DataFrame, name: str) -> pd.Series:
    """``frame[name]``, or a column of missing values where no record has that field."""
    if name in frame.columns:
        return frame[name]
    return pd.Series([None] * len(frame), index=frame.index, dtype=object)


def latest(frame: pd.DataFrame, keys: tuple[str, ...] = KEY_COLUMNS) -> pd.DataFrame:
    """One record per ``keys``: the latest by ``timestamp_utc``, rows in their original order.

    Times are compared as times, not strings (a whole-second stamp has no fraction: ``...05Z``
    sorts after ``...05.5Z`` as text); a record without a time counts as the oldest. Only the key
    columns are sorted: a record row is ~200 columns, and 100k of them cost seconds to copy.
    """
    if frame.empty:
        return frame
    slim = pd.DataFrame({k: column(frame, k) for k in keys}, index=frame.index)
    slim["_stamp"] = pd.to_datetime(
        column(frame, "timestamp_utc"), utc=True, errors="coerce", format="ISO8601"
    )
    slim = slim.reset_index(names="_row").sort_values("_stamp", kind="stable", na_position="first")
    keep = slim.drop_duplicates(subset=list(keys), keep="last")["_row"]
    return frame[frame.index.isin(keep)]


def runs_per_key(frame: pd.DataFrame, keys: tuple[str, ...] = KEY_COLUMNS) -> pd.Series:
    """How many records each key has (a MultiIndex over ``keys``; missing values are a key too)."""
    slim = pd.DataFrame({k: column(frame, k) for k in keys}, index=frame.index)
    return slim.groupby(list(keys), dropna=False, sort=False).size()
