"""Measured latency and initiation interval of a da4ml pipeline, by counting clock edges in RTL.

``testbench.cpp`` (next to this file) is compiled against the Verilator archives of an
:class:`~triggerbench.fpga.rtl_build.RtlBuild` and steps the generated top module one clock at
a time. Latency: hold a baseline event until the output is steady, switch the input to an event
with a different expected output, count rising edges until the output equals that event's
expected value. Interval: feed a new event every ``II`` cycles and check each expected output
arrives, in order, every ``II`` cycles; the smallest ``II`` that passes is the measured one.
Expected values come from da4ml's bit-exact software model (``CombLogic.predict``), not the RTL.
"""

from __future__ import annotations

import ctypes
import subprocess
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

import numpy as np

from triggerbench import progress
from triggerbench.errors import RunnerError
from triggerbench.fpga.rtl_build import RtlBuild

#: Give up counting after this many edges: far above any pipeline da4ml cuts for these models.
MAX_LATENCY_CYCLES = 512
#: Intervals tried, smallest first (da4ml pipelines are built for 1).
INTERVALS = (1, 2, 3, 4)
N_STREAM_EVENTS = 64
SEED = 20261125


@dataclass(frozen=True)
class TestbenchResult:
    """Clock edges counted in the RTL simulation."""

    latency_cycles: int
    interval_cycles: int | None
    n_events: int
    method: str


def _kifs(qints: list) -> tuple[int, int, int]:
    """Largest sign / integer / fraction bits over the ports (the binder's uniform lane format)."""
    from da4ml.types import minimal_kif

    k, i, f = zip(*map(minimal_kif, qints), strict=True)
    return max(k), max(i), max(f)


def to_lanes(comb, values: np.ndarray) -> np.ndarray:
    """Values -> int32 lanes, LSB at the widest fraction bit (as da4ml's ``RTLModel.predict`` does)."""
    _, _, f = _kifs(comb.inp_qint)
    return np.floor(values.reshape(values.shape[0], -1) * 2.0**f).astype(np.int32)


def from_lanes(comb, lanes: np.ndarray) -> np.ndarray:
    """int32 output lanes -> values (two's complement over the lane width, as the binder packs them)."""
    k, i, f = _kifs(comb.out_qint)
    width, offset = 2.0 ** (k + i + f), k * 2.0 ** (i + f)
    return ((lanes.astype(np.float64) + offset) % width - offset) * 2.0**-f


def random_events(comb, n: int, seed: int = SEED) -> np.ndarray:
    """``n`` events drawn uniformly from each input's quantized range (exactly representable)."""
    rng = np.random.default_rng(seed)
    lo = np.array([q.min for q in comb.inp_qint])
    hi = np.array([q.max for q in comb.inp_qint])
    step = np.array([q.step for q in comb.inp_qint])
    steps = np.floor((hi - lo) / step).astype(np.int64)
    return lo + rng.integers(0, steps + 1, size=(n, len(lo))) * step


def compile_testbench(rtl: RtlBuild) -> Path:
    """Compile ``testbench.cpp`` against the build's Verilator archives (once per build folder)."""
    sim = rtl.directory / "sim"
    lib = sim / "libtriggerbench_tb.so"
    if lib.is_file():
        return lib
    prefix = f"V{rtl.name}_wrapper"
    archives = [sim / "obj_dir" / f"lib{prefix}.a", sim / "obj_dir" / "libverilated.a"]
    archives.append(sim / "obj_dir" / f"{prefix}__ALL.a")
    missing = [a.name for a in archives if not a.is_file()]
    if missing:
        raise RunnerError(
            f"RTL testbench: Verilator archives missing in {sim / 'obj_dir'}: {', '.join(missing)}"
        )
    source = Path(str(files("triggerbench.fpga").joinpath("testbench.cpp")))
    tmp = lib.with_suffix(".tmp.so")
    cmd = [
        "g++", "-std=c++17", "-fPIC", "-O2", "-shared", "-pthread",
        f'-DTB_BINDER="{rtl.name}_wrapper_binder.cc"', f"-DTB_CONFIG={rtl.name}_wrapper_config",
        f"-I{sim}", f"-I{sim / 'obj_dir'}", f"-I{rtl.verilator.root / 'include'}",
        str(source), *map(str, archives), "-o", str(tmp),
    ]  # fmt: skip
    with progress.step(f"rtl: compiling the latency testbench of {rtl.name}"):
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        first = next((ln for ln in done.stderr.splitlines() if "error" in ln), done.stderr[:300])
        raise RunnerError(f"RTL testbench did not compile: {first.strip()}")
    tmp.rename(lib)
    return lib


class _Bench:
    """The compiled testbench around one DUT instance."""

    def __init__(self, lib_path: Path, n_inp: int, n_out: int) -> None:
        self._lib = ctypes.CDLL(str(lib_path))
        self._lib.tb_open.restype = ctypes.c_void_p
        self._lib.tb_close.argtypes = [ctypes.c_void_p]
        ptr = ctypes.POINTER(ctypes.c_int32)
        self._lib.tb_run.argtypes = [ctypes.c_void_p, ptr, ptr, ctypes.c_size_t]
        self._lib.tb_settle.argtypes = [ctypes.c_void_p, ptr, ptr]
        self._lib.tb_n_inp.restype = self._lib.tb_n_out.restype = ctypes.c_size_t
        if (self._lib.tb_n_inp(), self._lib.tb_n_out()) != (n_inp, n_out):
            raise RunnerError("RTL testbench: port counts differ from the model's")
        self.n_inp, self.n_out = n_inp, n_out
        self._dut = self._lib.tb_open()

    def run(self, lanes: np.ndarray) -> np.ndarray:
        """Drive one input row per clock edge; return the outputs read after each edge."""
        inp = np.ascontiguousarray(lanes, dtype=np.int32)
        out = np.zeros((inp.shape[0], self.n_out), np.int32)
        ptr = ctypes.POINTER(ctypes.c_int32)
        self._lib.tb_run(self._dut, inp.ctypes.data_as(ptr), out.ctypes.data_as(ptr), inp.shape[0])
        return out

    def settle(self, lanes: np.ndarray) -> np.ndarray:
        """Drive one input row without a clock edge; return the outputs."""
        inp = np.ascontiguousarray(lanes, dtype=np.int32)
        out = np.zeros(self.n_out, np.int32)
        ptr = ctypes.POINTER(ctypes.c_int32)
        self._lib.tb_settle(self._dut, inp.ctypes.data_as(ptr), out.ctypes.data_as(ptr))
        return out

    def close(self) -> None:
        self._lib.tb_close(self._dut)


def _latency(bench: _Bench, base: np.ndarray, probe: np.ndarray, want_base, want_probe) -> int:
    """Edges from driving ``probe`` until the output equals its expected value."""
    # Fill every register with the baseline, then check the steady output is the baseline's.
    steady = bench.run(np.repeat(base[None], MAX_LATENCY_CYCLES, axis=0))[-1]
    if not np.array_equal(steady, want_base):
        raise RunnerError("RTL testbench: steady output differs from the software model's (not bit-exact)")
    if np.array_equal(bench.settle(probe), want_probe):
        return 0  # a combinational path: the output changed before any edge
    outs = bench.run(np.repeat(probe[None], MAX_LATENCY_CYCLES, axis=0))
    for edge, out in enumerate(outs, start=1):
        if np.array_equal(out, want_probe):
            return edge
        if not np.array_equal(out, want_base):
            raise RunnerError(
                f"RTL testbench: after {edge} edges the output is neither the old nor the new value"
            )
    raise RunnerError(
        f"RTL testbench: the output did not reach the expected value in {MAX_LATENCY_CYCLES} edges"
    )


def _interval_ok(bench: _Bench, lanes: np.ndarray, want: np.ndarray, latency: int, ii: int) -> bool:
    """Feed one event every ``ii`` cycles; True when output k shows at edge ``latency + k * ii``."""
    drive = np.repeat(lanes, ii, axis=0)
    tail = np.repeat(lanes[-1:], latency + ii, axis=0)
    outs = bench.run(np.concatenate([drive, tail]))
    # Edge e (1-based) is row e - 1; event k goes in before edge k*ii + 1.
    at = [k * ii + latency - 1 for k in range(len(lanes))]
    return bool(np.array_equal(outs[at], want))


def measure(rtl: RtlBuild, n_events: int = N_STREAM_EVENTS) -> TestbenchResult:
    """Measure latency (clock edges) and initiation interval of ``rtl`` in its RTL simulation."""
    comb = rtl.comb
    events = random_events(comb, n_events + 2)
    expected = comb.predict(events)
    want = to_lanes_out(comb, expected)
    lanes = to_lanes(comb, events)
    # A probe whose expected output differs from the baseline's, so the change is visible.
    differs = [j for j in range(1, len(events)) if not np.array_equal(want[j], want[0])]
    if not differs:
        raise RunnerError("RTL testbench: every test event gives the same output; cannot see a change")
    j = differs[0]
    bench = _Bench(compile_testbench(rtl), len(comb.inp_qint), len(comb.out_qint))
    try:
        latency = _latency(bench, lanes[0], lanes[j], want[0], want[j])
        stream = slice(2, 2 + n_events)
        interval = next(
            (ii for ii in INTERVALS if _interval_ok(bench, lanes[stream], want[stream], latency, ii)), None
        )
    finally:
        bench.close()
    method = (
        f"Verilator {rtl.verilator.version} RTL simulation: rising clock edges from driving a new event "
        f"until the output equals da4ml's bit-exact software value; interval: {n_events} random events "
        "fed one per II cycles, each output checked in order at its edge (smallest II that passes)"
    )
    return TestbenchResult(latency, interval, n_events, method)


def to_lanes_out(comb, values: np.ndarray) -> np.ndarray:
    """Expected output values -> the int32 lanes the binder reads (inverse of :func:`from_lanes`)."""
    k, i, f = _kifs(comb.out_qint)
    raw = np.round(values * 2.0**f).astype(np.int64)
    width = 1 << (k + i + f)
    return (raw % width).astype(np.int32)
