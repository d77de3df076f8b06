"""The identical model: one Keras (or ONNX) source, its exports, and their content hashes."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from triggerbench import precision, progress
from triggerbench.errors import UserInputError

SUPPORTED_SUFFIXES = (".keras", ".h5", ".hdf5", ".onnx")


def sha256_file(path: Path) -> str:
    """Return the hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def cache_dir() -> Path:
    """Folder for exports and built workloads (``TRIGGERBENCH_CACHE`` overrides it)."""
    root = os.environ.get("TRIGGERBENCH_CACHE") or Path.home() / ".cache" / "triggerbench"
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass(frozen=True)
class ModelArtifact:
    """A model and its exported forms, keyed by format ("keras", "onnx")."""

    name: str
    source_format: str
    paths: dict[str, Path]
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    parameter_count: int | None
    sha256: dict[str, str] = field(default_factory=dict)
    #: The batch size fixed in the model's input (an ONNX export without dynamic axes); None: any.
    fixed_batch: int | None = None
    #: The input's element type as numpy names it ("float32", "int8", "uint8", ...).
    input_dtype: str = "float32"
    #: How the model itself is quantized (``precision.hgq2(4)``, "int8 QDQ"); None: a float model.
    quantization: str | None = None

    @property
    def source_sha256(self) -> str:
        """Hash of the source file every export was made from."""
        return self.sha256[self.source_format]

    def path(self, fmt: str) -> Path:
        """Return the file in format ``fmt``."""
        return self.paths[fmt]

    def size_bytes(self, fmt: str) -> int:
        """Return the size of the file in format ``fmt``."""
        return self.paths[fmt].stat().st_size


def _keras_shapes(model) -> tuple[tuple[int, ...], tuple[int, ...]]:
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise UserInputError("only single-input, single-output models are supported for now")
    in_shape = tuple(model.inputs[0].shape[1:])
    out_shape = tuple(model.outputs[0].shape[1:])
    if any(d is None for d in in_shape + out_shape):
        raise UserInputError(f"the model's shapes must be fixed apart from the batch: {in_shape}")
    return in_shape, out_shape  # type: ignore[return-value]


def save_keras(model, path: Path) -> Path:
    """Save ``model`` to ``path`` through a temp file and rename (no half-written models)."""
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.keras")
    model.save(tmp)
    os.replace(tmp, path)
    return path


def register_custom_layers() -> None:
    """Import the packages whose layers shipped models use (HGQ2's quantized layers).

    Keras finds a saved model's custom classes only once their package registered them.
    """
    try:
        import hgq  # noqa: F401
    except ImportError:  # only needed for quantized models; float models load without it
        pass


def load_keras(path: Path):
    """Load a ``.keras`` file, mapping Keras' many failure types to one clear error."""
    import keras

    register_custom_layers()
    if not path.is_file():
        raise UserInputError(f"model file not found: {path}")
    try:
        return keras.saving.load_model(path, compile=False)
    except Exception as exc:
        raise UserInputError(f"cannot load Keras model {path}: {type(exc).__name__}: {exc}") from None


def export_onnx(model, keras_sha256: str) -> Path:
    """Export ``model`` to ONNX once per source hash (cached), through ``model.export``."""
    import numpy as np

    out = cache_dir() / "onnx" / f"{keras_sha256[:16]}.onnx"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(f".tmp{os.getpid()}.onnx")
        # A freshly loaded model has never been called, and export refuses such a model.
        model(np.zeros((1, *model.inputs[0].shape[1:]), np.float32))
        with progress.step(f"exporting {model.name} to ONNX"):
            model.export(str(tmp), format="onnx", verbose=False)
        os.replace(tmp, out)
    return out


def from_keras(path: Path, name: str | None = None) -> ModelArtifact:
    """Build the artifact set of a Keras model: the ``.keras`` source and its ONNX export."""
    path = Path(path)
    model = load_keras(path)
    in_shape, out_shape = _keras_shapes(model)
    keras_sha = sha256_file(path)
    onnx_path = export_onnx(model, keras_sha)
    return ModelArtifact(
        name=name or path.stem,
        source_format="keras",
        paths={"keras": path, "onnx": onnx_path},
        input_shape=in_shape,
        output_shape=out_shape,
        parameter_count=int(model.count_params()),
        sha256={"keras": keras_sha, "onnx": sha256_file(onnx_path)},
        quantization=precision.hgq2(None) if is_hgq(model) else None,
    )


def is_hgq(model) -> bool:
    """True for models made of HGQ2 quantized layers (they carry their own bit widths)."""
    return any(type(layer).__module__.startswith("hgq.") for layer in model.layers)


#: ONNX operators that mark a statically quantized graph, and how each style is named.
_ONNX_QUANTIZATION = (
    ({"QLinearConv", "QLinearMatMul", "ConvInteger", "MatMulInteger"}, "int8 QOperator"),
    ({"QuantizeLinear", "DequantizeLinear"}, "int8 QDQ"),
)


def _onnx_quantization(graph) -> str | None:
    ops = {node.op_type for node in graph.node}
    return next((name for marks, name in _ONNX_QUANTIZATION if ops & marks), None)


def from_onnx(path: Path, name: str | None = None) -> ModelArtifact:
    """Build the artifact of a user's ONNX model (no Keras source: no keras runner)."""
    import numpy as np
    import onnx

    path = Path(path)
    if not path.is_file():
        raise UserInputError(f"model file not found: {path}")
    try:
        proto = onnx.load(str(path))
    except Exception as exc:
        raise UserInputError(f"cannot load ONNX model {path}: {type(exc).__name__}: {exc}") from None
    from triggerbench.models.keras2 import refuse_qonnx

    refuse_qonnx(proto, path)  # before the checker, whose error on QONNX's domain says nothing useful
    try:
        onnx.checker.check_model(proto)
    except Exception as exc:
        raise UserInputError(f"cannot load ONNX model {path}: {type(exc).__name__}: {exc}") from None
    init_names = {i.name for i in proto.graph.initializer}
    inputs = [i for i in proto.graph.input if i.name not in init_names]
    if len(inputs) != 1 or len(proto.graph.output) != 1:
        raise UserInputError("only single-input, single-output models are supported for now")

    def batch_and_dims(value_info) -> tuple[int | None, tuple[int, ...]]:
        all_dims = [
            d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None
            for d in value_info.type.tensor_type.shape.dim
        ]
        if not all_dims:
            raise UserInputError(f"the model's {value_info.name!r} has no batch axis (a scalar)")
        batch, shape = all_dims[0], all_dims[1:]
        if any(d is None for d in shape):
            raise UserInputError(f"the model's shapes must be fixed apart from the batch: {shape}")
        return batch, tuple(shape)  # type: ignore[arg-type]

    fixed_batch, in_shape = batch_and_dims(inputs[0])
    _, out_shape = batch_and_dims(proto.graph.output[0])
    try:
        in_dtype = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(inputs[0].type.tensor_type.elem_type))
    except Exception:
        in_dtype = None
    if in_dtype is None or not (np.issubdtype(in_dtype, np.number) or in_dtype == np.bool_):
        elem = onnx.TensorProto.DataType.Name(inputs[0].type.tensor_type.elem_type)
        raise UserInputError(f"the model's input is {elem}; only numeric inputs are supported")
    params = sum(int(np.prod(i.dims)) for i in proto.graph.initializer)
    sha = sha256_file(path)
    return ModelArtifact(
        name=name or path.stem,
        source_format="onnx",
        paths={"onnx": path},
        input_shape=in_shape,
        output_shape=out_shape,
        parameter_count=params,
        sha256={"onnx": sha},
        fixed_batch=fixed_batch,
        input_dtype=in_dtype.name,
        quantization=_onnx_quantization(proto.graph),
    )


def from_path(path: Path) -> ModelArtifact:
    """Load a user's model file by its suffix."""
    path = Path(path)
    if path.suffix not in SUPPORTED_SUFFIXES:
        raise UserInputError(
            f"unsupported model file {path.name!r}: use one of {', '.join(SUPPORTED_SUFFIXES)}"
        )
    if path.suffix in (".h5", ".hdf5"):
        from triggerbench.models.keras2 import from_h5

        return from_h5(path)
    return from_keras(path) if path.suffix == ".keras" else from_onnx(path)
