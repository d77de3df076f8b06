"""hls4ml runner: the Keras model as HLS firmware, run bit-accurately in hls4ml's C-simulation.

``infer`` calls the compiled C++ of the firmware (``hls_model.predict``) on the host CPU: its
outputs are the firmware's bit-accurate outputs, its speed is the emulator's (the record marks it
``emulated``). FPGA latency and resources come from ``fpga_figures()``: HLS synthesis reports when
the vendor tool is on PATH and ``-O synth=true`` is given, and always an analytic estimate.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import io
import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np

from triggerbench import precision, progress
from triggerbench.errors import (
    ModelUnsupportedError,
    RunnerError,
    RunnerUnavailableError,
    UserInputError,
)
from triggerbench.fpga import fidelity, hls_config, hls_reports, numerical
from triggerbench.fpga.estimate import estimate, layer_costs
from triggerbench.models.artifact import ModelArtifact, cache_dir, load_keras
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
from triggerbench.schema import FpgaFigures, NumericalProfile

PROJECT_NAME = "myproject"
#: Written after a successful C-simulation build; its presence makes the build a cache hit.
MARKER = "triggerbench-build.json"
#: The vendor HLS command each hls4ml backend's ``build()`` calls.
SYNTH_TOOLS = {"Vitis": "vitis-run", "Vivado": "vivado_hls"}
#: Rough g++ memory of a C-simulation build: a base, plus per multiplication (weights are header
#: constants and templates are instantiated per layer). An estimate for the guard, not a figure.
GPP_BASE_MB = 400
GPP_MB_PER_MULT = 0.002
#: Samples the layer-by-layer overflow check runs through the Keras model.
FIDELITY_SAMPLES = 2048
NO_SYNTHESIS = "no HLS synthesis report: per-layer latency needs C-synthesis (Vivado/Vitis HLS)"
INLINED = (
    "the C-synthesis report has no per-layer modules: HLS inlined the layers into the top function "
    "(io_parallel with the Latency strategy does)"
)


def available_memory_mb() -> int | None:
    """``MemAvailable`` from /proc/meminfo, in MB; None where it cannot be read."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _normalise_keras2_flags(model: Any) -> list[str]:
    """Keras 2 files can store BatchNormalization's center/scale as 0/1; hls4ml wants bools."""
    fixed = []
    for layer in model.layers:
        if type(layer).__name__ != "BatchNormalization":
            continue
        for flag in ("center", "scale"):
            value = getattr(layer, flag, None)
            if value is not None and not isinstance(value, bool):
                setattr(layer, flag, bool(value))
                fixed.append(f"{layer.name}.{flag}")
    return fixed


def _first_error_line(log: str) -> str:
    """The compiler's first error line (g++ prints ``file:line:col: error: ...``)."""
    for line in log.splitlines():
        if re.search(r"\berror\b", line, re.IGNORECASE):
            return line.strip()
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    return lines[-1] if lines else "no compiler output"


def _conversion_error(model: Any, exc: Exception) -> RunnerError:
    """hls4ml names the layer class it has no handler for; name the model's layer too."""
    culprits = [f"{layer.name!r} ({type(layer).__name__})" for layer in model.layers
                if type(layer).__name__ in str(exc)]  # fmt: skip
    where = f"layer {culprits[0]}: " if culprits else ""
    return RunnerError(f"hls4ml cannot convert {where}{one_line(exc)}")


class Hls4mlRunner(Runner):
    """Converts a Keras (or HGQ2) model with hls4ml 1.3 and runs its compiled C-simulation.

    Options (``-O KEY=VALUE``): see ``triggerbench.fpga.hls_config.HlsSettings``. The compiled
    project is cached under ``cache_dir()/hls4ml/<hash>/`` by model bytes + settings + hls4ml
    version, so a second prepare only converts (milliseconds) and loads the library.
    """

    name = "hls4ml"
    formats = ("keras",)
    emulator = True
    options_model = hls_config.HlsSettings

    def __init__(self) -> None:
        self._hls_model: Any = None
        self._fpga: list[FpgaFigures] = []
        self._fidelity: fidelity.Fidelity | None = None

    @classmethod
    def available(cls) -> tuple[bool, str]:
        """Return whether hls4ml is installed (not imported: ``prepare`` does) and g++ is on PATH.

        g++ compiles the C-simulation. Importing hls4ml takes a while, and ``triggerbench list``
        asks every runner.
        """
        if not installed("hls4ml"):
            return False, "cannot import hls4ml: not installed (pip install 'hls4ml>=1.3')"
        if shutil.which("g++") is None:
            return False, "g++ not on PATH: the C-simulation needs it (apt-get install g++)"
        return True, f"{dist_version('hls4ml')} installed, with g++ for the C-simulation"

    def prepare(self, artifact: ModelArtifact, options: RunnerOptions) -> None:
        """Convert, compile (or load the cached build), optionally synthesise, and warm up."""
        if options.precision != "f32":
            raise UserInputError(
                "hls4ml runner takes f32 inputs; set the firmware's types with -O precision=fixed<W,I>"
            )
        settings = self.parse_options(options.extra)
        ok, reason = self.available()
        if not ok:
            raise RunnerUnavailableError(reason)
        try:
            import hls4ml
        except Exception as exc:  # a broken install can raise more than ImportError
            raise RunnerUnavailableError(f"cannot import hls4ml: {one_line(exc)}") from exc

        self._settings = settings
        self._fpga = []
        self._version = hls4ml.__version__
        model = load_keras(artifact.path("keras"))
        mults = sum(c.mults for c in layer_costs(model, settings.reuse_factor))
        if mults > settings.max_csim_mults:
            raise ModelUnsupportedError(
                f"{artifact.name} needs {mults:,} multiplications per event: its hls4ml C-simulation "
                f"would take seconds per event (limit -O max_csim_mults={settings.max_csim_mults}; "
                "raise it to run anyway)"
            )
        self._precision = hls_config.precision_summary(model, settings)
        self._hgq = hls_config.is_hgq(model)
        self._model = model
        self._fidelity: fidelity.Fidelity | None = None
        _normalise_keras2_flags(model)
        self._build_mb = GPP_BASE_MB + int(GPP_MB_PER_MULT * mults)
        self._mults = mults
        self._memory_mb = settings.build_memory_mb or available_memory_mb()
        self._name = artifact.name
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # hls4ml narrates every layer
                config = hls_config.layer_config(model, settings)
        except Exception as exc:
            raise _conversion_error(model, exc) from exc
        key = hls_config.config_hash(artifact.sha256["keras"], settings, self._version, config)
        self._dir = cache_dir() / "hls4ml" / key
        self._dir.parent.mkdir(parents=True, exist_ok=True)
        self._hls_model = self._convert(model, settings, config)
        # The factor hls4ml settled on per layer (it rounds a requested one to a valid divisor).
        self._parallelization = {
            layer.name: int(layer.get_attr("parallelization_factor"))
            for layer in self._hls_model.get_layers()
            if layer.get_attr("parallelization_factor")
        }
        # One build per cache key at a time, across processes (parallel runs share the cache).
        with open(self._dir.parent / f"{key}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            self._cached, self._compile_s = self._compile_or_load()
            self._synthesis = self._synthesise(settings)
        self._input_shape = tuple(artifact.input_shape)
        self._output_shape = tuple(artifact.output_shape)
        weight_bits = None if self._hgq else int(re.findall(r"\d+", settings.precision)[0])
        self._fpga.append(
            estimate(
                model,
                reuse_factor=settings.reuse_factor,
                weight_bits=weight_bits,
                clock_period_ns=settings.clock_period_ns,
                part=settings.part,
                io_type=settings.io_type,
                parallelization=self._parallelization,
            )
        )
        self.infer(self.stage(np.zeros((options.batch_size, *self._input_shape), np.float32)))

    def _convert(self, model: Any, settings: hls_config.HlsSettings, config: dict[str, Any]) -> Any:
        import hls4ml

        try:
            with (
                progress.step(f"hls4ml: converting {model.name}"),
                contextlib.redirect_stdout(io.StringIO()),
            ):
                return hls4ml.converters.convert_from_keras_model(
                    model,
                    hls_config=config,
                    output_dir=str(self._dir),
                    project_name=PROJECT_NAME,
                    backend=settings.backend,
                    part=settings.part,
                    clock_period=settings.clock_period_ns,
                    io_type=settings.io_type,
                )
        except Exception as exc:
            raise _conversion_error(model, exc) from exc

    def _compile_or_load(self) -> tuple[bool, float | None]:
        """Load the cached C-simulation library, or write and compile the project (g++)."""
        marker = self._dir / MARKER
        if marker.is_file():
            try:
                lib = Path(json.loads(marker.read_text())["library"])
            except (ValueError, KeyError):
                lib = Path("/nonexistent")
            if lib.is_file():
                # What hls4ml's own compile() ends with. The library name carries hls4ml's random
                # stamp, so it never collides with another model's library in this process.
                self._hls_model._top_function_lib = ctypes.cdll.LoadLibrary(str(lib))
                return True, None
        limit_mb = self._memory_mb  # checked only here: a cached build needs no compiler
        if limit_mb is not None and self._build_mb > limit_mb:
            raise ModelUnsupportedError(
                f"{self._name}: its hls4ml C-simulation build needs an estimated {self._build_mb:,} MB "
                f"of compiler memory ({self._mults:,} multiplications), more than the {limit_mb:,} MB "
                "available (-O build_memory_mb sets the budget)"
            )
        if self._dir.exists():
            shutil.rmtree(self._dir)  # a half-written build from an interrupted run
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            self._hls_model.write()  # the project; hls4ml's compile() would now run build_lib.sh
        self._build()
        compile_s = time.perf_counter() - start
        stamp = self._hls_model.config.get_config_value("Stamp")
        lib = self._dir / "firmware" / f"{PROJECT_NAME}-{stamp}.so"
        self._hls_model._top_function_lib = ctypes.cdll.LoadLibrary(str(lib))  # as compile() does
        marker.write_text(json.dumps({"library": str(lib), "compile_s": compile_s}))
        return False, compile_s

    def _build(self) -> None:
        """Run hls4ml's build script (g++) in its own process group, bounded in time and memory."""
        s = self._settings
        limit_mb = self._memory_mb
        step = progress.step(
            f"hls4ml: compiling the C-simulation of {self._name} ({self._mults:,} multiplications, "
            f"~{self._build_mb:,} MB estimated compiler memory; limits {s.build_timeout_s:g} s"
            + (f", {limit_mb:,} MB" if limit_mb else "")
            + ")"
        )
        ulimit = f"ulimit -v {limit_mb * 1024} && " if limit_mb else ""
        proc = subprocess.Popen(
            ["bash", "-c", f"{ulimit}exec ./build_lib.sh"],
            cwd=self._dir,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # so a timeout kills g++ too, not just the script
        )
        try:
            with step:
                log, _ = proc.communicate(timeout=s.build_timeout_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            shutil.rmtree(self._dir, ignore_errors=True)
            raise ModelUnsupportedError(
                f"{self._name}: hls4ml C-simulation build exceeded -O build_timeout_s={s.build_timeout_s:g} "
                f"({self._mults:,} multiplications); killed (raise the limit to build it)"
            ) from None
        if proc.returncode != 0:
            memory = re.search(r"memory exhausted|cannot allocate memory|out of memory", log, re.IGNORECASE)
            if memory and limit_mb:
                raise ModelUnsupportedError(
                    f"{self._name}: hls4ml C-simulation build ran out of its {limit_mb:,} MB memory "
                    f"limit ({_first_error_line(log)}); raise -O build_memory_mb if the host has more"
                )
            raise RunnerError(f"hls4ml C-simulation build failed: {_first_error_line(log)}")

    def fidelity_problems(self, inputs: np.ndarray, reference: np.ndarray, mean_abs_diff: float) -> list[str]:
        """Firmware far from the float reference: name the layers beyond the precision's range."""
        if self._hls_model is None:
            return []
        s = self._settings
        self._fidelity = fidelity.fidelity(mean_abs_diff, reference, s.fidelity_threshold_pct)
        if not self._fidelity.far:
            return []
        if self._hgq:  # per-layer quantizers: no single precision to suggest
            return [fidelity.warning(self._fidelity, None, [])]
        try:
            ranges = fidelity.layer_ranges(self._model, np.asarray(inputs)[:FIDELITY_SAMPLES])
        except Exception as exc:  # the check explains a warning; it must not fail the record
            head = fidelity.warning(self._fidelity, None, [])
            return [f"{head}; layer ranges unavailable: {one_line(exc)}"]
        return [fidelity.warning(self._fidelity, s.precision, fidelity.overflowing(ranges, s.precision))]

    def _synthesise(self, settings: hls_config.HlsSettings) -> str:
        """Run HLS synthesis when asked for and possible; return what happened, for the record."""
        tool = SYNTH_TOOLS[settings.backend]
        if not settings.synth:
            return "skipped: not requested (-O synth=true runs it)"
        if shutil.which(tool) is None:
            return f"skipped: {tool} not on PATH (install {settings.backend} HLS, or ingest-hls a farm build)"
        project = self._dir
        csynth = (
            project / f"{PROJECT_NAME}_prj" / "solution1" / "syn" / "report" / f"{PROJECT_NAME}_csynth.xml"
        )
        cosim = csynth.parents[2] / "sim" / "report" / f"{PROJECT_NAME}_cosim.rpt"
        state = "cached"
        if not csynth.is_file() or (settings.cosim and not cosim.is_file()):
            kwargs: dict[str, Any] = {"csim": False, "synth": True, "cosim": settings.cosim}
            if settings.backend == "Vitis":
                kwargs["log_to_stdout"] = False  # logs stay in the project's build_*.log files
            try:
                self._hls_model.build(**kwargs)
            except Exception as exc:
                return f"failed: {one_line(exc)}"
            state = "ran"
        try:
            self._fpga.extend(hls_reports.figures(hls_reports.read(project)))
        except UserInputError as exc:
            return f"failed: reports unreadable: {exc}"
        return f"{state}: {tool}" + (" with co-simulation" if settings.cosim else "")

    def stage(self, inputs: np.ndarray) -> np.ndarray:
        """A C-contiguous float32 copy (the C-simulation reads raw float pointers)."""
        if self._hls_model is None:
            raise RunnerError("hls4ml runner: call prepare() before stage()")
        return owned_batch(inputs, self._input_shape, np.float32, "hls4ml")

    def infer(self, staged: np.ndarray) -> np.ndarray:
        """Run the C-simulation, one event at a time (as hls4ml's ``predict`` does)."""
        try:
            y = self._hls_model.predict(staged)
        except Exception as exc:
            raise RunnerError(f"hls4ml runner: C-simulation failed: {one_line(exc)}") from exc
        return np.asarray(y, dtype=np.float32).reshape((staged.shape[0], *self._output_shape))

    def describe(self) -> RunnerDescription:
        """hls4ml version, the firmware's settings, and whether it was built or loaded from cache."""
        if self._hls_model is None:
            raise RunnerError("hls4ml runner: call prepare() before describe()")
        s = self._settings
        settings: dict[str, Any] = {
            "backend": s.backend,
            "part": s.part,
            "clock_period_ns": s.clock_period_ns,
            "io_type": s.io_type,
            "strategy": s.strategy,
            "reuse_factor": s.reuse_factor,
            "parallelization_factor": ",".join(f"{k}:{v}" for k, v in self._parallelization.items()) or None,
            "precision": self._precision,
            "synthesis": self._synthesis,
            "build_cached": self._cached,
            "build_dir": str(self._dir),
        }
        if self._compile_s is not None:
            settings["compile_s"] = round(self._compile_s, 3)
        if self._fidelity is not None:  # set by the accuracy pass's check
            settings["fidelity_ratio_pct"] = round(self._fidelity.ratio_pct, 4)
            settings["fidelity_threshold_pct"] = self._fidelity.threshold_pct
        return RunnerDescription(
            backend=f"hls4ml-{s.backend.lower()}",
            backend_version=self._version,
            device="hls4ml C-simulation on host CPU",
            precision=precision.fixed_point(None if self._hgq else s.precision),
            threads=1,
            settings=settings,
        )

    def fpga_figures(self) -> list[FpgaFigures]:
        """Synthesis / co-simulation figures when synthesis ran, and always the analytic estimate."""
        return list(self._fpga)

    def profile(self, staged: np.ndarray, n_calls: int) -> BackendProfile:
        """Cycles per HLS module from the C-synthesis reports (``numerical_profile``: the values).

        Never timed from the C-simulation: its speed is the emulator's, not the firmware's
        (``staged`` and ``n_calls`` are unused). Without a synthesis report the rows are empty
        and the caveat says why.
        """
        if self._hls_model is None:
            raise RunnerError("hls4ml runner: call prepare() before profile()")
        nodes, source, caveats = self._module_cycles()
        return BackendProfile(source=source, unit="cycles", nodes=nodes, caveats=caveats)

    def numerical_profile(self, events: np.ndarray) -> list[NumericalProfile]:
        """Each layer's values on ``events``, through the float Keras model, against hls4ml's types."""
        if self._hls_model is None:
            raise RunnerError("hls4ml runner: call prepare() before numerical_profile()")
        return numerical.profile(self._model, self._hls_model, np.asarray(events))

    def _module_cycles(self) -> tuple[list[NodeTiming], str, list[str]]:
        """Nodes from the per-module C-synthesis reports, the profile's source, and the caveats."""
        try:
            project = hls_reports.locate(self._dir)
            modules = hls_reports.modules(project)
        except UserInputError as exc:
            missing = "report missing" in str(exc) or "no HLS project" in str(exc)
            reason = NO_SYNTHESIS if missing else f"HLS synthesis reports unreadable: {exc}"
            return [], "hls4ml numerical profile (no synthesis report)", [reason]
        source = f"{project.tool} C-synthesis per module ({project.csynth_xml.parent.name}/*_csynth.xml)"
        if not modules:
            return [], source, [INLINED]
        layers = {layer.index: layer for layer in self._hls_model.get_layers()}
        nodes = []
        for module in modules:
            layer = layers.get(hls_reports.layer_index(module.name))
            details = {
                "latency_best_cycles": module.latency_best_cycles,
                "interval_cycles": module.interval_cycles,
                "pipeline_type": module.pipeline_type,
            }
            nodes.append(
                NodeTiming(
                    name=module.name,
                    op_type=layer.class_name if layer is not None else None,
                    cycles=module.latency_cycles,
                    layer=layer.name if layer is not None else None,
                    resources=dict(module.resources),
                    details={k: v for k, v in details.items() if v is not None},
                )
            )
        caveats = [
            "C-synthesis estimates per module; in a pipelined or dataflow top the modules overlap, so "
            "their sum is not the top's latency (fpga figures: hls-csynth)"
        ]
        return nodes, source, caveats

    def close(self) -> None:
        """Drop the model (the loaded library stays mapped: ctypes cannot unload it safely)."""
        self._hls_model = None
        self._model = None
