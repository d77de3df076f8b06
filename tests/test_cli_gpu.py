"""GPU runners asked for on a host without a GPU: one whole line each, and the run goes on."""

import json

import pytest
from cli_runs import TINY_WINDOWS, tb

from triggerbench.runners.keras_gpu import KerasGpuRunner
from triggerbench.runners.onnxruntime_gpu import OnnxRuntimeCudaRunner


@pytest.mark.skipif(
    OnnxRuntimeCudaRunner.available()[0] or KerasGpuRunner.available()[0],
    reason="this host has what the GPU runners need",
)
def test_gpu_runners_without_a_gpu_are_skipped_with_the_whole_reason_and_the_rest_run(tmp_path):
    proc = tb(
        "run",
        "--workload",
        "standin-cnn",
        "--runner",
        "onnxruntime-cuda,keras-gpu,null",
        "--batch",
        "1",
        "--out",
        str(tmp_path),
        *TINY_WINDOWS,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("skipped ")]
    cuda_reason, keras_reason = OnnxRuntimeCudaRunner.available()[1], KerasGpuRunner.available()[1]
    # the whole reason, with how to get what is missing: the table's cell is cut
    assert f"skipped onnxruntime-cuda: {cuda_reason}" in lines
    assert f"skipped keras-gpu: {keras_reason}" in lines
    assert "pip install" in cuda_reason or "driver" in cuda_reason
    records = {r["runner"]["name"]: r for r in (json.loads(p.read_text()) for p in tmp_path.glob("*.json"))}
    assert records["onnxruntime-cuda"]["status"] == "skipped"
    assert records["keras-gpu"]["status"] == "skipped"
    assert records["null"]["status"] == "ok"
