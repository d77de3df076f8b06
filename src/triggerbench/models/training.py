"""Training of the reference models: plain, distilled (soft / relative / guided) and quantization-aware.

Every ``train_*`` function is seeded (``keras.utils.set_random_seed`` and, by default,
TensorFlow's deterministic ops) and returns ``(model, history, wall_s)``: the trained,
*uncompiled* model with outputs in physical units, the per-epoch history as lists of floats,
and the training wall time in seconds.

Plain training fits a view of the model that stops before the frozen ``to_physical`` layer,
on targets divided by the same scale, with the built-in MSE. The returned model therefore
carries no compile state (no custom loss to register when it is loaded elsewhere).

``FULL`` configs are sized for minutes per model on a 2-core CPU; ``TINY`` ones for tests.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np

from triggerbench.errors import UserInputError
from triggerbench.models import reference

KD_MODES = ("none", "soft", "relative", "guided")
STUDENT_BITS = (2, 3, 4, 6, 8, "float")
# Calibration events for HGQ2's integer-bit trace after quantization-aware training.
TRACE_EVENTS = 20_000


@dataclass(frozen=True)
class TrainConfig:
    """What to train on and how.

    Attributes:
        n_train: Training events.
        n_val: Validation events (a separate seed).
        epochs: Passes over the training events.
        batch_size: Events per optimizer step.
        learning_rate: Adam's initial rate (cosine decay to 1 % over the run).
        seed: Seeds the data and the weights.
        kd_mode: ``"none"`` (plain fit), ``"soft"``, ``"relative"`` or ``"guided"`` distillation
            (see ``distill``).
        alpha: Weight of the truth in soft and relative distillation.
        gamma: Guided distillation: hints apply where the teacher's squared error is below
            ``gamma`` times the student's.
        hint_weights: Guided distillation: weight of each hint pair (``gamma_i``).
        teacher_weight_power: Soft distillation: weight each event by the teacher's predicted pT
            to the power ``-p`` (0: all alike); see ``distill``.
        huber_delta: Relative distillation: Huber's delta on the pT residual over the teacher's pT.
        eta_weight: Relative distillation: weight of the eta term (the pT term is a relative
            residual there, so the control's balance between the outputs does not carry over).
        bits: Quantization-aware student width; None for float models.
        noise_per_strip: RPC noise per strip per bunch crossing in the simulated data.
        noise_only_frac: Fraction of L0 training windows holding only noise (target pT 0), so
            that a network learns that an empty window is low pT.
        pt_range_gev: L0 muon pT range.
        spectrum: L0 pT spectrum, ``"uniform"`` or ``"falling"``.
        deterministic: Enable TensorFlow's deterministic ops (process-wide, cheap on CPU).
    """

    n_train: int = 300_000
    n_val: int = 30_000
    epochs: int = 12
    batch_size: int = 256
    learning_rate: float = 2e-3
    seed: int = 1
    kd_mode: str = "none"
    alpha: float = 0.5
    gamma: float = 1.0
    hint_weights: tuple[float, ...] = (0.1, 0.1)
    teacher_weight_power: float = 0.0
    huber_delta: float = 0.3
    eta_weight: float = 1.0
    bits: int | None = None
    noise_per_strip: float = 1e-3
    noise_only_frac: float = 0.05
    pt_range_gev: tuple[float, float] = (3.0, 30.0)
    spectrum: str = "uniform"
    deterministic: bool = True

    def __post_init__(self) -> None:
        for name in ("n_train", "n_val", "epochs", "batch_size"):
            if int(getattr(self, name)) < 1:
                raise UserInputError(f"{name} must be >= 1, got {getattr(self, name)!r}")
        if not self.learning_rate > 0.0:
            raise UserInputError(f"learning_rate must be > 0, got {self.learning_rate!r}")
        if self.kd_mode not in KD_MODES:
            raise UserInputError(f"unknown kd_mode {self.kd_mode!r}; choose one of {', '.join(KD_MODES)}")
        if not 0.0 <= self.alpha <= 1.0:
            raise UserInputError(f"alpha must be in [0, 1], got {self.alpha!r}")
        if not self.gamma > 0.0:
            raise UserInputError(f"gamma must be > 0, got {self.gamma!r}")
        if not self.huber_delta > 0.0:
            raise UserInputError(f"huber_delta must be > 0, got {self.huber_delta!r}")
        if not self.eta_weight >= 0.0:
            raise UserInputError(f"eta_weight must be >= 0, got {self.eta_weight!r}")

    def with_(self, **changes) -> TrainConfig:
        """Return a copy with ``changes`` applied (validated again)."""
        return replace(self, **changes)


_TEACHER = TrainConfig()
_STUDENT_KD = _TEACHER.with_(
    epochs=20, learning_rate=5e-3, kd_mode="relative", alpha=0.0, huber_delta=0.3, eta_weight=0.25
)
FULL: dict[str, TrainConfig] = {
    "teacher": _TEACHER,
    "intermediate": _TEACHER.with_(epochs=15),
    "student": _TEACHER.with_(epochs=20, learning_rate=5e-3),
    # Relative distillation from the teacher's outputs alone: the best recipe over seeds (README,
    # "Knowledge distillation"; 54 % of the student-teacher gap closed, the guided loss 7 %).
    "student_kd": _STUDENT_KD,
    "qstudent": _STUDENT_KD.with_(bits=4),
    # the bit-width scan, trained like the 4-bit reference
    "qstudent_variant": _STUDENT_KD,
    "llp": TrainConfig(
        n_train=30_000, n_val=3_000, epochs=4, batch_size=64, learning_rate=1e-3, noise_only_frac=0.0
    ),
}
# Not deterministic: enabling it is process-wide, and test sessions share the process with other suites.
_TINY = TrainConfig(n_train=384, n_val=128, epochs=1, batch_size=64, learning_rate=3e-3, deterministic=False)
TINY: dict[str, TrainConfig] = {
    "teacher": _TINY,
    "intermediate": _TINY,
    "student": _TINY,
    "student_kd": _TINY.with_(kd_mode="relative", alpha=0.0),
    "qstudent": _TINY.with_(kd_mode="relative", alpha=0.0, bits=4),
    "qstudent_variant": _TINY.with_(kd_mode="relative", alpha=0.0),
    "llp": _TINY.with_(n_train=64, n_val=32, batch_size=16, noise_only_frac=0.0),
}

Data = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _seed(cfg: TrainConfig) -> None:
    import keras

    keras.utils.set_random_seed(cfg.seed)
    if cfg.deterministic:
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


def l0_data(cfg: TrainConfig) -> Data:
    """Simulate ``(x_train, y_train, x_val, y_val)`` L0 windows; y is (n, 2) [pt_gev, eta]."""
    from triggerbench.physics import DetectorResponse, simulate_l0

    response = DetectorResponse(noise_per_strip=cfg.noise_per_strip)
    kw = dict(pt_range_gev=cfg.pt_range_gev, spectrum=cfg.spectrum, response=response)
    train = simulate_l0(cfg.n_train, 2 * cfg.seed, noise_only_frac=cfg.noise_only_frac, **kw)
    val = simulate_l0(cfg.n_val, 2 * cfg.seed + 1, noise_only_frac=cfg.noise_only_frac, **kw)
    return train.x, train.targets(), val.x, val.targets()


def llp_data(cfg: TrainConfig) -> Data:
    """Simulate ``(x_train, y_train, x_val, y_val)`` LLP images; y is (n, 1) L_r in metres."""
    from triggerbench.physics import DetectorResponse, simulate_llp

    response = DetectorResponse(noise_per_strip=cfg.noise_per_strip)
    train = simulate_llp(cfg.n_train, 2 * cfg.seed, response=response)
    val = simulate_llp(cfg.n_val, 2 * cfg.seed + 1, response=response)
    return train.x, train.targets(), val.x, val.targets()


def _optimizer(cfg: TrainConfig, n_train: int):
    import keras

    steps = cfg.epochs * -(-n_train // cfg.batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(cfg.learning_rate, decay_steps=steps, alpha=0.01)
    return keras.optimizers.Adam(schedule)


def _history(hist) -> dict[str, list[float]]:
    return {k: [float(v) for v in values] for k, values in hist.history.items()}


def fit_scaled(model, cfg: TrainConfig, data: Data, scale: tuple[float, ...]):
    """Plain fit of ``model`` on targets divided by ``scale`` (before its ``to_physical`` layer).

    Returns:
        ``(history, wall_s)``; ``model`` is trained in place and stays uncompiled.
    """
    import keras

    x, y, xv, yv = data
    scale_arr = np.asarray(scale, np.float32)
    view = keras.Model(model.input, model.get_layer("to_physical").input, name=f"{model.name}_scaled")
    view.compile(optimizer=_optimizer(cfg, len(x)), loss="mse")
    start = time.perf_counter()
    hist = view.fit(
        x,
        y / scale_arr,
        validation_data=(xv, yv / scale_arr),
        epochs=cfg.epochs,
        batch_size=cfg.batch_size,
        shuffle=True,
        verbose=0,
    )
    return _history(hist), time.perf_counter() - start


def fit_distilled(student, teacher, cfg: TrainConfig, data: Data):
    """Distil ``teacher`` into ``student`` with ``cfg.kd_mode`` (soft or guided).

    Returns:
        ``(history, wall_s)``; ``student`` is trained in place and stays uncompiled.
    """
    from triggerbench.models.distill import make_distiller

    x, y, xv, yv = data
    distiller = make_distiller(
        student,
        teacher,
        cfg.kd_mode,
        target_scale=reference.OUTPUT_SCALE,
        alpha=cfg.alpha,
        gamma=cfg.gamma,
        hint_weights=cfg.hint_weights,
        student_hint_layers=reference.STUDENT_HINT_LAYERS,
        teacher_hint_layers=reference.TEACHER_HINT_LAYERS,
        teacher_weight_power=cfg.teacher_weight_power,
        huber_delta=cfg.huber_delta,
        eta_weight=cfg.eta_weight,
    )
    distiller.compile(optimizer=_optimizer(cfg, len(x)))
    start = time.perf_counter()
    hist = distiller.fit(
        x, y, validation_data=(xv, yv), epochs=cfg.epochs, batch_size=cfg.batch_size, shuffle=True, verbose=0
    )
    return _history(hist), time.perf_counter() - start


def _train_l0(model, cfg: TrainConfig, teacher=None, data: Data | None = None):
    data = l0_data(cfg) if data is None else data
    if cfg.kd_mode == "none":
        history, wall_s = fit_scaled(model, cfg, data, reference.OUTPUT_SCALE)
    else:
        if teacher is None:
            raise UserInputError(f"kd_mode {cfg.kd_mode!r} needs a trained teacher; pass teacher=")
        history, wall_s = fit_distilled(model, teacher, cfg, data)
    return model, history, wall_s


def train_teacher(cfg: TrainConfig = FULL["teacher"], data: Data | None = None):
    """Train the L0 teacher (always without distillation). Returns ``(model, history, wall_s)``."""
    _seed(cfg)
    return _train_l0(reference.build_teacher(), cfg.with_(kd_mode="none"), data=data)


def train_intermediate(cfg: TrainConfig = FULL["intermediate"], teacher=None, data: Data | None = None):
    """Train the ~11k-parameter model; plain, or distilled when ``cfg.kd_mode`` says so.

    Guided distillation pairs the student hint layers, which this model does not have, so
    only ``"none"`` and ``"soft"`` apply here.
    """
    if cfg.kd_mode == "guided":
        raise UserInputError(
            "the intermediate model has no hint layers: use kd_mode 'none', 'soft' or 'relative'"
        )
    _seed(cfg)
    return _train_l0(reference.build_intermediate(), cfg, teacher, data)


def train_student(cfg: TrainConfig = FULL["student"], teacher=None, data: Data | None = None):
    """Train the float student: ``cfg.kd_mode`` "none" (control), or distilled (needs ``teacher``)."""
    _seed(cfg)
    return _train_l0(reference.build_student(), cfg, teacher, data)


def train_qstudent(cfg: TrainConfig = FULL["qstudent"], teacher=None, bits: int | None = None, data=None):
    """Quantization-aware training of the HGQ2 student at ``bits`` (default ``cfg.bits``, else 4).

    After training, HGQ2's ``trace_minmax`` sets each WRAP quantizer's integer bits from the
    training data, so the saved model's fixed-point ranges cover what it will see.
    """
    from hgq.utils import trace_minmax

    bits = bits if bits is not None else (cfg.bits or 4)
    _seed(cfg)
    data = l0_data(cfg) if data is None else data
    model, history, wall_s = _train_l0(reference.build_qstudent(bits), cfg.with_(bits=bits), teacher, data)
    trace_minmax(model, data[0][:TRACE_EVENTS], batch_size=1024)
    return model, history, wall_s


def train_llp(cfg: TrainConfig = FULL["llp"], data: Data | None = None):
    """Train the LLP VGG regressing L_r in metres. Returns ``(model, history, wall_s)``."""
    _seed(cfg)
    data = llp_data(cfg) if data is None else data
    model = reference.build_llp_vgg(input_shape=tuple(data[0].shape[1:]))
    history, wall_s = fit_scaled(model, cfg, data, reference.LLP_OUTPUT_SCALE)
    return model, history, wall_s


def student_at_bits(bits: int | str):
    """Untrained student at a width of ``STUDENT_BITS``: an int for HGQ2, ``"float"`` for the plain one."""
    if bits == "float":
        return reference.build_student()
    if isinstance(bits, int) and not isinstance(bits, bool):
        return reference.build_qstudent(bits)
    raise UserInputError(f"bits must be an integer width or 'float', got {bits!r}")


def magnitude_prune(model, sparsity: float):
    """Return a copy of ``model`` with the smallest-|w| fraction ``sparsity`` of each kernel set to zero.

    Only trainable layers' kernels are pruned (the frozen ``to_physical`` layer is not); biases
    are kept. Ties at the cut are broken by position so that exactly ``floor(sparsity * size)``
    values per kernel become zero. No retraining.
    """
    import keras

    if not 0.0 <= sparsity < 1.0:
        raise UserInputError(f"sparsity must be in [0, 1), got {sparsity!r}")
    pruned = keras.models.clone_model(model)
    pruned.set_weights(model.get_weights())
    for layer in pruned.layers:
        kernel = getattr(layer, "kernel", None)
        if kernel is None or not layer.trainable:
            continue
        w = np.asarray(kernel.numpy())
        n_zero = int(np.floor(sparsity * w.size))
        if n_zero == 0:
            continue
        order = np.argsort(np.abs(w), axis=None, kind="stable")
        flat = w.reshape(-1).copy()
        flat[order[:n_zero]] = 0.0
        kernel.assign(flat.reshape(w.shape))
    return pruned
