"""Write one JSON document per record (atomically) and load records into a DataFrame."""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from pydantic import ValidationError

from triggerbench.errors import TriggerbenchSkippedFileWarning, UserInputError
from triggerbench.files import atomic_write_text
from triggerbench.results.migrate import migrate
from triggerbench.schema import BenchmarkRecord

#: Longest record file name in bytes: NAME_MAX (255) less the temp name's ``.`` + ``.XXXXXXXX.tmp``.
MAX_FILENAME_BYTES = 200


def record_filename(record: BenchmarkRecord) -> str:
    """A sortable, readable name: time, workload, runner, scenario, batch, run id.

    A long workload name (a model file's stem) is cut so the name stays within
    ``MAX_FILENAME_BYTES``; the run id keeps it unique, the record keeps the full name.
    """
    stamp = record.timestamp_utc.strftime("%Y%m%dT%H%M%SZ")
    parts = [
        stamp,
        record.workload.name,
        record.runner.name,
        record.scenario.name,
        f"b{record.runner.batch_size}",
        record.run_id[:8],
    ]
    parts = [p.replace("/", "-").replace("_", "-") for p in parts]
    excess = len("_".join(parts).encode()) + len(".json") - MAX_FILENAME_BYTES
    if excess > 0:
        workload = parts[1].encode()
        parts[1] = workload[: max(len(workload) - excess, 1)].decode(errors="ignore")
    return "_".join(parts) + ".json"


def write_record(record: BenchmarkRecord, out_dir: Path) -> Path:
    """Write ``record`` as one JSON document in ``out_dir``; return its path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / record_filename(record)
    atomic_write_text(path, record.model_dump_json(indent=2))
    return path


def save_unwritten(record: BenchmarkRecord) -> Path | None:
    """Keep a record that could not be written to its folder: a file in the system's temp folder.

    Returns its path, or None when that fails too (the caller then prints the record).
    """
    try:
        fd, name = tempfile.mkstemp(prefix="triggerbench-unwritten-", suffix=".json")
    except OSError:
        return None
    path = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(record.model_dump_json(indent=2))
    except OSError:
        path.unlink(missing_ok=True)
        return None
    return path


@dataclass(frozen=True)
class SkippedFile:
    """A result file a load left out, and why (one line, e.g. ``not a readable JSON file (...)``)."""

    path: Path
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


#: Called once per skipped file, e.g. ``skipped.append``; None: a ``TriggerbenchSkippedFileWarning``.
OnSkip = Callable[[SkippedFile], None]


def _json(path: Path) -> object:
    """The parsed JSON value of one file; raises a ``UserInputError`` saying why not."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UserInputError(f"not readable ({exc.strerror or exc})") from None
    if not data.strip():
        raise UserInputError("empty file (an interrupted write?)")
    try:
        return json.loads(data)  # bytes: JSON's own encoding rules (UTF-8), not the locale's
    except UnicodeDecodeError:
        raise UserInputError("not a readable JSON file (not UTF-8 text)") from None
    except ValueError as exc:  # JSONDecodeError, or an integer too long to convert
        raise UserInputError(f"not a readable JSON file ({exc})") from None
    except RecursionError:
        raise UserInputError("not a readable JSON file (nested too deeply)") from None


def _items(raw: object) -> list[tuple[str | None, object]]:
    """The records a parsed file holds, each with its name in messages (None: the file itself)."""
    if not (isinstance(raw, dict) and "benchmarks" in raw and "machine_info" in raw):
        return [(None, raw)]
    # A pytest-benchmark file: records ride in each benchmark's extra_info.
    benchmarks = raw["benchmarks"]
    if not isinstance(benchmarks, list):
        raise UserInputError("pytest-benchmark file whose benchmarks are not a list")
    items: list[tuple[str | None, object]] = []
    for i, bench in enumerate(benchmarks):
        if not isinstance(bench, dict):
            raise UserInputError(f"pytest-benchmark file whose benchmark {i} is not an object")
        extra = bench.get("extra_info")
        if not isinstance(extra, dict | None):
            raise UserInputError(f"pytest-benchmark file whose benchmark {i} has an extra_info not an object")
        if extra and "record" in extra:
            name = bench.get("name")
            items.append((f"benchmark {name if isinstance(name, str) else i}", extra["record"]))
    return items


def _validated(raw: dict, source: str | None) -> BenchmarkRecord:
    try:
        return BenchmarkRecord.model_validate(raw)
    except ValidationError as exc:
        errors = exc.errors()
        where = ".".join(str(p) for p in errors[0]["loc"])
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        at = f" at {where}" if where else ""
        prefix = f"{source}: " if source else ""
        raise UserInputError(f"{prefix}invalid record{at}: {errors[0]['msg']}{more}") from None


def _read(path: Path) -> list[BenchmarkRecord]:
    """The records of one file, migrated and validated; raises a one-line ``UserInputError``."""
    return [_validated(migrate(item, source), source) for source, item in _items(_json(path))]


def _expand(paths: Iterable[Path | str]) -> list[Path]:
    files = []
    for p in map(Path, paths):
        if p.is_dir():
            files.extend(sorted(p.glob("*.json")))
        elif p.is_file():
            files.append(p)
        else:
            raise UserInputError(f"no such file or directory: {p}")
    return files


def _warn(skipped: SkippedFile) -> None:
    warnings.warn(f"skipped {skipped}", TriggerbenchSkippedFileWarning, stacklevel=3)


def load_records(
    paths: Iterable[Path | str], *, strict: bool = False, on_skip: OnSkip | None = None
) -> list[BenchmarkRecord]:
    """Read records from run files, pytest-benchmark JSON files, or folders of either.

    A file that cannot be read (not JSON, not a record, invalid, from a newer schema version) is
    skipped and the rest are read: ``on_skip`` gets a ``SkippedFile`` for each, before this
    returns (default: a ``TriggerbenchSkippedFileWarning`` each). A farm's history holds the odd
    broken file; one must not hide all the others.

    Args:
        paths: files and folders (a folder's ``*.json`` files, not its subfolders).
        strict: raise on the first unreadable file instead of skipping it.
        on_skip: called once per skipped file, e.g. ``skipped.append``.

    Raises:
        UserInputError: a path does not exist; with ``strict``, a file is unreadable; files were
            skipped and none gave a record (``SchemaVersionError`` where the version was the cause).
    """
    records: list[BenchmarkRecord] = []
    skipped: list[tuple[SkippedFile, UserInputError]] = []
    for path in _expand(paths):
        try:
            records.extend(_read(path))
        except UserInputError as exc:  # SchemaVersionError included
            if strict:
                raise type(exc)(f"{path}: {exc}") from None
            skipped.append((SkippedFile(path, str(exc)), exc))
    if skipped and not records:  # nothing to show: an error, as with strict
        first, exc = skipped[0]
        if len(skipped) == 1:
            raise type(exc)(str(first)) from None
        raise UserInputError(f"no record read: {len(skipped)} files are unreadable, the first {first}")
    for s, _ in skipped:
        (on_skip or _warn)(s)
    return records


def to_frame(records: Iterable[BenchmarkRecord]) -> pd.DataFrame:
    """One row per record, nested sections flattened with dots (``performance.latency_p99_s``)."""
    rows = [r.model_dump(mode="json") for r in records]
    return pd.json_normalize(rows) if rows else pd.DataFrame()


def load(paths: Iterable[Path | str], *, strict: bool = False, on_skip: OnSkip | None = None) -> pd.DataFrame:
    """Read records into a DataFrame, one row per record (validated, migrated, flattened).

    Unreadable files are skipped as in ``load_records``, which documents ``strict`` and ``on_skip``.
    """
    # From the validated records, not the files' dicts: validation coerces ("1000" -> 1000.0) and
    # fills defaults, and the reports must see the values the schema promises (~0.1 ms a record).
    return to_frame(load_records(paths, strict=strict, on_skip=on_skip))
