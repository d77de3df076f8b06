"""VART runner: an xmodel's DPU subgraph (Alveo U50, INT8) run by a worker in the Vitis AI Python.

The plain U50 needs Vitis AI <= 1.4.1, whose container has Python 3.6 and TF 2.3, so VART is
never imported here: ``triggerbench.workers.vart_worker`` (one self-contained file) runs in
the container's Python and this runner talks to it through ``runners.outofprocess`` (JSON
lines followed by raw array bytes). pyxir is not used: it is TVM's front end to the same DPUs,
itself calls VART, and has not been released since 2022.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import shlex
import sys
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from pydantic import BaseModel, Field

from triggerbench.errors import RunnerError, RunnerUnavailableError, UserInputError
from triggerbench.models.artifact import ModelArtifact, sha256_file
from triggerbench.options import OPTIONS_CONFIG, Number, Text, WholeNumber
from triggerbench.power.base import PowerMeter
from triggerbench.runners.base import (
    BackendProfile,
    NodeTiming,
    Runner,
    RunnerDescription,
    RunnerOptions,
    check_batch_shape,
)
from triggerbench.runners.outofprocess import WorkerProcess

#: The command that starts the worker (e.g. ``docker exec -i vitis-ai python3 /workspace/vart_worker.py``).
WORKER_ENV = "TRIGGERBENCH_VART_WORKER"
WORKER_MODULE = "triggerbench.workers.vart_worker"
#: What a model prepared by ``scripts/vitis_ai/prepare_xmodel.py`` carries beside the xmodel.
SIDECAR_SUFFIX = ".triggerbench.json"
#: The DPU runs INT8 whatever is asked; "f32" is accepted because it is every job's default.
ACCEPTED_PRECISIONS = ("int8", "f32")


class VartOptions(BaseModel):
    """The runner's ``-O KEY=VALUE`` settings."""

    model_config = OPTIONS_CONFIG

    #: The xmodel's path as the worker sees it (inside the container); required by ``prepare``.
    xmodel: Text | None = None
    worker_command: Text | None = None
    n_runners: WholeNumber = Field(1, ge=1)
    timeout_s: Number = Field(60.0, gt=0)
    start_timeout_s: Number = Field(120.0, gt=0)
    device_bdf: Text | None = None
    #: The card's name, e.g. xbutil's shell ``xilinx_u50_gen3x16_xdma_201920_3`` or ``Alveo U50``:
    #: the record's ``device_model``, by which the nominal TDP is looked up. The DPU target alone
    #: (DPUCAHX8H runs on U50, U50LV and U280) does not name the card.
    card: Text | None = None


class _Staged(NamedTuple):
    """A batch already framed as the worker's ``infer`` request (framing is staging work)."""

    message: bytes
    n: int
    batch: np.ndarray  # for the profile request, which frames it with its own op


class VartRunner(Runner):
    """Runs a compiled xmodel on the DPU through VART in an out-of-process worker.

    Options (``-O KEY=VALUE``): ``xmodel`` (required; the path the worker sees),
    ``worker_command`` (else ``$TRIGGERBENCH_VART_WORKER``, else this Python when ``xir`` and
    ``vart`` import here), ``n_runners`` (VART runners kept in flight, default 1),
    ``timeout_s`` (per request, default 60), ``start_timeout_s`` (start and load, default 120),
    ``device_bdf`` (the card for the XRT power meter), ``card`` (the card's name, for the record
    and its nominal TDP).

    The runner is selected for a workload through its Keras/ONNX formats but runs the xmodel:
    the record's workload hash is the float source's, ``settings.xmodel_sha256`` the xmodel's.
    """

    name = "vart"
    formats = ("keras", "onnx")
    options_model = VartOptions

    def __init__(self) -> None:
        self._worker: WorkerProcess | None = None
        self._opts = VartOptions()
        self._facts: dict[str, Any] = {}
        self._versions: dict[str, Any] = {}
        #: Seconds the worker spent in execute_async/wait in the last ``infer`` (overhead studies).
        self.last_compute_s: float | None = None

    @classmethod
    def _local_vart(cls) -> bool:
        return all(importlib.util.find_spec(m) is not None for m in ("xir", "vart"))

    @classmethod
    def available(cls) -> tuple[bool, str]:
        """Available when a worker command is configured or VART imports in this Python."""
        command = os.environ.get(WORKER_ENV, "").strip()
        if command:
            return True, f"VART worker started by ${WORKER_ENV}: {command}"
        if cls._local_vart():
            return True, "xir and vart import in this Python: the worker runs here"
        return False, (
            f"no VART here: set {WORKER_ENV} to the command that starts vart_worker.py in the "
            "Vitis AI container (e.g. 'docker exec -i vitis-ai python3 /workspace/vart_worker.py')"
        )

    def _command(self) -> str:
        command = self._opts.worker_command or os.environ.get(WORKER_ENV, "").strip()
        if command:
            return command
        if self._local_vart():
            return f"{shlex.quote(sys.executable)} -P -m {WORKER_MODULE}"  # -P: not the cwd's modules
        raise RunnerUnavailableError(self.available()[1])

    def prepare(self, artifact: ModelArtifact, options: RunnerOptions) -> None:
        """Start the worker, load the xmodel, check it fits the model, run one warm-up batch."""
        if options.precision not in ACCEPTED_PRECISIONS:
            raise RunnerError("vart runner runs the DPU in int8; use --precision int8")
        self._opts = self.parse_options(options.extra)
        if not self._opts.xmodel:
            raise UserInputError(
                "vart runner needs -O xmodel=PATH (compiled by scripts/vitis_ai/prepare_xmodel.py; "
                "the path as the worker sees it)"
            )
        self._precision_requested = options.precision
        self._artifact = artifact
        self._source_check = self._check_sidecar(Path(self._opts.xmodel), artifact)
        worker = WorkerProcess(self._command(), timeout_s=self._opts.timeout_s, name="vart worker")
        worker.start()
        self._worker = worker
        try:
            start_s = self._opts.start_timeout_s
            # A wrapper (conda activate, Vitis AI's setup.sh) may print before the worker starts.
            self._versions = worker.request("hello", timeout_s=start_s, skip_noise=True)
            if not self._versions.get("vart") or not self._versions.get("xir"):
                missing = self._versions.get("xir_error") or self._versions.get("vart_error")
                raise RunnerUnavailableError(f"the worker's Python cannot import xir/vart: {missing}")
            reply = worker.request(
                "load", timeout_s=start_s, xmodel=self._opts.xmodel, n_runners=self._opts.n_runners
            )
            self._facts = reply["model"]
            self._check_shapes(artifact)
            self.infer(self.stage(np.zeros((options.batch_size, *artifact.input_shape), np.float32)))
        except BaseException:
            self.close()
            raise

    @staticmethod
    def _check_sidecar(xmodel: Path, artifact: ModelArtifact) -> str:
        """Compare the source hash the preparation script recorded with this workload's model."""
        sidecar = xmodel.with_name(xmodel.stem + SIDECAR_SUFFIX)
        if not xmodel.is_file():
            return "xmodel not readable from this process (path inside the worker's container)"
        if not sidecar.is_file():
            return f"no {sidecar.name}: the xmodel's source model is not known"
        try:
            recorded = json.loads(sidecar.read_text()).get("source_sha256")
        except (OSError, ValueError) as exc:
            raise UserInputError(f"vart runner: cannot read {sidecar}: {exc}") from None
        if recorded != artifact.source_sha256:
            raise UserInputError(
                f"vart runner: {xmodel.name} was compiled from a model with sha256 {str(recorded)[:12]}..., "
                f"not from {artifact.name} ({artifact.source_sha256[:12]}...)"
            )
        return "matched"

    def _check_shapes(self, artifact: ModelArtifact) -> None:
        dims_in = self._facts["input"]["dims"][1:]
        dims_out = self._facts["output"]["dims"][1:]
        if math.prod(dims_in) != math.prod(artifact.input_shape):
            raise RunnerError(
                f"vart runner: the xmodel's DPU input {dims_in} does not match the model input "
                f"{list(artifact.input_shape)}"
            )
        if math.prod(dims_out) != math.prod(artifact.output_shape):
            raise RunnerError(
                f"vart runner: the xmodel's DPU output {dims_out} does not match the model output "
                f"{list(artifact.output_shape)}"
            )

    def stage(self, inputs: np.ndarray) -> _Staged:
        """Check the batch and frame it as the worker's request, once."""
        if self._worker is None:
            raise RunnerError("vart runner: call prepare() before stage()")
        x = np.ascontiguousarray(inputs, dtype=np.float32)
        check_batch_shape(x, self._artifact.input_shape, "vart")
        return _Staged(WorkerProcess.encode("infer", batch=x), x.shape[0], x)

    def infer(self, staged: _Staged) -> np.ndarray:
        """One round trip: the worker quantizes, runs the DPU, dequantizes; outputs in float32."""
        if self._worker is None:
            raise RunnerError("vart runner: call prepare() before infer()")
        reply = self._worker.request_bytes(staged.message, "infer")
        self.last_compute_s = reply.get("compute_s")
        out = reply["outputs"]
        return out.reshape(staged.n, *self._artifact.output_shape)

    def profile(self, staged: _Staged, n_calls: int) -> BackendProfile:
        """Per subgraph of the xmodel: the DPU subgraph timed in the worker, the others listed.

        The worker runs the DPU subgraph only; a CPU subgraph (the compiler leaves e.g. a softmax
        to the CPU) is listed with its device and status ``NOT_RUN``. The host's share of a call
        (int8 scaling, padding, copies in the worker) is its own row.
        """
        if self._worker is None:
            raise RunnerError("vart runner: call prepare() before profile()")
        timeout_s = self._opts.timeout_s * max(1, n_calls)
        reply = self._worker.request("profile", timeout_s=timeout_s, batch=staged.batch, n_calls=n_calls)
        nodes, not_run = [], []
        for sg in reply["subgraphs"]:
            device = sg.get("device")
            details = {"device": device, "op_types": ",".join(sg.get("op_types") or []) or None}
            if "time_s" in sg:
                details["dpu_runs_per_call"] = sg.get("n_runs")
                status = "EXECUTED"
            else:
                status = "NOT_RUN"
                if device and device.upper() not in ("USER", "DPU"):
                    not_run.append(f"{sg['name']} ({device})")
            nodes.append(
                NodeTiming(
                    name=sg["name"],
                    op_type=f"{device} subgraph" if device else "subgraph",
                    time_s=sg.get("time_s"),
                    n_calls=reply["n_calls"] if "time_s" in sg else None,
                    status=status,
                    details={k: v for k, v in details.items() if v is not None},
                )
            )
        nodes.append(
            NodeTiming(
                name="worker host work",
                op_type="host",
                time_s=reply["host_s"],
                n_calls=reply["n_calls"],
                status="EXECUTED",
                details={"what": "int8 scaling at 2**fix_point, padding to the DPU batch, copies"},
            )
        )
        caveats = [
            "DPU time is the worker's wall time in execute_async/wait (median per call), not a device "
            "counter; the parent's framing and pipe transfer are outside every row",
            "subgraphs, not layers: the compiler fuses a DPU subgraph's layers, which VART cannot time one "
            "by one",
        ]
        if not_run:
            caveats.append(
                f"not run by the worker (the record's outputs are the DPU's): {', '.join(not_run)}"
            )
        return BackendProfile(
            source="vart worker: execute_async/wait per DPU subgraph",
            unit="s",
            nodes=nodes,
            n_calls=reply["n_calls"],
            profiled_call_s=reply["call_s"],
            caveats=caveats,
        )

    def describe(self) -> RunnerDescription:
        """The worker's versions, the DPU's batch and fix points, the xmodel's identity."""
        if not self._facts:
            raise RunnerError("vart runner: call prepare() before describe()")
        xmodel = Path(self._opts.xmodel)
        settings: dict[str, Any] = {
            "xmodel": xmodel.name,
            "xmodel_sha256": sha256_file(xmodel) if xmodel.is_file() else None,
            "xmodel_source_check": self._source_check,
            "runs": "xmodel from -O xmodel; the workload's keras/onnx hash is its float source",
            "dpu_batch": self._facts["dpu_batch"],
            "n_runners": self._facts["n_runners"],
            "input_fix_point": self._facts["input"]["fix_point"],
            "output_fix_point": self._facts["output"]["fix_point"],
            "worker_command": self._command(),
            "worker_python": self._versions.get("python"),
            "worker_numpy": self._versions.get("numpy"),
            "xir_version": self._versions.get("xir"),
            "precision_requested": self._precision_requested,
            "device_bdf": self._opts.device_bdf,
        }
        return RunnerDescription(
            backend="vart",
            backend_version=self._versions.get("vart"),
            device="DPU" + (f" {self._facts['dpu_name']}" if self._facts.get("dpu_name") else ""),
            precision="int8",
            threads=None,
            settings={k: v for k, v in settings.items() if v is not None},
            device_model=self._opts.card,
        )

    def power_meter(self) -> tuple[PowerMeter | None, str]:
        """The card's XRT meter (``xbutil``) when it can be read here, else why not."""
        try:
            from triggerbench.power.xrt import XrtMeter
        except ImportError:
            return None, "this triggerbench has no XRT power meter (triggerbench.power.xrt)"
        bdf = self._opts.device_bdf
        ok, reason = XrtMeter.available(bdf)
        return (XrtMeter(bdf), "") if ok else (None, reason)

    def close(self) -> None:
        """Ask the worker to close its runners and exit (killed if it does not)."""
        if self._worker is not None:
            self._worker.close()
            self._worker = None
