"""Models from other toolchains: Keras 2 ``.h5`` full models (converted once to ``.keras``), QONNX refused."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import tempfile
import warnings
from pathlib import Path

from triggerbench.errors import UserInputError
from triggerbench.models.artifact import (
    ModelArtifact,
    cache_dir,
    from_keras,
    register_custom_layers,
    save_keras,
    sha256_file,
)

H5_SUFFIXES = (".h5", ".hdf5")
#: ONNX domains of QONNX's (and FINN's) custom operators: Quant, BipolarQuant, Trunc, ...
QONNX_DOMAINS = ("qonnx.custom_op.general", "finn.custom_op.general")
QONNX_OPS = ("Quant", "BipolarQuant", "Trunc", "MultiThreshold")
_FIX = "re-save the model with Keras 3 (model.save('m.keras')) or give its ONNX export"


def refuse_qonnx(proto, path: Path) -> None:
    """One clear line for a QONNX file: its custom Quant nodes are no standard ONNX operator."""
    nodes = [
        n
        for n in proto.graph.node
        if n.domain in QONNX_DOMAINS or (n.op_type in QONNX_OPS and "qonnx" in n.domain.lower())
    ]
    if nodes:
        ops = "/".join(sorted({n.op_type for n in nodes}))
        domains = ", ".join(sorted({n.domain for n in nodes}))
        raise UserInputError(
            f"QONNX is not supported: {path.name} has QONNX {ops} nodes (domain {domains}); "
            "convert it to QDQ ONNX (qonnx's QuantToQCDQ transformation, for 2-8 bit Quant nodes) "
            "or give the Keras/HGQ2 source"
        )


def _layers(config):
    """Every layer config (``{"class_name", "config"}``) in a Keras 2 model config, nested models too."""
    if isinstance(config, dict):
        if "class_name" in config and isinstance(config.get("config"), dict):
            yield config
        for value in config.values():
            yield from _layers(value)
    elif isinstance(config, list):
        for value in config:
            yield from _layers(value)


def _load_error(exc: Exception, layers: list[dict], path: Path) -> UserInputError:
    """One actionable line naming the layer Keras 3 refused, parsed from its exception text."""
    text = str(exc)
    where = None
    m = re.search(r"deserializing class '([\w.>]+)' using config=\{'name': '([^']*)'", text)
    if m:
        where = f"layer {m.group(2)!r} ({m.group(1)})"
    unknown = re.search(r"Unknown (?:layer|object)[\w ]*: '([\w.>]+)'", text)
    kwargs = re.search(r"Unrecognized keyword arguments passed to \w+: \{(.*)\}", text)
    if unknown:
        cls = unknown.group(1)
        names = [lay["config"].get("name") for lay in layers if lay["class_name"] == cls]
        where = f"layer {names[0]!r} ({cls})" if names and names[0] else f"a {cls} layer"
        reason = f"unknown layer class {cls!r} (not in Keras 3, nor a registered custom layer)"
    elif kwargs:
        keys = ", ".join(repr(k) for k in re.findall(r"'(\w+)':", kwargs.group(1)))
        reason = f"unrecognized keyword {keys} — a Keras 2 config"
    else:
        lines = text.split("Exception encountered:")[-1].strip().splitlines()
        reason = f"{type(exc).__name__}: {lines[0] if lines else ''}".rstrip(": ")
    where = f"{where}: " if where else ""
    return UserInputError(f"cannot load Keras 2 model {path.name}: {where}{reason}; {_FIX}")


def _drop_depthwise_groups(layers: list[dict], path: Path) -> list[str]:
    """Drop Keras 2's ``groups`` key from DepthwiseConv2D configs (Keras 3 refuses it); names fixed."""
    fixed = []
    for layer in layers:
        if layer["class_name"] != "DepthwiseConv2D" or "groups" not in layer["config"]:
            continue
        name = layer["config"].get("name")
        groups = layer["config"].pop("groups")
        if groups != 1:
            raise UserInputError(
                f"cannot load Keras 2 model {path.name}: layer {name!r} (DepthwiseConv2D) has "
                f"groups={groups}, which Keras 3's DepthwiseConv2D cannot express; {_FIX}"
            )
        fixed.append(name)
    return fixed


def from_h5(path: Path, name: str | None = None) -> ModelArtifact:
    """Build the artifact of a Keras 2 ``.h5`` full model, converted once to ``.keras`` (cached).

    Keras 3 loads it (``compile=False``, ``safe_mode`` kept); the ``groups=1`` key Keras 2 wrote into
    DepthwiseConv2D's config is dropped, with a warning. The ``.keras`` conversion is the source every
    runner sees (``source_format`` "keras"); the original file's hash is kept as ``sha256["h5"]``.
    """
    import h5py
    import keras

    path = Path(path)
    register_custom_layers()
    if not path.is_file():
        raise UserInputError(f"model file not found: {path}")
    try:
        with h5py.File(path, "r") as fh:
            raw = fh.attrs.get("model_config")
    except Exception as exc:
        raise UserInputError(f"cannot read HDF5 file {path}: {type(exc).__name__}: {exc}") from None
    if raw is None:
        raise UserInputError(
            f"{path.name} holds no model config (a weights-only file?): save the full model "
            "(model.save('m.h5') or 'm.keras'), not model.save_weights"
        )
    config = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
    layers = list(_layers(config))
    fixed = _drop_depthwise_groups(layers, path)
    if fixed:
        warnings.warn(
            f"{path.name}: dropped the Keras 2 config key groups=1 from DepthwiseConv2D layer(s) "
            f"{', '.join(repr(n) for n in fixed)} (Keras 3 refuses it; the model is unchanged)",
            stacklevel=2,
        )
    h5_sha = sha256_file(path)
    out = cache_dir() / "h5" / f"{h5_sha[:16]}-keras{keras.__version__}.keras"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
            src = path
            if fixed:
                src = Path(tmp) / f"fixed{path.suffix}"
                shutil.copyfile(path, src)
                with h5py.File(src, "r+") as fh:
                    fh.attrs["model_config"] = json.dumps(config)
            try:
                model = keras.models.load_model(src, compile=False, safe_mode=True)
            except Exception as exc:
                raise _load_error(exc, layers, path) from None
            save_keras(model, out)
    art = from_keras(out, name=name or path.stem)
    return dataclasses.replace(art, sha256={**art.sha256, "h5": h5_sha})
