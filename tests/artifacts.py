"""Artifacts for runner tests that read only the .keras source (no ONNX export needed)."""

from __future__ import annotations

from pathlib import Path

from triggerbench import precision
from triggerbench.models.artifact import ModelArtifact, is_hgq, load_keras, sha256_file


def keras_only_artifact(path: Path, model=None) -> ModelArtifact:
    """A ``ModelArtifact`` of the saved Keras model at ``path`` (loaded when ``model`` is None)."""
    model = load_keras(path) if model is None else model
    return ModelArtifact(
        name=Path(path).stem,
        source_format="keras",
        paths={"keras": Path(path)},
        input_shape=tuple(model.inputs[0].shape[1:]),
        output_shape=tuple(model.outputs[0].shape[1:]),
        parameter_count=int(model.count_params()),
        sha256={"keras": sha256_file(path)},
        quantization=precision.hgq2(None) if is_hgq(model) else None,
    )
