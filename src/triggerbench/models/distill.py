"""Knowledge distillation from a frozen teacher into a (possibly quantized) student.

Three modes, all in *scaled* target space (outputs divided by ``OUTPUT_SCALE``, so pT and eta
weigh alike):

* ``"soft"``: ``alpha * MSE(y, y_S) + (1 - alpha) * MSE(y_T, y_S)``, optionally weighted per
  sample by the *teacher's* predicted pT, ``w ~ max(pT_T, floor)^-p`` (``teacher_weight_power``
  p > 0). The pT resolution is relative, but an MSE on pT spends a small student's capacity on
  high pT. Weights from the true pT would bias the predictions low (the optimum becomes
  E[w pT | x] / E[w | x]); weights that depend on the input only, through the teacher, leave the
  optimum in place and only move capacity to low pT — something a student without a teacher cannot
  do;
* ``"relative"``: the same soft target ``t = alpha * y + (1 - alpha) * y_T``, but the pT term is
  a Huber loss on the residual *relative to the teacher's pT*, ``huber((pT_S - pT_t) / max(pT_T,
  floor))``, plus ``eta_weight`` x the squared eta residual. The metric is a robust relative
  resolution: dividing by the truth would bias the predictions low (as above), dividing by the
  teacher's pT does not, and the Huber loss stops the few hopeless windows (hits lost outside the
  window, noise) from pulling a small student's fit, as they do under an MSE;
* ``"guided"`` (the seed talk's loss): per sample, the plain loss ``||y - y_S||^2`` plus the
  hint losses ``sum_i gamma_i H_i`` *only where the teacher is better*, i.e. where
  ``||y - y_T||^2 < gamma ||y - y_S||^2``. ``H_i = ||A_i - T_i||^2`` compares a student
  feature map ``A_i``, mapped by a small trainable adaptation layer to the shape of the
  teacher's feature map ``T_i``, with ``T_i``.

Norms are means over elements (per sample), so ``||y - y_S||^2`` is the per-sample MSE and
the hint weights do not depend on a feature map's size. Training without a teacher (the
control) is a plain ``fit`` and does not need this module.

``Distiller`` is a ``keras.Model`` with its own ``train_step`` (TensorFlow backend), so
``fit()`` with callbacks and validation works; it trains the student in place and the
adapters on the side. The student keeps its ``to_physical`` output layer: the model to
export is ``distiller.student``, whose outputs are in physical units.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from triggerbench.errors import UserInputError

KD_MODES = ("soft", "relative", "guided")
#: Below this the teacher's pT (noise-only windows predict ~0) would make a weight or a relative
#: residual explode; the simulated muons start at 3 GeV.
TEACHER_WEIGHT_FLOOR_GEV = 3.0


def _ops():
    from keras import ops

    return ops


def per_sample_mse(a, b):
    """Mean over all non-batch axes of ``(a - b)**2``: one value per sample."""
    ops = _ops()
    sq = ops.square(ops.convert_to_tensor(a) - ops.convert_to_tensor(b))
    return ops.mean(ops.reshape(sq, (ops.shape(sq)[0], -1)), axis=1)


def soft_loss(y, y_student, y_teacher, alpha: float, weights=None):
    """Soft-target loss: ``alpha * MSE(y, y_S) + (1 - alpha) * MSE(y_T, y_S)``, batch mean.

    ``weights`` (one per sample, e.g. ``teacher_weights``) make it a weighted mean.
    """
    ops = _ops()
    per_sample = alpha * per_sample_mse(y, y_student) + (1.0 - alpha) * per_sample_mse(y_teacher, y_student)
    if weights is None:
        return ops.mean(per_sample)
    weights = ops.convert_to_tensor(weights, per_sample.dtype)
    return ops.sum(weights * per_sample) / ops.sum(weights)


def teacher_weights(pt_teacher_gev, power: float, floor_gev: float = TEACHER_WEIGHT_FLOOR_GEV):
    """Per-sample weights ``max(pT_T, floor)^-power`` from the teacher's predicted pT (GeV)."""
    ops = _ops()
    pt = ops.maximum(ops.convert_to_tensor(pt_teacher_gev), floor_gev)
    return ops.power(pt, -power)


def relative_huber_loss(
    y, y_student, y_teacher, alpha: float, delta: float, pt_floor: float, eta_weight: float = 1.0
):
    """The ``"relative"`` mode's loss, batch mean; column 0 of every output is pT, column 1 eta.

    Args:
        y: Targets, (batch, 2).
        y_student: Student outputs, (batch, 2).
        y_teacher: Teacher outputs, (batch, 2).
        alpha: Weight of the truth in the soft target ``alpha * y + (1 - alpha) * y_T``.
        delta: Huber's delta: the relative pT residual beyond which the loss grows linearly.
        pt_floor: Smallest teacher pT a residual is divided by (same units as ``y``), so that a
            noise-only window (teacher pT ~0) cannot blow its residual up.
        eta_weight: Weight of the squared (scaled) eta residual beside the pT term.
    """
    ops = _ops()
    y, y_student, y_teacher = (ops.convert_to_tensor(v) for v in (y, y_student, y_teacher))
    target = alpha * y + (1.0 - alpha) * y_teacher
    rel = (y_student[:, 0] - target[:, 0]) / ops.maximum(y_teacher[:, 0], pt_floor)
    size = ops.abs(rel)
    huber = ops.where(size <= delta, 0.5 * ops.square(rel), delta * (size - 0.5 * delta))
    return ops.mean(huber + eta_weight * ops.square(y_student[:, 1] - target[:, 1]))


def guided_loss(
    y,
    y_student,
    y_teacher,
    student_hints: Sequence,
    teacher_hints: Sequence,
    gamma: float,
    hint_weights: Sequence[float],
):
    """The seed talk's teacher-guided loss, batch mean.

    Args:
        y: Targets (scaled), (batch, k).
        y_student: Student outputs (scaled), (batch, k).
        y_teacher: Teacher outputs (scaled), (batch, k).
        student_hints: Adapted student feature maps ``A_i``, each shaped like ``teacher_hints[i]``.
        teacher_hints: Teacher feature maps ``T_i``.
        gamma: The teacher counts as better on a sample when its squared error is below
            ``gamma`` times the student's.
        hint_weights: ``gamma_i``, one per hint pair.

    Returns:
        Scalar: mean over the batch of ``||y - y_S||^2 + [teacher better] * sum_i gamma_i H_i``.
    """
    ops = _ops()
    if not len(student_hints) == len(teacher_hints) == len(hint_weights):
        raise UserInputError(
            f"need one hint weight per hint pair: {len(student_hints)} student, "
            f"{len(teacher_hints)} teacher hints, {len(hint_weights)} weights"
        )
    plain = per_sample_mse(y, y_student)
    teacher_err = per_sample_mse(y, y_teacher)
    # The condition decides only *whether* hints apply; no gradient flows through it.
    better = ops.cast(ops.stop_gradient(teacher_err) < gamma * ops.stop_gradient(plain), plain.dtype)
    hint = ops.zeros_like(plain)
    for a, t, w in zip(student_hints, teacher_hints, hint_weights, strict=True):
        hint = hint + w * per_sample_mse(a, ops.stop_gradient(t))
    return ops.mean(plain + better * hint)


def build_adapter(student_shape: tuple[int, ...], teacher_shape: tuple[int, ...], name: str):
    """Small trainable layer mapping a student feature map to a teacher feature map's shape.

    Same spatial size: a 1x1 convolution (channels only). Otherwise, or for flat features:
    Flatten, Dense to the teacher's size, Reshape.
    """
    import keras

    inp = keras.Input(student_shape)
    if len(student_shape) == 3 and len(teacher_shape) == 3 and student_shape[:2] == teacher_shape[:2]:
        out = keras.layers.Conv2D(teacher_shape[-1], 1, name=f"{name}_1x1")(inp)
    else:
        x = keras.layers.Flatten()(inp) if len(student_shape) > 1 else inp
        x = keras.layers.Dense(int(np.prod(teacher_shape)), name=f"{name}_dense")(x)
        out = keras.layers.Reshape(teacher_shape)(x) if len(teacher_shape) > 1 else x
    return keras.Model(inp, out, name=name)


def _feature_model(model, layer_names: Sequence[str], name: str):
    """A model sharing ``model``'s layers that returns its output followed by named features."""
    import keras

    try:
        feats = [model.get_layer(n).output for n in layer_names]
    except ValueError as exc:
        raise UserInputError(f"{model.name}: {exc}") from None
    return keras.Model(model.input, [model.outputs[0], *feats], name=name)


def make_distiller(
    student,
    teacher,
    mode: str,
    *,
    target_scale: Sequence[float],
    alpha: float = 0.5,
    gamma: float = 1.0,
    hint_weights: Sequence[float] = (),
    student_hint_layers: Sequence[str] = (),
    teacher_hint_layers: Sequence[str] = (),
    teacher_weight_power: float = 0.0,
    huber_delta: float = 0.3,
    eta_weight: float = 1.0,
):
    """Build a ``Distiller`` (a ``keras.Model``); compile it with an optimizer, then ``fit``.

    Args:
        student: The model to train; its outputs in physical units.
        teacher: The trained teacher, frozen here (``trainable = False``).
        mode: ``"soft"``, ``"relative"`` or ``"guided"``.
        target_scale: Physical units per scaled unit of each output; losses divide by it.
        alpha: Weight of the truth in ``"soft"`` and ``"relative"`` modes.
        gamma: Threshold factor of the teacher-is-better test in ``"guided"`` mode.
        hint_weights: ``gamma_i`` of each hint pair in ``"guided"`` mode.
        student_hint_layers: Student layers whose outputs are the ``A_i`` (before adaptation).
        teacher_hint_layers: Teacher layers whose outputs are the ``T_i``.
        teacher_weight_power: ``"soft"`` mode: weight samples by the teacher's predicted pT (the
            first output) to the power ``-p``; 0 weighs all alike.
        huber_delta: ``"relative"`` mode: Huber's delta on the relative pT residual.
        eta_weight: ``"relative"`` mode: weight of the eta term beside the pT term.

    Returns:
        The Distiller; its ``student`` attribute is the (same, trained in place) student.
    """
    import keras
    import tensorflow as tf

    if mode not in KD_MODES:
        raise UserInputError(f"unknown distillation mode {mode!r}; choose one of {', '.join(KD_MODES)}")
    if mode == "guided" and not len(student_hint_layers) == len(teacher_hint_layers) == len(hint_weights):
        raise UserInputError(
            "guided distillation needs as many student and teacher hint layers as hint weights"
        )
    if not 0.0 <= alpha <= 1.0:
        raise UserInputError(f"alpha must be in [0, 1], got {alpha}")
    if not huber_delta > 0.0:
        raise UserInputError(f"huber_delta must be > 0, got {huber_delta}")
    if not eta_weight >= 0.0:
        raise UserInputError(f"eta_weight must be >= 0, got {eta_weight}")
    if teacher_weight_power < 0.0 or (teacher_weight_power and mode != "soft"):
        raise UserInputError(
            f"teacher_weight_power must be >= 0 and applies to soft distillation only, "
            f"got {teacher_weight_power} with mode {mode!r}"
        )

    class Distiller(keras.Model):
        """Trains ``student`` against the truth and a frozen ``teacher`` (TensorFlow backend)."""

        def __init__(self):
            super().__init__(name=f"distill_{mode}_{student.name}")
            teacher.trainable = False
            self.student = student
            self.teacher = teacher
            self.mode = mode
            self.scale = tf.constant(np.asarray(target_scale, np.float32))
            s_names = tuple(student_hint_layers) if mode == "guided" else ()
            t_names = tuple(teacher_hint_layers) if mode == "guided" else ()
            self.student_features = _feature_model(student, s_names, "student_features")
            self.teacher_features = _feature_model(teacher, t_names, "teacher_features")
            self.adapters = [
                build_adapter(
                    tuple(student.get_layer(s).output.shape[1:]),
                    tuple(teacher.get_layer(t).output.shape[1:]),
                    name=f"adapter_{s}_to_{t}",
                )
                for s, t in zip(s_names, t_names, strict=True)
            ]
            self.loss_tracker = keras.metrics.Mean(name="loss")
            self.student_loss_tracker = keras.metrics.Mean(name="student_mse")
            self.teacher_better_tracker = keras.metrics.Mean(name="teacher_better_frac")

        @property
        def metrics(self):
            # Listed here so that fit() resets them every epoch.
            return [self.loss_tracker, self.student_loss_tracker, self.teacher_better_tracker]

        def call(self, x, training=False):
            return self.student(x, training=training)

        def _distill_losses(self, x, y, training: bool):
            y = tf.cast(y, tf.float32) / self.scale
            # A functional model with a one-element output list returns a bare tensor.
            s_out = self.student_features(x, training=training)
            s_out = list(s_out) if isinstance(s_out, list | tuple) else [s_out]
            t_out = self.teacher_features(x, training=False)
            t_out = list(t_out) if isinstance(t_out, list | tuple) else [t_out]
            y_s, y_t = s_out[0] / self.scale, t_out[0] / self.scale
            if self.mode == "soft":
                weights = None
                if teacher_weight_power:
                    weights = teacher_weights(t_out[0][:, 0], teacher_weight_power)
                loss = soft_loss(y, y_s, y_t, alpha, weights)
            elif self.mode == "relative":
                floor = TEACHER_WEIGHT_FLOOR_GEV / self.scale[0]
                loss = relative_huber_loss(y, y_s, y_t, alpha, huber_delta, floor, eta_weight)
            else:
                hints = [
                    adapter(a, training=training) for adapter, a in zip(self.adapters, s_out[1:], strict=True)
                ]
                loss = guided_loss(y, y_s, y_t, hints, t_out[1:], gamma, hint_weights)
            student_mse = tf.reduce_mean(per_sample_mse(y, y_s))
            better = tf.reduce_mean(
                tf.cast(per_sample_mse(y, y_t) < gamma * per_sample_mse(y, y_s), tf.float32)
            )
            return loss, student_mse, better

        def _update_trackers(self, loss, student_mse, better):
            self.loss_tracker.update_state(loss)
            self.student_loss_tracker.update_state(student_mse)
            self.teacher_better_tracker.update_state(better)
            return {m.name: m.result() for m in self.metrics}

        def train_step(self, data):
            x, y = data[0], data[1]
            with tf.GradientTape() as tape:
                loss, student_mse, better = self._distill_losses(x, y, training=True)
                # Layer regularisers of the student (HGQ2's EBOPs term, zero at beta0 = 0).
                total = loss + sum(self.student.losses) if self.student.losses else loss
            variables = self.student.trainable_variables + [
                v for adapter in self.adapters for v in adapter.trainable_variables
            ]
            grads = tape.gradient(total, variables)
            self.optimizer.apply(grads, variables)
            return self._update_trackers(loss, student_mse, better)

        def test_step(self, data):
            x, y = data[0], data[1]
            return self._update_trackers(*self._distill_losses(x, y, training=False))

    return Distiller()
