"""Runner.profile on the real backends (stand-in CNN): every layer with weights gets a row.

Only the shape of a profile is checked, never a time: rows, shares, calls, caveats.
"""

from __future__ import annotations

import pytest

from triggerbench.measure.profile import profile_figures
from triggerbench.models.layer_names import keras_layer_names
from triggerbench.runners.base import RunnerOptions

N_CALLS = 5
#: The stand-in CNN's layers that hold weights.
WEIGHTED = {"conv", "dense", "slope_offset"}


def _profile(cls, artifact, batches, **options):
    runner = cls()
    with runner:
        runner.prepare(artifact, RunnerOptions(batch_size=2, **options))
        backend = runner.profile(runner.stage(batches(2, 7)), N_CALLS)
    figures = profile_figures(backend, keras_layer_names(artifact.path("keras")), whole_call_s=1e-4)
    return backend, figures


def _check_rows(figures) -> None:
    mapped = {row.layer for row in figures.layers if row.mapped}
    assert WEIGHTED <= mapped
    assert sum(row.share for row in figures.layers) == pytest.approx(1.0)
    assert figures.total_s == pytest.approx(sum(row.time_s for row in figures.layers))
    assert figures.profiled_call_s > 0 and figures.whole_call_s == 1e-4
    assert figures.n_calls == N_CALLS


def test_onnxruntime_profile_names_every_weighted_layer(standin_artifact, batches) -> None:
    from triggerbench.runners.onnxruntime import OnnxRuntimeRunner

    backend, figures = _profile(OnnxRuntimeRunner, standin_artifact, batches)
    assert backend.source == "onnxruntime session profiling"
    _check_rows(figures)
    # Each node ran once per profiled call; the warm-up call is left out.
    assert {node.n_calls for node in backend.nodes} == {N_CALLS}
    assert all(node.details.get("provider") == "CPUExecutionProvider" for node in backend.nodes)


def test_openvino_profile_keeps_fused_nodes_with_their_status(standin_artifact, batches) -> None:
    from triggerbench.runners.openvino import OpenVinoRunner

    backend, figures = _profile(OpenVinoRunner, standin_artifact, batches)
    _check_rows(figures)
    statuses = {node.status for node in backend.nodes}
    assert "EXECUTED" in statuses and statuses & {"NOT_RUN", "OPTIMIZED_OUT"}
    # The ReLU OpenVINO fused into the convolution is not a row of its own: it is on conv's row.
    conv = next(row for row in figures.layers if row.layer == "conv")
    assert conv.status == "EXECUTED" and any("Relu" in name for name in conv.backend_names)


def test_keras_profile_times_every_layer_alone(standin_artifact, batches) -> None:
    from triggerbench.runners.keras import KerasRunner

    backend, figures = _profile(KerasRunner, standin_artifact, batches)
    _check_rows(figures)
    # Layer by layer: the backend knows each row's layer, and every layer has one.
    assert [row.layer for row in figures.layers] == [
        "conv",
        "max_pooling2d",
        "flatten",
        "dense",
        "slope_offset",
    ]
    assert all(row.mapped and row.n_calls == N_CALLS for row in figures.layers)
    assert figures.caveats[0] == "layer by layer: XLA fuses layers in the real call"


def test_keras_profile_without_xla_says_so(standin_artifact, batches) -> None:
    from triggerbench.runners.keras import KerasRunner

    backend, figures = _profile(KerasRunner, standin_artifact, batches, extra={"jit_compile": False})
    _check_rows(figures)
    assert "without" not in backend.source and "XLA" not in backend.source
    assert figures.caveats[0] == "layer by layer: the real call runs the layers as one graph"


def test_the_cuda_runners_say_why_they_offer_no_profile():
    from triggerbench.errors import ProfileUnavailableError
    from triggerbench.runners.onnxruntime_gpu import OnnxRuntimeCudaRunner
    from triggerbench.runners.onnxruntime_tensorrt import OnnxRuntimeTensorrtRunner

    for cls in (OnnxRuntimeCudaRunner, OnnxRuntimeTensorrtRunner):
        with pytest.raises(ProfileUnavailableError, match="launch on the host, not its run on the GPU"):
            cls().profile(None, 10)
