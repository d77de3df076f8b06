"""Test double of Vitis AI's ``xir`` Python module, for the VART worker's tests.

Only what the worker calls, with the documented behaviour: ``Graph.deserialize(path)``,
``Graph.get_root_subgraph()``, ``Subgraph.is_leaf``, ``toposort_child_subgraph()``,
``has_attr`` / ``get_attr`` (``device`` on subgraphs, ``fix_point`` on tensors) and
``Tensor.name`` / ``dims`` / ``dtype``, ``Subgraph.get_ops()`` with ``Op.get_name()`` /
``get_type()``. The "xmodel" is a JSON file describing the subgraphs (``ops`` optional)::

    {"subgraphs": [
        {"name": "subgraph_input", "device": "USER", "ops": [{"name": "x", "type": "data"}]},
        {"name": "subgraph_dpu", "device": "DPU",
         "inputs": [{"name": "in", "dims": [4, 3, 4, 1], "dtype": "xint8", "fix_point": 5}],
         "outputs": [{"name": "out", "dims": [4, 2], "dtype": "xint8", "fix_point": 3}],
         "weights": [[...], [...]], "shift": 6}]}

The DPU "computation" (see ``vart.py``): ``clip(round(W @ x_int8 / 2**shift), -128, 127)``.
"""

import json

__version__ = "1.4.1-double"


class Tensor:
    """An xir tensor: name, dims (batch first), dtype string and attributes."""

    def __init__(self, spec):
        self.name = spec["name"]
        self.dims = list(spec["dims"])
        self.dtype = spec.get("dtype", "xint8")
        self._attrs = {k: v for k, v in spec.items() if k not in ("name", "dims", "dtype")}

    def has_attr(self, name):
        return name in self._attrs

    def get_attr(self, name):
        if name not in self._attrs:
            raise ValueError(f"tensor {self.name} has no attribute {name}")
        return self._attrs[name]

    def get_data_size(self):
        size = 1
        for d in self.dims:
            size *= d
        return size  # int8: one byte per element


class Op:
    """An xir op: a name and a type (``conv2d-fix``, ``softmax``, ...)."""

    def __init__(self, spec):
        self._name = spec["name"]
        self._type = spec["type"]

    def get_name(self):
        return self._name

    def get_type(self):
        return self._type


class Subgraph:
    """A subgraph: the root holds the children; leaves carry device and tensors."""

    def __init__(self, name, attrs, children=(), spec=None):
        self.name = name
        self._attrs = dict(attrs)
        self._children = list(children)
        self.spec = spec or {}
        self.input_tensors = [Tensor(t) for t in self.spec.get("inputs", [])]
        self.output_tensors = [Tensor(t) for t in self.spec.get("outputs", [])]

    @property
    def is_leaf(self):
        return not self._children

    def get_name(self):
        return self.name

    def get_ops(self):
        return [Op(op) for op in self.spec.get("ops", [])]

    def toposort_child_subgraph(self):
        return list(self._children)

    def has_attr(self, name):
        return name in self._attrs

    def get_attr(self, name):
        if name not in self._attrs:
            raise ValueError(f"subgraph {self.name} has no attribute {name}")
        return self._attrs[name]


class Graph:
    """A deserialized model graph."""

    def __init__(self, name, root):
        self.name = name
        self._root = root

    @staticmethod
    def deserialize(path):
        try:
            with open(path) as fh:
                spec = json.load(fh)
        except (OSError, ValueError) as exc:
            raise RuntimeError(f"cannot deserialize xmodel {path}: {exc}") from None
        children = []
        for sg in spec.get("subgraphs", []):
            attrs = {"device": sg["device"]} if "device" in sg else {}
            children.append(Subgraph(sg["name"], attrs, spec=sg))
        return Graph(spec.get("name", "graph"), Subgraph("root", {}, children))

    def get_root_subgraph(self):
        return self._root

    def get_name(self):
        return self.name
