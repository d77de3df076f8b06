"""Which source Keras layer a backend's node belongs to, from the names the export leaves on it.

Keras' ONNX export names each node by its path of name scopes, e.g.
``l0_teacher_1/teacher_conv1a_1/BiasAdd`` for the bias of layer ``teacher_conv1a`` (each scope
gets a ``_N`` suffix). ONNX Runtime keeps those names through its fusions (``fused
l0_teacher_1/teacher_fc1_1/MatMul/MatMulAddFusion``) and OpenVINO lists every original node a
fused node holds. A layer maps to a node when its name is a path component, with or without
that suffix; the longest such layer wins, so ``conv1`` never takes ``conv1_pool``'s nodes.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from triggerbench.errors import UserInputError

#: The suffix Keras adds to a layer's name scope inside a model's call (``teacher_conv1a_1``).
_SCOPE_SUFFIX = re.compile(r"_\d+$")


@dataclass(frozen=True)
class LayerMatch:
    """The row a backend node is counted in."""

    #: The source layer, or the node's own name when it maps to none.
    layer: str
    mapped: bool
    #: Other source layers the node holds (the backend fused them into it), in source order.
    fused_with: tuple[str, ...] = ()


def keras_layer_names(path: Path) -> list[str]:
    """The top-level layer names of a ``.keras`` file, in the model's order, read without Keras.

    A ``.keras`` file is a zip whose ``config.json`` lists the layers; reading it costs no
    TensorFlow import in a child that profiles an ONNX backend.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
        return [layer["config"]["name"] for layer in config["config"]["layers"]]
    except (OSError, KeyError, TypeError, ValueError, zipfile.BadZipFile) as exc:
        raise UserInputError(f"cannot read the layer names of {path}: {type(exc).__name__}: {exc}") from None


def _component_layer(component: str, layers: set[str]) -> str | None:
    """The layer one path component names: itself, or itself less Keras' ``_N`` scope suffix."""
    component = component.removeprefix("fused ")  # ONNX Runtime's name for a fused node
    if component in layers:
        return component
    bare = _SCOPE_SUFFIX.sub("", component)
    return bare if bare in layers else None


def layers_named(node_name: str, layer_names: Sequence[str]) -> list[str]:
    """The source layers ``node_name`` names (one per comma-separated name), in source order."""
    layers = set(layer_names)
    found: set[str] = set()
    for name in node_name.split(","):
        hits = [hit for part in name.strip().split("/") if (hit := _component_layer(part, layers))]
        if hits:
            found.add(max(hits, key=len))  # the longest match: the most specific scope
    return [layer for layer in layer_names if layer in found]


def map_node(names: Sequence[str], layer_names: Sequence[str], layer: str | None = None) -> LayerMatch:
    """The row for a node called ``names[0]`` that holds ``names`` (the original nodes it fused).

    ``layer``: the source layer where the backend knows it (Keras layer by layer). A node that
    names several layers is counted on the first in source order (the one that does the work
    the others were fused into); a node that names none keeps its own name, unmapped.
    """
    if layer is not None:
        return LayerMatch(layer, mapped=layer in layer_names)
    found = layers_named(",".join(names), layer_names)
    if not found:
        return LayerMatch(names[0], mapped=False)
    return LayerMatch(found[0], mapped=True, fused_with=tuple(found[1:]))
