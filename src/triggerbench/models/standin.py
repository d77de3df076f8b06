"""Stand-in workload until the physics issue lands: a small 9x16x1 CNN on toy track windows.

The toy data are straight tracks through 9 layers x 16 strips: a hit per layer at
``offset + slope * layer`` (with 5 % missing hits and a little noise); the CNN regresses
(slope, offset). It goes through the same Keras code path as the reference models will.
"""

from __future__ import annotations

import numpy as np

INPUT_SHAPE = (9, 16, 1)
N_LAYERS, N_STRIPS = 9, 16


def toy_tracks(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Return ``n`` binary hit windows (n, 9, 16, 1) and their (slope, offset) targets."""
    rng = np.random.default_rng(seed)
    slope = rng.uniform(-1.0, 1.0, n)
    offset = rng.uniform(4.0, 12.0, n)
    layers = np.arange(N_LAYERS)
    strips = np.rint(offset[:, None] + slope[:, None] * (layers[None, :] - 4)).astype(int)
    hit = (strips >= 0) & (strips < N_STRIPS) & (rng.random((n, N_LAYERS)) > 0.05)
    x = np.zeros((n, N_LAYERS, N_STRIPS, 1), np.float32)
    rows, cols = np.nonzero(hit)
    x[rows, cols, strips[rows, cols], 0] = 1.0
    x[rng.random(x.shape) < 2e-3] = 1.0  # uncorrelated noise
    y = np.stack([slope, (offset - 8.0) / 4.0], axis=1).astype(np.float32)
    return x, y


def build(seed: int = 0, train_steps: int = 60):
    """Build and briefly train the stand-in CNN (seeded, deterministic on CPU)."""
    import keras

    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input(INPUT_SHAPE),
            keras.layers.Conv2D(8, (3, 3), activation="relu", name="conv"),
            keras.layers.MaxPooling2D((1, 2)),
            keras.layers.Flatten(),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dense(2, name="slope_offset"),
        ],
        name="standin_cnn",
    )
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="mse")
    x, y = toy_tracks(train_steps * 64, seed + 1)
    model.fit(x, y, batch_size=64, epochs=1, verbose=0, shuffle=False)
    return model


def task_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Toy task metric: RMS error of slope and offset."""
    err = np.asarray(y_pred, np.float64) - y_true
    return {
        "slope_rmse": float(np.sqrt(np.mean(err[:, 0] ** 2))),
        "offset_rmse": float(np.sqrt(np.mean(err[:, 1] ** 2))),
    }
