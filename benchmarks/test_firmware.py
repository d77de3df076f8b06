"""Firmware: the hls4ml C-simulation of the L0 models, and the open RTL flow's sweep of the 4-bit student.

Each point is a full triggerbench record of the ``rtl`` runner (da4ml Verilog under Verilator):
RTL-simulation outputs against Keras (must be bit-exact), the latency and initiation interval
counted in an RTL testbench, and Yosys' LUT / FF / CARRY / DSP counts. The seed talk's figures
for the same model on a VU13P: 438 ns through hls4ml, 84 ns hand-written VHDL. The latency here
is clock edges x the chosen period in RTL simulation, without timing closure: whether a stage of
a given ``latency_cutoff`` meets that clock needs Vivado's timing report.
"""

from __future__ import annotations

import pytest

from triggerbench.runners import registry
from triggerbench.runners.base import RunnerOptions

WORKLOAD = "muon-l0-qstudent-4bit"
#: da4ml's delay budget per stage: smaller -> more stages, more registers, shorter stages.
LATENCY_CUTOFFS = [2.0, 5.0, 10.0]
CLOCK_PERIODS_NS = [5.0, 2.5]
SEED_LATENCY_NS = {"hls4ml": 438.0, "hand-written VHDL": 84.0}
#: Timed rounds of the emulator's batch-1 inference (each a few ms at most; the build is setup).
INFER_ROUNDS = 30


def _time_emulator(benchmark, runner_name: str, ctx, options: dict) -> None:
    """Time the emulator's batch-1 ``infer`` alone in pytest-benchmark's table.

    The record's ``measure`` builds the firmware (minutes: da4ml, Verilator, Yosys; or hls4ml's
    compile) before it measures; timed as one round, that build would be the table's figure
    (OPS 0.003). Here it is setup: ``prepare`` loads the build ``measure`` cached.
    """
    with registry.get(runner_name)() as runner:
        runner.prepare(ctx.artifact, RunnerOptions(batch_size=1, extra=options))
        staged = runner.stage(ctx.inputs[:1])
        benchmark.pedantic(runner.infer, args=(staged,), rounds=INFER_ROUNDS, iterations=1, warmup_rounds=1)


@pytest.fixture(scope="module")
def rtl_runner() -> str:
    """``rtl`` once registered by entry point; the class path before that."""
    name = "rtl" if "rtl" in registry.names() else "triggerbench.runners.rtl:RtlRunner"
    status = registry.status(name)
    if not status.available:
        pytest.skip(f"runner rtl unavailable: {status.reason}")
    return name


@pytest.mark.parametrize("clock_period_ns", CLOCK_PERIODS_NS)
@pytest.mark.parametrize("latency_cutoff", LATENCY_CUTOFFS)
def test_student_rtl(benchmark, triggerbench, rtl_runner, latency_cutoff, clock_period_ns):
    ctx = triggerbench.context(WORKLOAD)
    benchmark.group = f"{WORKLOAD} rtl"
    options = {"latency_cutoff": latency_cutoff, "clock_period_ns": clock_period_ns, "yosys": True}
    record = triggerbench.measure(benchmark, ctx, runner=rtl_runner, runner_options=options, batch_size=1)
    assert record.status == "ok", f"{record.error.type}: {record.error.message}\n{record.error.stderr}"
    assert record.accuracy.max_abs_diff == 0.0, "the RTL must be bit-exact with the HGQ2 Keras model"
    # Yosys already counted the cells in the record; the timed emulator needs only the build.
    _time_emulator(benchmark, rtl_runner, ctx, {**options, "yosys": False})
    bench = next(f for f in record.fpga if f.source == "rtl-testbench")
    synth = next(f for f in record.fpga if f.source == "open-synthesis")
    assert bench.interval_cycles == 1 and bench.latency_cycles >= 1
    assert synth.lut and synth.ff
    latency_ns = bench.latency_s * 1e9
    seeds = ", ".join(f"{k} {v:g} ns" for k, v in SEED_LATENCY_NS.items())
    triggerbench.note(
        f"{WORKLOAD} rtl cutoff={latency_cutoff:g} clock={clock_period_ns:g} ns",
        f"{bench.latency_cycles} cycles = {latency_ns:g} ns, II={bench.interval_cycles}; "
        f"Yosys LUT {synth.lut} FF {synth.ff} CARRY4 {synth.carry} DSP {synth.dsp} "
        f"(da4ml estimate {synth.details['da4ml_lut_estimate']:g} LUT); seed: {seeds}; "
        "RTL simulation, no timing closure",
    )


#: hls4ml: the HGQ2 student must be bit-exact; the float student gets fixed<32,12> everywhere.
HLS4ML_MODELS = {"muon-l0-qstudent-4bit": 0.0, "muon-l0-student-kd": 1e-3}


@pytest.mark.parametrize("model_name", list(HLS4ML_MODELS))
def test_hls4ml_csim(benchmark, triggerbench, model_name):
    status = registry.status("hls4ml")
    if not status.available:
        pytest.skip(f"runner hls4ml unavailable: {status.reason}")
    ctx = triggerbench.context(model_name)
    benchmark.group = f"{model_name} hls4ml"
    record = triggerbench.measure(benchmark, ctx, runner="hls4ml", batch_size=1)
    assert record.status == "ok", f"{record.error.type}: {record.error.message}\n{record.error.stderr}"
    assert record.performance.emulated
    _time_emulator(benchmark, "hls4ml", ctx, {})
    assert record.accuracy.max_abs_diff <= HLS4ML_MODELS[model_name]
    estimate = next(f for f in record.fpga if f.source == "estimate")
    metrics = record.accuracy.task_metrics
    triggerbench.note(
        f"{model_name} hls4ml C-sim",
        f"max |diff| vs Keras {record.accuracy.max_abs_diff:.3g}; "
        f"pT res {metrics.get('pt_resolution_frac', float('nan')):.3f}, "
        f"turn-on 50% {metrics.get('turnon_50_gev', float('nan')):.2f} GeV; "
        f"estimate {estimate.latency_cycles} cycles ({estimate.method})",
    )
