"""Backend node names mapped to the source model's Keras layers (names as the real exports give them)."""

from __future__ import annotations

import json
import zipfile

import pytest

from triggerbench.errors import UserInputError
from triggerbench.models.layer_names import LayerMatch, keras_layer_names, layers_named, map_node

#: The L0 teacher's layers, as its .keras file lists them.
TEACHER = [
    "window",
    "teacher_conv1a",
    "teacher_conv1b",
    "teacher_block1_pool",
    "teacher_flatten",
    "teacher_fc1",
    "to_physical",
]


@pytest.mark.parametrize(
    ("node", "layer"),
    [
        ("l0_teacher_1/teacher_conv1a_1/BiasAdd", "teacher_conv1a"),  # the ONNX export's name
        ("l0_teacher_1/teacher_conv1a_1/Relu:0_nchwc", "teacher_conv1a"),  # ONNX Runtime's NCHWc
        ("fused l0_teacher_1/teacher_fc1_1/MatMul/MatMulAddFusion", "teacher_fc1"),  # ORT's fusion
        ("l0_teacher_1/teacher_block1_pool_1/MaxPool2d", "teacher_block1_pool"),
        ("window", "window"),  # OpenVINO's Parameter keeps the input's name
    ],
)
def test_a_node_maps_to_the_layer_named_in_its_path(node: str, layer: str) -> None:
    assert map_node([node], TEACHER) == LayerMatch(layer, mapped=True)


def test_the_longest_layer_name_wins() -> None:
    layers = ["conv1", "conv1_pool", "conv"]
    assert layers_named("model_1/conv1_pool_1/MaxPool", layers) == ["conv1_pool"]
    assert layers_named("model_1/conv1_1/BiasAdd", layers) == ["conv1"]


def test_a_layer_named_like_a_scope_suffix_is_taken_exactly() -> None:
    # "dense_1" is a layer of its own here: the exact name beats "dense" with a suffix.
    assert layers_named("m_1/dense_1/MatMul", ["dense", "dense_1"]) == ["dense_1"]


def test_a_node_that_maps_to_no_layer_keeps_its_own_name() -> None:
    assert map_node(["ReorderOutput_token_9"], TEACHER) == LayerMatch("ReorderOutput_token_9", mapped=False)


def test_a_fused_node_counts_on_its_first_layer_in_source_order() -> None:
    # OpenVINO lists the original nodes a fused node holds, in no particular order.
    names = [
        "l0_teacher_1/teacher_fc1_1/BiasAdd",
        "l0_teacher_1/teacher_block1_pool_1/MaxPool2d,l0_teacher_1/teacher_fc1_1/Relu",
    ]
    assert map_node(names, TEACHER) == LayerMatch("teacher_block1_pool", True, ("teacher_fc1",))


def test_the_layer_a_backend_names_is_taken_as_given() -> None:
    assert map_node(["dense"], ["dense"], layer="dense") == LayerMatch("dense", True)
    assert map_node(["x"], [], layer="x") == LayerMatch("x", mapped=False)


def test_no_source_layers_leave_every_node_unmapped() -> None:
    assert map_node(["model_1/dense_1/MatMul"], []) == LayerMatch("model_1/dense_1/MatMul", mapped=False)


def test_layer_names_are_read_from_the_keras_file_in_order(tmp_path) -> None:
    path = tmp_path / "m.keras"
    layers = [
        {"class_name": "InputLayer", "config": {"name": "x"}},
        {"class_name": "Dense", "config": {"name": "d"}},
    ]
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(
            "config.json", json.dumps({"class_name": "Functional", "config": {"layers": layers}})
        )
    assert keras_layer_names(path) == ["x", "d"]


def test_a_file_that_is_no_keras_model_is_one_clear_error(tmp_path) -> None:
    path = tmp_path / "m.keras"
    path.write_text("not a zip")
    with pytest.raises(UserInputError, match="cannot read the layer names of"):
        keras_layer_names(path)


def test_every_layer_of_a_real_export_is_named_by_some_node(standin_ctx) -> None:
    """The stand-in CNN's own ONNX export: each layer with weights has a node that maps to it."""
    import onnx

    artifact = standin_ctx.artifact
    layers = keras_layer_names(artifact.path("keras"))
    nodes = [n.name for n in onnx.load(str(artifact.path("onnx"))).graph.node]
    mapped = {m.layer for m in (map_node([n], layers) for n in nodes) if m.mapped}
    assert {"conv", "dense", "slope_offset"} <= mapped
