"""The Dask resource names the farm uses, and which of them each runner's job takes.

A worker advertises what its host has (``dask worker ... --resources "cpu=1,gpu=1"``); a job is
submitted with the resources it needs and runs only on a worker that has them.

=================  ==============================================================================
``cpu``            the host's CPU: every CPU runner (keras, onnxruntime, openvino, null) and the
                   firmware emulators (hls4ml C-simulation, rtl under Verilator)
``gpu``            an NVIDIA GPU (keras-gpu, onnxruntime-cuda, onnxruntime-tensorrt)
``alveo-<model>``  an Alveo card by model, e.g. ``alveo-u50``, ``alveo-u55c``
``vart``           an Alveo card with a Vitis AI worker command configured (the vart runner)
``vitis-hls``      ``vitis-run`` or ``vitis_hls`` on PATH (hls4ml ``-O synth=true``, Vitis backend)
``vivado``         ``vivado_hls`` or ``vivado`` on PATH (hls4ml ``-O synth=true``, Vivado backend)
=================  ==============================================================================

Each resource is advertised with capacity 1 and each job takes 1 of each it needs, so Dask's
scheduler never runs two jobs on one device of one host at once: two measurements sharing a CPU,
a GPU or a card would disturb each other's timing. Jobs on *different* devices of a host do
overlap (a worker has one thread per device resource), as do jobs on different hosts.
"""

from __future__ import annotations

from triggerbench.measure.session import runner_options_for

CPU = "cpu"
GPU = "gpu"
VART = "vart"
VITIS_HLS = "vitis-hls"
VIVADO = "vivado"

#: Runners that measure on a GPU; every other runner not named below measures on the CPU.
GPU_RUNNERS = frozenset({"keras-gpu", "onnxruntime-cuda", "onnxruntime-tensorrt"})

#: hls4ml's ``backend`` option -> the resource its synthesis needs (``runners.hls4ml.SYNTH_TOOLS``).
_SYNTH_RESOURCE = {"vitis": VITIS_HLS, "vivado": VIVADO}


def alveo(model: str) -> str:
    """The resource name of an Alveo card model (``u50`` -> ``alveo-u50``)."""
    return f"alveo-{model.lower()}"


def _truthy(value: object) -> bool:
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


def resources_for(runner: str, runner_options: dict | None = None) -> dict[str, float]:
    """The resources one job of ``runner`` takes (each 1: one job per device at a time).

    Unknown runners (a lab's own plugin, a ``module:Class`` spec) are taken to measure on the CPU.
    """
    if runner in GPU_RUNNERS:
        return {GPU: 1}
    if runner == "vart":
        return {VART: 1}
    needs = {CPU: 1.0}
    if runner == "hls4ml":
        options = runner_options_for(runner, runner_options or {})
        if _truthy(options.get("synth", False)):
            backend = str(options.get("backend", "Vitis")).lower()
            needs[_SYNTH_RESOURCE.get(backend, VITIS_HLS)] = 1
    return needs


def format_resources(resources: dict[str, float]) -> str:
    """``{"cpu": 1, "gpu": 1}`` -> ``cpu=1,gpu=1``, as ``dask worker --resources`` takes them."""
    return ",".join(f"{name}={value:g}" for name, value in sorted(resources.items()))
