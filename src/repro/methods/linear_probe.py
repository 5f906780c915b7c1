"""Linear probes on frozen features (DeepCluster's Table 1 protocol), as its authors' code
trains them (facebookresearch/deepcluster eval_linear.py, ``main``, ``RegLog``, ``train``):

- one linear layer (softmax regression) per feature set on the frozen network's pooled
  activations (BatchNorm in inference mode: the code's ``model.eval()``), raw -- no
  standardisation (``RegLog.forward``: average pooling, flatten, ``nn.Linear``);
- SGD lr 0.01, momentum 0.9, batch 256, 90 epochs, weight decay 1e-4 (``--weight_decay``
  default -4, i.e. 10**-4) added to the gradient as PyTorch's SGD does (an L2 penalty
  wd / 2 |w|^2 on kernel and bias: coupled, through the momentum);
- the code's learning-rate decay (util.py ``learning_rate_decay``, called every iteration):
  lr_t = lr_0 / sqrt(1 + lr_0 * wd * t), t the iteration count from 0;
- ``nn.Linear``'s default initialisation: kernel and bias uniform in +-1/sqrt(fan_in);
- the best epoch's test top-1 (``best_prec1``; the paper reports it, its authors say in the
  code's issues) -- an optimistic reading that every row of the table shares.

The probes of all conv layers of one network train together in one Keras model: each layer
has its own weights and loss, so the updates are exactly those of separate probes fed the
same batches. ``shots`` > 0 trains the probes on that many labelled images per class
(:func:`few_shot_indices`, a seeded draw from the training split chosen before any test
result) -- ours, for a stand-in whose full-data probes saturate.

Not done here (the paper's ImageNet augmentation): the code's training crops and flips and its
10-crop test averaging (28 x 28 digits). ``standardize`` (ours, off by default) scales the
features by the training features' mean and std.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class ProbeConfig:
    """SGD of the probes (eval_linear.py: 90 epochs, lr 0.01, momentum 0.9, batch 256, weight
    decay 1e-4 coupled, the lr decay of util.py); ``shots``: labelled images per class (0: all)."""

    epochs: int = 90
    batch_size: int = 256
    learning_rate: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 1e-4
    lr_decay: bool = True
    standardize: bool = False
    shots: int = 0

    def __post_init__(self):
        if self.epochs < 1 or self.batch_size < 2 or self.learning_rate <= 0:
            raise ValueError(f"probe: epochs >= 1, batch_size >= 2 and learning_rate > 0 needed, "
                             f"got {self.epochs}, {self.batch_size}, {self.learning_rate}")
        if self.weight_decay < 0 or self.shots < 0:
            raise ValueError(f"probe: weight_decay and shots must be >= 0, got "
                             f"{self.weight_decay}, {self.shots}")


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


def few_shot_indices(y: np.ndarray, shots: int, *, seed: int) -> np.ndarray:
    """Positions (sorted) of ``shots`` images per class of ``y``, drawn without replacement
    from ``default_rng(seed)``; a class with fewer images is an error naming it."""
    y = np.asarray(y, np.int64)
    if y.ndim != 1 or len(y) == 0 or shots < 1:
        raise ValueError(f"few_shot_indices: a non-empty (n,) label vector and shots >= 1 "
                         f"needed, got shape {y.shape}, shots {shots}")
    rng = np.random.default_rng(seed)
    picks = []
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        if len(members) < shots:
            raise ValueError(f"few_shot_indices: class {c} has {len(members)} images, fewer "
                             f"than {shots} shots")
        picks.append(rng.choice(members, shots, replace=False))
    return np.sort(np.concatenate(picks))


def _decay_schedule(cfg: ProbeConfig):
    """eval_linear.py's lr schedule (util.py ``learning_rate_decay``) as a Keras schedule."""
    import keras
    from keras import ops

    class InverseSqrtDecay(keras.optimizers.schedules.LearningRateSchedule):
        def __init__(self, lr0: float, rate: float):
            self.lr0, self.rate = float(lr0), float(rate)

        def __call__(self, step):
            return self.lr0 / ops.sqrt(1.0 + self.rate * ops.cast(step, "float32"))

        def get_config(self):
            return {"lr0": self.lr0, "rate": self.rate}

    if not cfg.lr_decay or cfg.weight_decay == 0:
        return cfg.learning_rate
    return InverseSqrtDecay(cfg.learning_rate, cfg.learning_rate * cfg.weight_decay)


def linear_probes(train_features, y_train, test_features, y_test, cfg: ProbeConfig, *,
                  seed: int, names=None, verbose: int = 0) -> ProbeResult:
    """Train one linear probe per feature set and score it on the test set every epoch.

    ``train_features`` / ``test_features``: lists of ``(n, d_i)`` arrays (one per layer, same
    order); ``names``: their names (default ``f0``, ``f1``, ...)."""
    import keras

    from repro.methods.pretrain import make_optimizer

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
    outputs = [_probe_layer(n_classes, a.shape[1], cfg.weight_decay, name)(i)
               for name, a, i in zip(names, train_features, inputs)]
    model = keras.Model(inputs, outputs, name="linear_probes")
    model.compile(optimizer=make_optimizer("sgd", _decay_schedule(cfg), cfg.momentum),
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


def _probe_layer(n_classes: int, fan_in: int, weight_decay: float, name: str):
    """``nn.Linear``'s default init (uniform +-1/sqrt(fan_in), kernel and bias) and PyTorch's
    coupled weight decay: an L2 penalty wd / 2 |w|^2, whose gradient wd * w is the term SGD adds."""
    import keras

    bound = 1.0 / np.sqrt(fan_in)
    penalty = keras.regularizers.L2(weight_decay / 2.0) if weight_decay else None
    return keras.layers.Dense(n_classes, name=name,
                              kernel_initializer=keras.initializers.RandomUniform(-bound, bound),
                              bias_initializer=keras.initializers.RandomUniform(-bound, bound),
                              kernel_regularizer=penalty, bias_regularizer=penalty)
