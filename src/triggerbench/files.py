"""Safe file writes: an output folder checked before measuring, files replaced atomically.

Below the results, reports and model packaging that all write files, so none of them reaches up
into another for it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from triggerbench.errors import UserInputError

#: Free space an output folder must have before measuring starts: room for many records (a
#: record is ~2-20 KiB), so a full disk is found before minutes of measuring, not after.
MIN_FREE_BYTES = 1 << 20
#: Bytes the probe writes and syncs: an empty probe file succeeds even on a 100 % full disk.
_PROBE_BYTES = 64 << 10


def ensure_writable(out_dir: Path) -> Path:
    """Create ``out_dir`` if needed and check it takes files and has room, before any measuring."""
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out_dir, prefix=".write-check-") as probe:
            probe.write(b"\0" * _PROBE_BYTES)
            probe.flush()
            os.fsync(probe.fileno())
        free = os.statvfs(out_dir)
    except OSError as exc:
        raise UserInputError(f"output directory {out_dir} is not writable: {exc.strerror or exc}") from None
    free_bytes = free.f_bavail * free.f_frsize
    if free_bytes < MIN_FREE_BYTES:
        raise UserInputError(
            f"output directory {out_dir} has only {free_bytes // 1024} KiB free; "
            f"free at least {MIN_FREE_BYTES >> 20} MiB or choose another --out"
        )
    return out_dir


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temp file and rename, so readers never see half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give what open() would
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


__all__ = ["atomic_write_text", "ensure_writable"]
