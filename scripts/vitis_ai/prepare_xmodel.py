"""Quantize and compile a triggerbench model into an xmodel for the Alveo U50 DPU.

Runs inside the Vitis AI 1.4.1 container (TF 2.3, Python 3.6), in the TF2 environment::

    conda activate vitis-ai-tensorflow2
    python3 prepare_xmodel.py export/llp-vgg --out xmodel/

``export/llp-vgg`` is what ``python -m triggerbench.models.legacy_export`` wrote outside the
container: ``model.json`` (layers), ``weights.npz``, ``calibration.npy`` (simulated events)
and check inputs/outputs. Steps: rebuild the float model with tf.keras and check it against
the exported outputs; quantize it with vai_q_tensorflow2 (``VitisQuantizer``, calibrated on
the simulated events); compile it with ``vai_c_tensorflow2`` for the U50's DPUCAHX8H. Writes
``OUT/NAME.xmodel`` and ``OUT/NAME.triggerbench.json`` (the source model's hash, which the
vart runner checks). A user mistake prints one line and exits with code 2.
"""

import argparse
import json
import os
import subprocess
import sys

import numpy as np

FORMAT = "triggerbench-legacy-keras"
FORMAT_VERSION = 1
U50_ARCH = "/opt/vitis_ai/compiler/arch/DPUCAHX8H/U50/arch.json"
#: Largest |float - rebuilt| accepted on the check events (float32 round-off, not a bug).
REBUILD_ATOL = 1e-4


class PrepareError(Exception):
    """A mistake in the inputs or the environment, shown as one line."""


def load_description(export_dir):
    """Read and check ``model.json`` of an export folder."""
    path = os.path.join(export_dir, "model.json")
    try:
        with open(path) as fh:
            description = json.load(fh)
    except (OSError, ValueError) as exc:
        raise PrepareError(f"cannot read {path}: {exc}") from None
    if description.get("format") != FORMAT or description.get("version") != FORMAT_VERSION:
        raise PrepareError(f"{path} is not a {FORMAT} v{FORMAT_VERSION} description")
    return description


def load_array(path, what):
    """Load an ``.npy`` file, naming it in the error."""
    try:
        return np.load(path)
    except (OSError, ValueError) as exc:
        raise PrepareError(f"cannot read the {what} {path}: {exc}") from None


def check_calibration(calibration, input_shape):
    """The calibration set must be float events of the model's input shape: ``(n, *input_shape)``."""
    want = tuple(input_shape)
    shape = tuple(calibration.shape)
    if len(shape) != len(want) + 1 or shape[1:] != want or shape[0] < 1:
        raise PrepareError(
            "calibration set has shape {}; the model needs (events, {})".format(
                list(shape), ", ".join(str(d) for d in want)
            )
        )
    if not np.issubdtype(calibration.dtype, np.floating) or not np.all(np.isfinite(calibration)):
        raise PrepareError(f"calibration set must hold finite floats, got {calibration.dtype}")
    return calibration.astype(np.float32)


def build_model(description, weights, keras):
    """Rebuild the float model from its description with ``keras`` (tf.keras 2.3, or Keras 3).

    The description holds only config keys both Keras versions accept, and the weights are in
    the order ``get_weights()`` gives in both.
    """
    inputs = keras.Input(shape=tuple(description["input_shape"]))
    x = inputs
    for spec in description["layers"]:
        cls = getattr(keras.layers, spec["class_name"], None)
        if cls is None:
            raise PrepareError(f"this Keras has no layer {spec['class_name']}")
        layer = cls(name=spec["name"], **spec["config"])
        x = layer(x)
        if spec["weights"]:
            layer.set_weights([weights[key] for key in spec["weights"]])
    return keras.Model(inputs, x, name=description.get("model_name") or "model")


def check_rebuild(model, check_inputs, check_outputs):
    """The rebuilt model must give the exported model's outputs; returns the largest difference."""
    got = np.asarray(model(check_inputs.astype(np.float32)))
    if got.shape != check_outputs.shape:
        raise PrepareError(
            f"rebuilt model gives shape {list(got.shape)}, expected {list(check_outputs.shape)}"
        )
    diff = float(np.max(np.abs(got - check_outputs)))
    if diff > REBUILD_ATOL * max(1.0, float(np.max(np.abs(check_outputs)))):
        raise PrepareError(f"rebuilt model differs from the exported one by {diff:.3g} on the check events")
    return diff


def quantize(model, calibration, batch_size):
    """Post-training INT8 with vai_q_tensorflow2 (power-of-two scales, as the DPU needs)."""
    try:
        from tensorflow_model_optimization.quantization.keras import vitis_quantize
    except ImportError as exc:
        raise PrepareError(
            f"vai_q_tensorflow2 is not importable ({exc}): run inside the Vitis AI container "
            "after 'conda activate vitis-ai-tensorflow2'"
        ) from None
    quantizer = vitis_quantize.VitisQuantizer(model)
    return quantizer.quantize_model(calib_dataset=calibration, calib_batch_size=batch_size)


def compile_xmodel(quantized_h5, arch, out_dir, name):
    """Run ``vai_c_tensorflow2``; returns the path of the xmodel it wrote."""
    command = ["vai_c_tensorflow2", "-m", quantized_h5, "-a", arch, "-o", out_dir, "-n", name]
    print("running: " + " ".join(command), flush=True)
    try:
        code = subprocess.call(command)
    except OSError as exc:
        raise PrepareError(f"cannot run vai_c_tensorflow2: {exc}") from None
    xmodel = os.path.join(out_dir, name + ".xmodel")
    if code != 0 or not os.path.isfile(xmodel):
        raise PrepareError(f"vai_c_tensorflow2 failed (exit code {code}); see its output above")
    return xmodel


def write_sidecar(out_dir, name, description, arch, calibration_events, rebuild_diff):
    """What the vart runner checks: which source model this xmodel was compiled from."""
    import tensorflow as tf

    path = os.path.join(out_dir, name + ".triggerbench.json")
    with open(path, "w") as fh:
        json.dump(
            {
                "workload": description.get("workload"),
                "source_sha256": description.get("source_sha256"),
                "input_shape": description["input_shape"],
                "output_shape": description["output_shape"],
                "calibration_events": calibration_events,
                "arch": arch,
                "tensorflow": tf.__version__,
                "rebuild_max_abs_diff": rebuild_diff,
            },
            fh,
            indent=1,
        )
    return path


def prepare(args):
    """The whole flow; returns the xmodel path (or the quantized model with --skip-compile)."""
    description = load_description(args.export_dir)
    name = args.name or description.get("workload") or "model"
    if not args.skip_compile and not os.path.isfile(args.arch):
        raise PrepareError(
            f"arch file not found: {args.arch} (is this the Vitis AI 1.4.1 container? use --arch)"
        )
    calibration_path = args.calibration or os.path.join(args.export_dir, description["calibration"]["file"])
    calibration = check_calibration(
        load_array(calibration_path, "calibration set"), description["input_shape"]
    )
    weights = dict(load_array(os.path.join(args.export_dir, description["weights"]), "weights"))
    check = description["check"]
    check_inputs = load_array(os.path.join(args.export_dir, check["inputs"]), "check inputs")
    check_outputs = load_array(os.path.join(args.export_dir, check["outputs"]), "check outputs")

    import tensorflow as tf

    model = build_model(description, weights, tf.keras)
    rebuild_diff = check_rebuild(model, check_inputs, check_outputs)
    print(f"rebuilt {name} with tf.keras {tf.keras.__version__}: max |diff| {rebuild_diff:.2g}", flush=True)
    quantized = quantize(model, calibration, args.calib_batch_size)
    os.makedirs(args.out, exist_ok=True)
    quantized_h5 = os.path.join(args.out, name + "_quantized.h5")
    quantized.save(quantized_h5)
    simulated = np.asarray(quantized(check_inputs.astype(np.float32)))
    drift = float(np.max(np.abs(simulated - check_outputs)))
    print(f"quantized (simulated INT8) max |diff| on check events: {drift:.3g}")
    if args.skip_compile:
        return quantized_h5
    xmodel = compile_xmodel(quantized_h5, args.arch, args.out, name)
    write_sidecar(args.out, name, description, args.arch, int(len(calibration)), rebuild_diff)
    return xmodel


def parse_args(argv):
    """Command-line options."""
    parser = argparse.ArgumentParser(
        description="Quantize and compile a triggerbench export for the U50 DPU."
    )
    parser.add_argument("export_dir", help="folder written by triggerbench.models.legacy_export")
    parser.add_argument("--out", default="xmodel", help="output folder (default: xmodel)")
    parser.add_argument("--name", default=None, help="xmodel name (default: the workload name)")
    parser.add_argument("--arch", default=U50_ARCH, help="DPU arch.json (default: the U50's DPUCAHX8H)")
    parser.add_argument("--calibration", default=None, help="another calibration .npy (events, *input)")
    parser.add_argument("--calib-batch-size", type=int, default=32, help="calibration batch size")
    parser.add_argument("--skip-compile", action="store_true", help="stop after quantization")
    return parser.parse_args(argv)


def main(argv=None):
    """Run the flow; a PrepareError is one line on stderr and exit code 2."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        path = prepare(args)
    except PrepareError as exc:
        sys.stderr.write(f"prepare_xmodel: error: {exc}\n")
        return 2
    print("wrote " + path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
