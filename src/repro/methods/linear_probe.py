"""Linear probes on frozen features (DeepCluster's Table 1 protocol).

One linear layer (softmax regression) per feature set, trained by SGD on the training
images' features and scored on the test images after every epoch; the reported number is the
best epoch's test top-1, as the paper reports it (its authors, in the code's issues) -- an
optimistic reading that every row of the table shares. The probes of all conv layers of one
network train together in one Keras model: each layer has its own weights and loss, so the
updates are exactly those of separate probes fed the same batches.

Ours (the paper is silent or does otherwise, said in the report): the features are
standardised with the training features' mean and standard deviation (the paper probes raw
activations), and neither the paper's training crops nor its 10-crop test averaging is used
(28 x 28 digits).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class ProbeConfig:
    """SGD of the probes (paper: 90 epochs, lr 0.01, momentum 0.9)."""

    epochs: int = 90
    batch_size: int = 256
    learning_rate: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 0.0
    standardize: bool = True

    def __post_init__(self):
        if self.epochs < 1 or self.batch_size < 2 or self.learning_rate <= 0:
            raise ValueError(f"probe: epochs >= 1, batch_size >= 2 and learning_rate > 0 needed, "
                             f"got {self.epochs}, {self.batch_size}, {self.learning_rate}")


@dataclass
class ProbeResult:
    """Per feature set: best-epoch and last-epoch test top-1, and the per-epoch curve."""

    best: dict = field(default_factory=dict)        # name -> best epoch's test top-1
    last: dict = field(default_factory=dict)        # name -> last epoch's test top-1
    best_epoch: dict = field(default_factory=dict)  # name -> 1-based epoch of the best
    curves: dict = field(default_factory=dict)      # name -> [test top-1 per epoch]


def standardize(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both sets scaled by the training set's per-feature mean and std (constant features: 1)."""
    mean = train.mean(axis=0, keepdims=True)
    std = train.std(axis=0, keepdims=True)
    std[std < 1e-6] = 1.0
    return ((train - mean) / std).astype(np.float32), ((test - mean) / std).astype(np.float32)


def linear_probes(train_features, y_train, test_features, y_test, cfg: ProbeConfig, *,
                  seed: int, names=None, verbose: int = 0) -> ProbeResult:
    """Train one linear probe per feature set and score it on the test set every epoch.

    ``train_features`` / ``test_features``: lists of ``(n, d_i)`` arrays (one per layer, same
    order); ``names``: their names (default ``f0``, ``f1``, ...)."""
    import keras
    from keras import layers

    train_features, test_features = list(train_features), list(test_features)
    names = list(names or [f"f{i}" for i in range(len(train_features))])
    y_train, y_test = np.asarray(y_train, np.int64), np.asarray(y_test, np.int64)
    if not (len(train_features) == len(test_features) == len(names)) or not names:
        raise ValueError("linear_probes: as many train and test feature sets as names needed")
    for name, a, b in zip(names, train_features, test_features):
        if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
            raise ValueError(f"probe {name}: (n, d) train and test features of one d needed, "
                             f"got {a.shape} and {b.shape}")
        if len(a) != len(y_train) or len(b) != len(y_test):
            raise ValueError(f"probe {name}: {len(a)} / {len(b)} feature rows for "
                             f"{len(y_train)} / {len(y_test)} labels")
    if cfg.standardize:
        pairs = [standardize(a, b) for a, b in zip(train_features, test_features)]
        train_features, test_features = [p[0] for p in pairs], [p[1] for p in pairs]
    n_classes = int(max(y_train.max(), y_test.max())) + 1
    keras.utils.set_random_seed(seed)
    inputs = [keras.Input(shape=(a.shape[1],), name=f"in_{name}")
              for name, a in zip(names, train_features)]
    outputs = [layers.Dense(n_classes, name=name)(i) for name, i in zip(names, inputs)]
    model = keras.Model(inputs, outputs, name="linear_probes")
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=cfg.learning_rate,
                                                 momentum=cfg.momentum,
                                                 weight_decay=cfg.weight_decay or None),
                  loss=[keras.losses.SparseCategoricalCrossentropy(from_logits=True)] * len(names),
                  metrics=[["accuracy"] for _ in names])
    fitted = model.fit(train_features, [y_train] * len(names), batch_size=cfg.batch_size,
                       epochs=cfg.epochs, shuffle=True, verbose=verbose,
                       validation_data=(test_features, [y_test] * len(names)))
    result = ProbeResult()
    for name in names:
        key = f"val_{name}_accuracy" if len(names) > 1 else "val_accuracy"
        curve = [float(v) for v in fitted.history[key]]
        best = int(np.argmax(curve))
        result.curves[name], result.best[name] = curve, curve[best]
        result.best_epoch[name], result.last[name] = best + 1, curve[-1]
    return result
