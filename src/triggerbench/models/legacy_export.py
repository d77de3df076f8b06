"""Export a shipped float model in a form the Vitis AI 1.4.1 container's tf.keras 2.3 rebuilds.

Keras 3 ``.keras`` files do not load in tf.keras 2.3, so the model is written as a plain list
of layers (class name + the config keys both Keras versions share) and the weights as
``.npz``, plus a calibration set from the simulator and a few reference outputs that let the
container check its rebuild. ``scripts/vitis_ai/prepare_xmodel.py`` reads the folder::

    python -m triggerbench.models.legacy_export --workload llp-vgg --out export/llp-vgg
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from triggerbench.errors import UserInputError

FORMAT = "triggerbench-legacy-keras"
FORMAT_VERSION = 1
DESCRIPTION_FILE = "model.json"
WEIGHTS_FILE = "weights.npz"
CALIBRATION_FILE = "calibration.npy"
CHECK_INPUTS_FILE = "check_inputs.npy"
CHECK_OUTPUTS_FILE = "check_outputs.npy"
CHECK_EVENTS = 16
#: Layer class -> the config keys tf.keras 2.3 and Keras 3 both accept with the same meaning.
PORTABLE_KEYS: dict[str, tuple[str, ...]] = {
    "Conv2D": ("filters", "kernel_size", "strides", "padding", "dilation_rate", "activation", "use_bias"),
    "Dense": ("units", "activation", "use_bias"),
    "MaxPooling2D": ("pool_size", "strides", "padding"),
    "AveragePooling2D": ("pool_size", "strides", "padding"),
    "Flatten": (),
    "ReLU": ("max_value", "negative_slope", "threshold"),
    "Activation": ("activation",),
    "Dropout": ("rate",),
    "BatchNormalization": ("axis", "epsilon", "center", "scale"),
    "Reshape": ("target_shape",),
}
#: Activations by name that both versions know (the DPU runs relu/linear; others stay on CPU).
ACTIVATIONS = ("linear", "relu", "sigmoid", "tanh", "softmax")


def _portable_config(layer: Any) -> dict[str, Any]:
    kind = type(layer).__name__
    config = layer.get_config()
    if config.get("data_format", "channels_last") != "channels_last":
        raise UserInputError(
            f"legacy export: layer {layer.name} is channels_first; only channels_last exports"
        )
    if kind == "BatchNormalization" and config.get("axis") not in (-1, [-1], len(layer.input.shape) - 1):
        raise UserInputError(
            f"legacy export: {layer.name} normalizes axis {config['axis']}, not the channels"
        )
    portable = {key: config[key] for key in PORTABLE_KEYS[kind] if key in config}
    activation = portable.get("activation")
    if activation is not None and activation not in ACTIVATIONS:
        raise UserInputError(
            f"legacy export: {layer.name} uses activation {activation!r}; supported: {', '.join(ACTIVATIONS)}"
        )
    return portable


def describe_model(model: Any) -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:
    """The model as a chain of plain layers, and its weights keyed ``"<index>.<n>"``.

    Only single-path (sequential) models of the layers in ``PORTABLE_KEYS`` export; anything
    else (a quantized HGQ layer, a branch) is a one-line ``UserInputError``.
    """
    layers: list[dict[str, Any]] = []
    weights: dict[str, np.ndarray] = {}
    previous = model.inputs[0]
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "InputLayer":
            continue
        if kind not in PORTABLE_KEYS:
            raise UserInputError(
                f"legacy export: layer {layer.name} is a {kind}; supported: {', '.join(PORTABLE_KEYS)} "
                "(quantized HGQ models are not exported: Vitis AI quantizes the float model)"
            )
        if layer.input is not previous:
            raise UserInputError(
                f"legacy export: {layer.name} does not follow the previous layer (not a chain)"
            )
        previous = layer.output
        index = len(layers)
        names = []
        for n, value in enumerate(layer.get_weights()):
            key = f"{index}.{n}"
            weights[key] = np.asarray(value, dtype=np.float32)
            names.append(key)
        layers.append(
            {"class_name": kind, "name": layer.name, "config": _portable_config(layer), "weights": names}
        )
    if previous is not model.outputs[0]:
        raise UserInputError("legacy export: the last layer is not the model's output")
    return layers, weights


def export(workload_name: str, out_dir: Path, calibration_events: int | None = None) -> Path:
    """Write the description, weights, calibration set and check outputs of a workload's model.

    The calibration sample is the one the ONNX INT8 workloads use (same seed and size), so the
    CPU INT8 and DPU INT8 models are calibrated on the same simulated events.
    """
    from triggerbench.models import workloads
    from triggerbench.models.artifact import load_keras, sha256_file

    workload = workloads.get(workload_name)
    if workload.float_reference is not None:
        raise UserInputError(f"legacy export: {workload_name} is already quantized; export its float model")
    source = workload.source()
    if source.suffix != ".keras":
        raise UserInputError(f"legacy export: {workload_name} has no Keras source ({source.name})")
    model = load_keras(source)
    layers, weights = describe_model(model)
    events = calibration_events or workloads.INT8_CALIBRATION_EVENTS
    calibration, _ = workload.validation(events, workloads.INT8_CALIBRATION_SEED)
    check_inputs, _ = workload.validation(CHECK_EVENTS, workloads.VALIDATION_SEED)
    check_outputs = np.asarray(model(check_inputs), dtype=np.float32)

    import keras

    out_dir.mkdir(parents=True, exist_ok=True)
    np.savez(out_dir / WEIGHTS_FILE, **weights)
    np.save(out_dir / CALIBRATION_FILE, np.asarray(calibration, dtype=np.float32))
    np.save(out_dir / CHECK_INPUTS_FILE, np.asarray(check_inputs, dtype=np.float32))
    np.save(out_dir / CHECK_OUTPUTS_FILE, check_outputs)
    description = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "workload": workload.name,
        "model_name": workload.model_name,
        "source_sha256": sha256_file(source),
        "exported_with_keras": keras.__version__,
        "input_shape": [int(d) for d in model.inputs[0].shape[1:]],
        "output_shape": [int(d) for d in model.outputs[0].shape[1:]],
        "layers": layers,
        "weights": WEIGHTS_FILE,
        "calibration": {
            "file": CALIBRATION_FILE,
            "events": int(len(calibration)),
            "seed": workloads.INT8_CALIBRATION_SEED,
        },
        "check": {"inputs": CHECK_INPUTS_FILE, "outputs": CHECK_OUTPUTS_FILE},
    }
    path = out_dir / DESCRIPTION_FILE
    path.write_text(json.dumps(description, indent=1))
    return path


def main(argv: list[str] | None = None) -> int:
    """Command line: ``--workload NAME --out DIR [--events N]``; user mistakes exit 2."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", required=True, help="a shipped float workload, e.g. llp-vgg")
    parser.add_argument("--out", required=True, type=Path, help="folder to write (copy it to the container)")
    parser.add_argument("--events", type=int, default=None, help="calibration events (default 512)")
    args = parser.parse_args(argv)
    try:
        path = export(args.workload, args.out, args.events)
    except UserInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {path.parent} (model.json, weights, calibration); next, in the Vitis AI container:")
    print("  python3 prepare_xmodel.py EXPORT_DIR --out xmodel/  (EXPORT_DIR: this folder as mounted there)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
