"""The seed talk's reference architectures, as Keras 3 functional models (uncompiled).

L0 muon trigger (input: a 9x16 binary RPC window):

* ``build_teacher``: VGG-like CNN, ~80k parameters;
* ``build_intermediate``: ~11k parameters;
* ``build_student``: ~800 parameters, float;
* ``build_qstudent``: the same student, quantization-aware with HGQ2 (weights and
  activations at ``bits``).

LLP trigger (input: a 9x384 binary hit image): ``build_llp_vgg``, ~2.7M parameters (10.9 MB
float32), regressing the decay radius L_r in metres.

Every L0 model outputs ``(pt_gev, eta)`` in physical units so all runners compare the same
numbers. Internally the last trainable Dense predicts *scaled* targets (pT / 16 GeV, 64 eta),
which keeps the regression well conditioned, and a frozen diagonal Dense, ``to_physical``,
multiplies them back. The scales are powers of two so the rescaling is exact in fixed point
(a shift) for the quantized models and for firmware. The training losses divide by the same
scales (see ``OUTPUT_SCALE``), which is the same as training on scaled targets.
"""

from __future__ import annotations

import numpy as np

from triggerbench.errors import UserInputError

L0_INPUT_SHAPE = (9, 16, 1)
LLP_INPUT_SHAPE = (9, 384, 1)

# Physical units per unit of the last trainable layer's output: pT / 16 GeV and eta / (1/64).
# The eta target is window-local (|eta| < ~0.05, std ~0.01), so it is scaled *up* to order one.
OUTPUT_SCALE = (16.0, 1.0 / 64.0)
# L_r / 8 m: decays happen inside the ~10 m muon spectrometer radius.
LLP_OUTPUT_SCALE = (8.0,)

PARAMETER_TARGETS = {
    "teacher": 80_000,
    "intermediate": 11_000,
    "student": 850,
    "qstudent": 850,
    "llp_vgg": 2_725_000,  # 10.9 MB / 4 bytes
}

# Intermediate feature layers, in matching order, that the guided distillation pairs as hints.
TEACHER_HINT_LAYERS = ("teacher_block2_pool", "teacher_fc2")
STUDENT_HINT_LAYERS = ("student_pool", "student_fc")
QSTUDENT_OUTPUT_BITS = 8  # the output layer's weights stay wider than the rest


def _keras():
    # Imported lazily so that importing triggerbench.models stays cheap.
    import keras

    return keras


def _to_physical(x, scale: tuple[float, ...], name: str = "to_physical"):
    """Append the frozen diagonal Dense that turns scaled outputs into physical units."""
    keras = _keras()
    layer = keras.layers.Dense(
        len(scale),
        use_bias=False,
        kernel_initializer=keras.initializers.Constant(np.diag(scale).astype("float32")),
        trainable=False,
        name=name,
    )
    return layer(x)


def build_teacher(input_shape: tuple[int, ...] = L0_INPUT_SHAPE, name: str = "l0_teacher"):
    """VGG-like teacher CNN for the L0 window: two conv blocks, two Dense layers, (pT, eta).

    Args:
        input_shape: Window shape (layers, strips, 1).
        name: Keras model name.

    Returns:
        An uncompiled ``keras.Model`` with outputs ``(pt_gev, eta)``. The named layers in
        ``TEACHER_HINT_LAYERS`` are its intermediate features for hint-based distillation.
    """
    keras = _keras()
    L = keras.layers
    inp = keras.Input(input_shape, name="window")
    x = L.Conv2D(16, 3, padding="same", activation="relu", name="teacher_conv1a")(inp)
    x = L.Conv2D(16, 3, padding="same", activation="relu", name="teacher_conv1b")(x)
    # Pool along the strips only: 9 layers are too few to halve twice.
    x = L.MaxPooling2D((1, 2), name="teacher_block1_pool")(x)
    x = L.Conv2D(32, 3, padding="same", activation="relu", name="teacher_conv2a")(x)
    x = L.Conv2D(32, 3, padding="same", activation="relu", name="teacher_conv2b")(x)
    x = L.MaxPooling2D((2, 2), name="teacher_block2_pool")(x)
    x = L.Flatten(name="teacher_flatten")(x)
    x = L.Dense(120, activation="relu", name="teacher_fc1")(x)
    x = L.Dense(32, activation="relu", name="teacher_fc2")(x)
    x = L.Dense(2, name="teacher_scaled_out")(x)
    return keras.Model(inp, _to_physical(x, OUTPUT_SCALE), name=name)


def build_intermediate(input_shape: tuple[int, ...] = L0_INPUT_SHAPE, name: str = "l0_intermediate"):
    """Mid-sized CNN (~11k parameters) between teacher and student, outputs ``(pt_gev, eta)``."""
    keras = _keras()
    L = keras.layers
    inp = keras.Input(input_shape, name="window")
    x = L.Conv2D(8, 3, padding="same", activation="relu", name="intermediate_conv1")(inp)
    x = L.MaxPooling2D((1, 2), name="intermediate_pool1")(x)
    x = L.Conv2D(16, 3, padding="same", activation="relu", name="intermediate_conv2")(x)
    x = L.MaxPooling2D((2, 2), name="intermediate_pool")(x)
    x = L.Flatten(name="intermediate_flatten")(x)
    x = L.Dense(36, activation="relu", name="intermediate_fc1")(x)
    x = L.Dense(16, activation="relu", name="intermediate_fc")(x)
    x = L.Dense(2, name="intermediate_scaled_out")(x)
    return keras.Model(inp, _to_physical(x, OUTPUT_SCALE), name=name)


def build_student(input_shape: tuple[int, ...] = L0_INPUT_SHAPE, name: str = "l0_student"):
    """Float student CNN (~800 parameters): one conv, one pool, one hidden Dense, ``(pt_gev, eta)``."""
    keras = _keras()
    L = keras.layers
    inp = keras.Input(input_shape, name="window")
    x = L.Conv2D(4, 3, activation="relu", name="student_conv")(inp)
    x = L.MaxPooling2D((2, 2), name="student_pool")(x)
    x = L.Flatten(name="student_flatten")(x)
    x = L.Dense(9, activation="relu", name="student_fc")(x)
    x = L.Dense(2, name="student_scaled_out")(x)
    return keras.Model(inp, _to_physical(x, OUTPUT_SCALE), name=name)


def _hgq_configs(bits: int):
    """Return HGQ2 quantizer configs (weight, bias, activation, output weight, output bias) for ``bits``.

    Bit widths are pinned with a ``Constant`` constraint: HGQ2 otherwise trains them, and
    the benchmark wants a fixed, named width. Every quantizer uses WRAP overflow: its
    integer bits are then tracked from the data (weights: each step; activations: running
    maximum), so nothing overflows in practice, and da4ml's tracer rejects SAT_SYM inputs.
    """
    from hgq.config import QuantizerConfig
    from hgq.constraints import Constant

    def weight(total_bits: int):
        # KBI's b excludes the sign bit; per output channel (last axis) integer bits.
        b = total_bits - 1
        return QuantizerConfig(
            "kbi", "weight", k0=True, b0=b, bc=Constant(b), br=None, i0=0,
            overflow_mode="WRAP", i_decay_speed=float("inf"), heterogeneous_axis=(-1,),
        )  # fmt: skip

    def bias(total_bits: int):
        b = total_bits - 1
        return QuantizerConfig(
            "kbi", "bias", k0=True, b0=b, bc=Constant(b), br=None, i0=0,
            overflow_mode="WRAP", i_decay_speed=float("inf"), homogeneous_axis=(),
        )  # fmt: skip

    # Inputs are binary and every hidden activation follows a ReLU: unsigned, all bits used.
    activation = QuantizerConfig(
        "kbi", "datalane", k0=False, b0=bits, bc=Constant(bits), br=None, i0=1,
        overflow_mode="WRAP", homogeneous_axis=(0,),
    )  # fmt: skip
    wide = max(bits, QSTUDENT_OUTPUT_BITS)
    return weight(bits), bias(bits), activation, weight(wide), bias(wide)


def build_qstudent(bits: int = 4, input_shape: tuple[int, ...] = L0_INPUT_SHAPE, name: str | None = None):
    """The student, quantization-aware with HGQ2: weights and activations at ``bits``.

    The output layer's weights stay wider (``QSTUDENT_OUTPUT_BITS``); its inputs are the
    ``bits``-wide hidden activations. Bit widths are fixed (not HGQ2-trained) and the EBOPs
    regulariser is off (``beta0=0``) since there is nothing for it to trade.

    Args:
        bits: Total bits of each weight (sign included) and each activation (unsigned).
        input_shape: Window shape (layers, strips, 1).
        name: Keras model name; ``l0_qstudent_{bits}bit`` by default.

    Returns:
        An uncompiled ``keras.Model`` of HGQ2 layers with outputs ``(pt_gev, eta)``.
    """
    if not isinstance(bits, int) or not 2 <= bits <= 16:
        raise UserInputError(f"bits must be an integer from 2 to 16, got {bits!r}")
    keras = _keras()
    from hgq.config import QuantizerConfig
    from hgq.constraints import Constant
    from hgq.layers import QConv2D, QDense, QMaxPooling2D

    kq, bq, aq, kq_out, bq_out = _hgq_configs(bits)
    common = {"beta0": 0.0}
    inp = keras.Input(input_shape, name="window")
    x = QConv2D(4, 3, activation="relu", kq_conf=kq, bq_conf=bq, iq_conf=aq, name="student_conv", **common)(
        inp
    )
    x = QMaxPooling2D((2, 2), iq_conf=aq, name="student_pool", **common)(x)
    x = keras.layers.Flatten(name="student_flatten")(x)
    x = QDense(9, activation="relu", kq_conf=kq, bq_conf=bq, iq_conf=aq, name="student_fc", **common)(x)
    x = QDense(2, kq_conf=kq_out, bq_conf=bq_out, iq_conf=aq, name="student_scaled_out", **common)(x)
    # Frozen diag(16, 1/64): exact as unsigned fixed point with 5 integer and 6 fraction bits.
    # Without an input quantizer it takes the previous layer's exact fixed-point sums as they are.
    diag_q = QuantizerConfig(
        "kbi", "weight", k0=False, b0=11, bc=Constant(11), i0=5, overflow_mode="WRAP", br=None
    )
    to_phys = QDense(
        2,
        use_bias=False,
        enable_iq=False,
        kq_conf=diag_q,
        kernel_initializer=keras.initializers.Constant(np.diag(OUTPUT_SCALE).astype("float32")),
        name="to_physical",
    )
    out = to_phys(x)
    # Set after building so the flag also reaches the kernel quantizer's own variables.
    to_phys.trainable = False
    return keras.Model(inp, out, name=name or f"l0_qstudent_{bits}bit")


def build_llp_vgg(
    input_shape: tuple[int, ...] = LLP_INPUT_SHAPE, name: str = "llp_vgg", dense_units: int = 822
):
    """VGG CNN for the LLP image regressing the decay radius L_r (1 output, metres).

    Four conv blocks (16, 32, 64, 64 filters; two 3x3 convs each) shrink the 9x384 image to
    2x24x64; a wide Dense (``dense_units``) holds most of the ~2.7M parameters, as in the
    seed talk's model (10.9 MB float32).

    Args:
        input_shape: Image shape (layers, strips, 1); tests pass smaller ones.
        name: Keras model name.
        dense_units: Width of the first Dense layer.

    Returns:
        An uncompiled ``keras.Model`` with output ``(lr_m,)``.
    """
    keras = _keras()
    L = keras.layers
    inp = keras.Input(input_shape, name="image")
    x = inp
    # (filters, pool): the strip axis is long, so early blocks pool along it only.
    for i, (filters, pool) in enumerate([(16, (1, 2)), (32, (1, 2)), (64, (2, 2)), (64, (2, 2))], start=1):
        x = L.Conv2D(filters, 3, padding="same", activation="relu", name=f"llp_conv{i}a")(x)
        x = L.Conv2D(filters, 3, padding="same", activation="relu", name=f"llp_conv{i}b")(x)
        x = L.MaxPooling2D(pool, name=f"llp_block{i}_pool")(x)
    x = L.Flatten(name="llp_flatten")(x)
    x = L.Dense(dense_units, activation="relu", name="llp_fc1")(x)
    x = L.Dense(64, activation="relu", name="llp_fc2")(x)
    x = L.Dense(1, name="llp_scaled_out")(x)
    return keras.Model(inp, _to_physical(x, LLP_OUTPUT_SCALE), name=name)


def weight_count(model) -> int:
    """Number of kernel and bias values: ``count_params()`` without HGQ2's quantizer state.

    HGQ2 layers also hold per-element bit widths and integer bits as variables, which
    ``count_params()`` counts; the architecture's size is its kernels and biases.
    """
    return int(
        sum(np.prod(v.shape) for v in model.weights if v.path.rsplit("/", 1)[-1] in ("kernel", "bias"))
    )


BUILDERS = {
    "teacher": build_teacher,
    "intermediate": build_intermediate,
    "student": build_student,
    "qstudent": build_qstudent,
    "llp_vgg": build_llp_vgg,
}
