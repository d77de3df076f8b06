"""Write one JSON document per record (atomically) and load records into a DataFrame."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

import pandas as pd
from pydantic import ValidationError

from triggerbench.errors import UserInputError
from triggerbench.results.migrate import migrate
from triggerbench.schema import BenchmarkRecord


def ensure_writable(out_dir: Path) -> Path:
    """Create ``out_dir`` if needed and check it takes files, before any measuring starts."""
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out_dir, prefix=".write-check-"):
            pass
    except OSError as exc:
        raise UserInputError(f"output directory {out_dir} is not writable: {exc.strerror}") from None
    return out_dir


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temp file and rename, so readers never see half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give what open() would
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def record_filename(record: BenchmarkRecord) -> str:
    """A sortable, readable name: time, workload, runner, scenario, batch, run id."""
    stamp = record.timestamp_utc.strftime("%Y%m%dT%H%M%SZ")
    parts = [
        stamp,
        record.workload.name,
        record.runner.name,
        record.scenario.name,
        f"b{record.runner.batch_size}",
        record.run_id[:8],
    ]
    return "_".join(p.replace("/", "-").replace("_", "-") for p in parts) + ".json"


def write_record(record: BenchmarkRecord, out_dir: Path) -> Path:
    """Write ``record`` as one JSON document in ``out_dir``; return its path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / record_filename(record)
    atomic_write_text(path, record.model_dump_json(indent=2))
    return path


def _raw_records(path: Path) -> list[dict]:
    """The records of one file as dicts at the current schema version (not yet validated)."""
    try:
        raw = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise UserInputError(f"{path}: not a readable JSON file ({exc})") from None
    if isinstance(raw, dict) and "benchmarks" in raw and "machine_info" in raw:
        # A pytest-benchmark file: records ride in each benchmark's extra_info.
        raws = [b["extra_info"]["record"] for b in raw["benchmarks"] if "record" in b.get("extra_info", {})]
    else:
        raws = [raw]
    return [migrate(item, str(path)) for item in raws]


def _validated(raw: dict, path: Path) -> BenchmarkRecord:
    try:
        return BenchmarkRecord.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise UserInputError(f"{path}: invalid record at {where}: {first['msg']}") from None


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


def load_records(paths: Iterable[Path | str]) -> list[BenchmarkRecord]:
    """Read records from run files, pytest-benchmark JSON files, or folders of either."""
    return [_validated(raw, f) for f in _expand(paths) for raw in _raw_records(f)]


def to_frame(records: Iterable[BenchmarkRecord]) -> pd.DataFrame:
    """One row per record, nested sections flattened with dots (``performance.latency_p99_s``)."""
    rows = [r.model_dump(mode="json") for r in records]
    return pd.json_normalize(rows) if rows else pd.DataFrame()


def load(paths: Iterable[Path | str]) -> pd.DataFrame:
    """Read records into a DataFrame, one row per record (validated, migrated, flattened)."""
    rows = []
    for f in _expand(paths):
        for raw in _raw_records(f):
            _validated(raw, f)  # refuse what the schema refuses; the frame is built from the dict,
            rows.append(raw)  # which a written record holds in full (no second dump per record)
    return pd.json_normalize(rows) if rows else pd.DataFrame()
