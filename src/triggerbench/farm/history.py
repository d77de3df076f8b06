"""A history root: one sub-folder of records per night, loaded into one slim table, cached per night.

The farm writes ``ROOT/<YYYY-MM-DD>_<commit8>_<hostset>/``, but any sub-folder of record files is a
night (a lab seeds the history by copying older results there): nights are ordered by their
records' own timestamps (the median of each night's), never by folder names, and a night's commit
is its records' ``environment.git_commit``. A night whose records cannot be read is left out with
a warning naming its folder; the other nights are kept.

Validating 100k record files with pydantic costs about a minute, so each night's slim table (the
series keys, status, time, commit, host and the figures of ``FIGURES``) is cached as one JSON
document in ``ROOT/.triggerbench-cache/<night>.json``, keyed by the names, sizes and modification
times of the night's files: a warm load reads 365 small files instead of 100k large ones.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from triggerbench.errors import TriggerbenchSkippedFileWarning, UserInputError
from triggerbench.files import atomic_write_text
from triggerbench.results.compare_figures import FIGURES, Figure
from triggerbench.results.select import KEY_COLUMNS
from triggerbench.results.store import OnSkip, SkippedFile, load_records
from triggerbench.schema import SCHEMA_VERSION, BenchmarkRecord

#: Folder under the history root that holds one cache file per night (hidden: never a night).
CACHE_DIR_NAME = ".triggerbench-cache"
#: Bump when the cached columns or their encoding change: every night is then read afresh.
CACHE_FORMAT = 2

#: What makes one nightly series (besides the figure): ``compare``'s key plus the device's model,
#: so a job that lands on another CPU or GPU model one night starts another series, not a step.
SERIES_KEYS = (*KEY_COLUMNS, "runner.device_model")
_TEXT_COLUMNS = tuple(c for c in SERIES_KEYS if c != "runner.batch_size") + (
    "status",
    "environment.git_commit",
    "environment.hostname",
)
FIGURE_COLUMNS = tuple(dict.fromkeys(f.column for f in FIGURES))
#: The columns of ``History.records`` besides ``night`` and ``night_index``.
COLUMNS = (*_TEXT_COLUMNS, "runner.batch_size", "timestamp_utc", *FIGURE_COLUMNS)
_EMPTY_DTYPES = {
    "runner.batch_size": np.int64,
    "timestamp_utc": np.int64,
    **dict.fromkeys(FIGURE_COLUMNS, float),
}


#: Longest night folder name: the host set is cut (with a count) to keep it a portable file name.
MAX_NIGHT_NAME = 120


def night_name(when: datetime, commit: str | None, hosts: list[str]) -> str:
    """``2026-11-30_3f2a9c1e_gpu-01+xeon-01``: a night's folder, by date, commit and host set.

    Only a convention (``load_history`` orders nights by their records' times, whatever their
    folders are called); it keeps nights sorted by date in a listing and says what ran them.
    """
    names = sorted({h.replace("/", "-").replace("_", "-") for h in hosts}) or ["nohost"]
    head = f"{when:%Y-%m-%d}_{(commit or 'nocommit')[:8]}_"
    hostset = "+".join(names)
    if len(head) + len(hostset) > MAX_NIGHT_NAME:
        more = f"+{len(names)}hosts"
        hostset = hostset[: MAX_NIGHT_NAME - len(head) - len(more)] + more
    return head + hostset


@dataclass(frozen=True)
class Night:
    """One night's folder and what its records say about it.

    Attributes:
        name: The folder's name (unique under the root).
        path: The folder.
        time_utc: The median timestamp of its records (what orders the nights).
        commit: The most common ``environment.git_commit`` of its records, None if none has one.
        n_records: Records read from it.
    """

    name: str
    path: Path
    time_utc: pd.Timestamp
    commit: str | None
    n_records: int

    @property
    def label(self) -> str:
        """``2026-03-01 ab12cd34``: the night's date and short commit, for tables and reports."""
        return f"{self.time_utc:%Y-%m-%d} {(self.commit or '?')[:8]}"


@dataclass
class History:
    """The nights under a root, oldest first, and their records as one slim table.

    Attributes:
        root: The history root.
        nights: Oldest first.
        records: One row per record: ``night`` (folder name), ``night_index`` (position in
            ``nights``) and ``COLUMNS`` (``timestamp_utc`` as a UTC time, figures as floats, NaN
            where null).
    """

    root: Path
    nights: list[Night]
    records: pd.DataFrame

    def nightly(self, figure: Figure) -> pd.DataFrame:
        """One value per series and night: the median of the night's ok records of that series.

        Returns:
            ``SERIES_KEYS``, ``night_index``, ``value``, ``n_records`` and ``hostname`` (the first
            record's), sorted by series then night; nights without a value are left out.
        """
        frame = self.records
        frame = frame[(frame["status"] == "ok") & frame[figure.column].notna()]
        keys = [*SERIES_KEYS, "night_index"]
        grouped = frame.groupby(keys, dropna=False, sort=False)
        out = grouped.agg(
            value=(figure.column, "median"),
            n_records=(figure.column, "size"),
            hostname=("environment.hostname", "first"),
        ).reset_index()
        return out.sort_values([*SERIES_KEYS, "night_index"], kind="stable", ignore_index=True)


def _warn(skipped: SkippedFile) -> None:
    warnings.warn(f"skipped {skipped}", TriggerbenchSkippedFileWarning, stacklevel=3)


def _night_folders(root: Path) -> list[Path]:
    if not root.is_dir():
        raise UserInputError(f"no such history folder: {root}")
    try:
        return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError as exc:
        raise UserInputError(f"history folder {root} is not readable: {exc.strerror or exc}") from None


def _fingerprint(folder: Path) -> str:
    """What the cache is keyed by: the names, sizes and modification times of the night's files."""
    digest = hashlib.sha256(f"{CACHE_FORMAT}\0{SCHEMA_VERSION}\0{','.join(COLUMNS)}\n".encode())
    lines = []
    with os.scandir(folder) as entries:
        for e in entries:
            if e.name.endswith(".json") and e.is_file():
                st = e.stat()
                lines.append(f"{e.name}\0{st.st_size}\0{st.st_mtime_ns}\n")
    lines.sort()
    digest.update("".join(lines).encode())
    return digest.hexdigest()


def _field(record: BenchmarkRecord, column: str) -> object:
    value: object = record
    for part in column.split("."):
        value = getattr(value, part, None)
        if value is None:
            return None
    return value


def _b64(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array).tobytes()).decode("ascii")


def _encode(records: list[BenchmarkRecord]) -> dict:
    """A night's cached columns, compact to parse (JSON of a year's records: 5x slower to read).

    Each text column is its distinct values and int32 codes; numbers are base64 of their bytes
    (times as UTC epoch ns).
    """
    text = {}
    for name in _TEXT_COLUMNS:
        values = [None if (v := _field(r, name)) is None else str(v) for r in records]
        distinct = list(dict.fromkeys(values))
        where = {v: i for i, v in enumerate(distinct)}
        text[name] = {"values": distinct, "codes": _b64(np.array([where[v] for v in values], dtype="<i4"))}
    numbers = {
        "runner.batch_size": _b64(np.array([r.runner.batch_size for r in records], dtype="<i8")),
        "timestamp_utc": _b64(
            np.array([pd.Timestamp(r.timestamp_utc).tz_convert("UTC").value for r in records], dtype="<i8")
        ),
    }
    for name in FIGURE_COLUMNS:
        values = [None if (v := _field(r, name)) is None else float(v) for r in records]
        numbers[name] = _b64(np.array(values, dtype="<f8"))  # None -> NaN
    return {"n": len(records), "text": text, "numbers": numbers}


def _decode(columns: dict) -> dict[str, np.ndarray]:
    """The arrays of ``_encode``'s output, one per ``COLUMNS`` name."""
    out = {}
    for name in _TEXT_COLUMNS:
        column = columns["text"][name]
        codes = np.frombuffer(base64.b64decode(column["codes"]), dtype="<i4")
        out[name] = np.array(column["values"], dtype=object)[codes]
    for name in ("runner.batch_size", "timestamp_utc"):
        out[name] = np.frombuffer(base64.b64decode(columns["numbers"][name]), dtype="<i8")
    for name in FIGURE_COLUMNS:
        out[name] = np.frombuffer(base64.b64decode(columns["numbers"][name]), dtype="<f8")
    return out


def _read_night(folder: Path) -> dict:
    """Validate a night's record files: its cache entry (``columns`` or ``error``, and ``skipped``)."""
    skipped: list[SkippedFile] = []
    try:
        records = load_records([folder], on_skip=skipped.append)
    except (UserInputError, OSError) as exc:  # every file unreadable, or the folder itself
        return {"error": str(exc), "skipped": []}
    entry: dict = {"skipped": [[s.path.name, s.reason] for s in skipped]}
    if not records:
        entry["error"] = "no records (no readable *.json file)"
    else:
        entry["columns"] = _encode(records)
    return entry


def _with_arrays(entry: dict) -> dict:
    """``entry`` plus its decoded ``arrays`` when it has columns; raises on a damaged entry."""
    return {**entry, "arrays": _decode(entry["columns"])} if "columns" in entry else entry


def _cached(cache_file: Path, fingerprint: str) -> dict | None:
    """The cache entry, decoded, if it is for these files; None if absent, stale or damaged."""
    try:
        entry = json.loads(cache_file.read_bytes())
        if not (isinstance(entry, dict) and entry.get("fingerprint") == fingerprint):
            return None
        return _with_arrays(entry)
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return None


class _CacheWriter:
    """Writes cache entries; the first failure warns once and turns caching off for this load."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder

    def write(self, name: str, entry: dict) -> None:
        if self.folder is None:
            return
        try:
            self.folder.mkdir(exist_ok=True)
            atomic_write_text(self.folder / f"{name}.json", json.dumps(entry, separators=(",", ":")))
        except OSError as exc:
            warnings.warn(
                f"history cache not written ({self.folder}: {exc.strerror or exc}): "
                "each load validates every record file again",
                UserWarning,
                stacklevel=4,
            )
            self.folder = None


def _entries(folders: list[Path], cache_dir: Path | None) -> Iterator[tuple[Path, dict]]:
    writer = _CacheWriter(cache_dir)
    for folder in folders:
        try:
            fingerprint = _fingerprint(folder)
        except OSError as exc:
            yield folder, {"error": f"not readable ({exc.strerror or exc})", "skipped": []}
            continue
        entry = _cached(cache_dir / f"{folder.name}.json", fingerprint) if cache_dir else None
        if entry is None:
            entry = {"format": CACHE_FORMAT, "fingerprint": fingerprint, **_read_night(folder)}
            writer.write(folder.name, entry)
            entry = _with_arrays(entry)
        yield folder, entry


def _prune(cache_dir: Path, names: set[str]) -> None:
    """Remove the cache files of nights no longer under the root (best effort)."""
    try:
        stale = [p for p in cache_dir.glob("*.json") if p.stem not in names]
        for p in stale:
            p.unlink(missing_ok=True)
    except OSError:
        pass


def most_common(values: list) -> object:
    """The most frequent value that is not None (ties: the greatest, so the answer is stable)."""
    present = [v for v in values if v is not None]
    return max(set(present), key=lambda v: (present.count(v), v)) if present else None


def load_history(root: Path | str, *, cache: bool = True, on_skip: OnSkip | None = None) -> History:
    """Read every night under ``root``, oldest first (by the median of its records' timestamps).

    Args:
        root: The history root: one sub-folder of record files per night (hidden folders are not
            nights; record files directly in ``root`` are not read).
        cache: Read and write ``ROOT/.triggerbench-cache``; False validates every file afresh.
        on_skip: Told of each record file left out, and of each night left out whole (its folder
            and why: unreadable, no records, every file invalid); default: a
            ``TriggerbenchSkippedFileWarning`` each.

    Raises:
        UserInputError: ``root`` is not a readable folder.
    """
    root = Path(root)
    folders = _night_folders(root)
    cache_dir = root / CACHE_DIR_NAME if cache else None
    tell = on_skip or _warn
    nights: list[tuple[Night, dict]] = []
    for folder, entry in _entries(folders, cache_dir):
        for name, reason in entry.get("skipped", []):
            tell(SkippedFile(folder / name, reason))
        if "columns" not in entry:
            tell(SkippedFile(folder, f"night left out: {entry['error']}"))
            continue
        columns = entry["arrays"]
        night = Night(
            name=folder.name,
            path=folder,
            time_utc=pd.Timestamp(int(np.median(columns["timestamp_utc"])), tz="UTC"),
            commit=most_common(columns["environment.git_commit"].tolist()),  # type: ignore[arg-type]
            n_records=len(columns["timestamp_utc"]),
        )
        nights.append((night, columns))
    if cache_dir is not None and cache_dir.is_dir():
        _prune(cache_dir, {f.name for f in folders})
    nights.sort(key=lambda nc: (nc[0].time_utc, nc[0].name))
    return History(root, [n for n, _ in nights], _frame(nights))


def _frame(nights: list[tuple[Night, dict[str, np.ndarray]]]) -> pd.DataFrame:
    """One table from the nights' arrays, each column concatenated once."""
    names = [n.name for n, _ in nights]
    counts = [n.n_records for n, _ in nights]
    data: dict[str, np.ndarray] = {
        "night": np.repeat(np.array(names, dtype=object), counts),
        "night_index": np.repeat(np.arange(len(nights)), counts),
    }
    for name in COLUMNS:
        parts = [columns[name] for _, columns in nights]
        data[name] = np.concatenate(parts) if parts else np.array([], dtype=_EMPTY_DTYPES.get(name, object))
    frame = pd.DataFrame(data)
    frame["timestamp_utc"] = pd.to_datetime(frame["timestamp_utc"].astype("int64"), utc=True)
    return frame
