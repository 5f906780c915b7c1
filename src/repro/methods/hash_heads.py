"""What the deep retrieval methods of the DQN stage (DQN, DQN2+, DQNip, CNNH, DNNH) share.

Each method is a retriever (:mod:`repro.methods.base`): constructed with its code length,
its settings, the shared :class:`HeadConfig` and the shared pretrained backbone
(:mod:`repro.models.retrieval`); ``fit(x, y, *, seed)`` trains ``x -> [fc6, fc7] -> top``
(:func:`head_model`, fc6 / fc7 started from the pretrained weights) on the training rows ``x``
(cached conv5 features with the trunk frozen, images with it fine-tuned: :class:`HeadInputs`)
and their labels ``y`` ((n,) classes or (n, C) multi-hot), and returns an index that encodes
and ranks. :func:`fit_epochs` trains one epoch at a time so a method can update its own state
(DQN's codebooks and codes) between epochs. The hashing methods' index is :class:`HashIndex`
(codes in {-1, +1}, Hamming ranking, :class:`HammingRanking`, which KSH shares).

**How long.** ``epochs`` is a cap: with ``plateau_window`` > 0 a head stops once its training
loss has flattened (label-free: the mean loss of the last ``plateau_window`` epochs is less
than ``plateau_tol`` (relative) below the mean of the window before it), or when its training
time passes ``time_budget_s``; every head of the stage follows the same rule.

``finetune_trunk``: the paper fine-tunes the whole network. With ``False`` (the quick
profile's reduction, named in its protocol) conv1-conv5 stay frozen at the pretrained
weights, the heads train on cached conv5 features, and only fc6, fc7 and the top learn.

Losses are written with ``keras.ops`` only (any backend); the targets handed to ``fit`` are
the label matrix (:func:`label_matrix`) or a method's own per-image targets (CNNH: the
stage-1 code); DQN's model computes its own loss (:mod:`repro.methods.dqn`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import keras
import numpy as np
from keras import ops

from repro.methods.base import check_inputs
from repro.methods.pretrain import make_optimizer
from repro.metrics import hamming_distance, rank
from repro.models.inference import forward
from repro.models.retrieval import fc_layers
from repro.quantization.product_quantizer import _check_count


@dataclass
class HeadConfig:
    """Training knobs shared by the deep retrieval methods (one value for all of them)."""

    epochs: int = 30
    batch_size: int = 64
    optimizer: str = "sgd"
    learning_rate: float = 0.005
    momentum: float = 0.9
    finetune_trunk: bool = True
    dropout: float = 0.5
    plateau_window: int = 0        # > 0: stop when the training loss flattens (see above)
    plateau_tol: float = 0.01      # relative fall of the windowed mean loss counted as progress
    time_budget_s: float = 0.0     # > 0: stop after this many seconds of training (a cap)

    def __post_init__(self):
        if self.epochs < 1 or self.batch_size < 2:
            raise ValueError(f"head: epochs >= 1 and batch_size >= 2 needed, got "
                             f"{self.epochs}, {self.batch_size}")
        if self.plateau_window < 0 or self.plateau_tol < 0 or self.time_budget_s < 0:
            raise ValueError(f"head: plateau_window, plateau_tol and time_budget_s must be >= 0, "
                             f"got {self.plateau_window}, {self.plateau_tol}, {self.time_budget_s}")
        if self.optimizer not in ("sgd", "adam"):
            raise ValueError(f"head.optimizer: unknown {self.optimizer!r}; known: sgd, adam")


# Training steps run per call into the compiled step function: the same mini-batches and
# updates in the same order (the weights are identical: tests/methods/test_hash_heads.py), fewer
# Python round trips. 256 covers a whole epoch of every head here (79 steps of 64 rows on the
# CIFAR-10 protocol's 5000 training images), so an epoch is one call. A head of 387 -> 256 ->
# 256 -> 288 on 5000 rows, batch 64, Adam: 0.30 s an epoch at 8 steps per call, 0.19 s at 79
# (this 2-core CPU, 2026-12-07, beside another job); 1 step per call was 0.7 s (2026-12-01).
# The whole DQN quick stage did not get measurably faster from 8 to 256 (772 s vs 758 s, on a
# VM whose plain-numpy KSH ran 8% slower the second time).
STEPS_PER_EXECUTION = 256


def label_matrix(labels: np.ndarray) -> np.ndarray:
    """``(n,)`` classes -> one-hot ``(n, C)`` float32; ``(n, C)`` multi-hot -> float32."""
    labels = np.asarray(labels)
    if labels.ndim == 2:
        return labels.astype(np.float32)
    out = np.zeros((len(labels), int(labels.max()) + 1), dtype=np.float32)
    out[np.arange(len(labels)), labels] = 1.0
    return out


def check_training_data(x, y) -> tuple[np.ndarray, np.ndarray]:
    """Validate a retriever's training rows ``x`` (n, ...) and labels ``y`` ((n,) classes >= 0
    or (n, C) multi-hot 0/1); return (x float32, the label matrix)."""
    x = check_inputs(x, 1)
    y = np.asarray(y)
    if y.ndim not in (1, 2) or y.shape[0] != x.shape[0]:
        raise ValueError(f"y must be (n,) classes or (n, C) multi-hot labels with n={x.shape[0]} "
                         f"rows like x, got shape {y.shape}")
    if y.ndim == 1 and (not np.issubdtype(y.dtype, np.integer) or y.min() < 0):
        raise ValueError(f"class labels y must be integers >= 0, got dtype {y.dtype}")
    if y.ndim == 2 and not np.isin(y, (0, 1)).all():
        raise ValueError(f"multi-hot labels y (shape {y.shape}) must hold only 0/1 entries")
    return x, label_matrix(y)


def check_bits(bits) -> int:
    return _check_count("bits", bits, 1)


def pair_similarity(labels):
    """keras tensor S in {-1, +1}: +1 where two images share at least one label."""
    return ops.where(ops.matmul(labels, ops.transpose(labels)) > 0, 1.0, -1.0)


class HammingRanking:
    """``rank`` of an index whose codes are in {-1, +1}: Hamming distance, ties broken by
    database index (:func:`repro.metrics.rank`)."""

    def rank(self, queries: np.ndarray, database: np.ndarray, top: int | None = None) -> np.ndarray:
        """(n_queries, top or n_database) database indices, nearest first."""
        return rank(hamming_distance(queries, database), top)


class HashIndex(HammingRanking):
    """A trained hashing network: ``encode(x)`` = +1 where its output exceeds ``threshold``,
    else -1 (int8); Hamming ranking. ``history``: its training rows."""

    def __init__(self, network, history: list, threshold: float):
        self.network, self.history, self.threshold = network, history, float(threshold)

    def encode(self, x: np.ndarray) -> np.ndarray:
        return np.where(forward(self.network, x) > self.threshold, 1, -1).astype(np.int8)


class HeadInputs:
    """What the heads read: images (trunk fine-tuned) or cached conv5 features (frozen).

    ``backbone``: a :class:`~repro.models.retrieval.Backbone`; ``images``: every image of the
    dataset, indexed by the split's indices."""

    def __init__(self, backbone, images: np.ndarray, cfg: HeadConfig):
        self.backbone, self.images = backbone, images
        self._features = None if cfg.finetune_trunk else backbone.features(images)

    def rows(self, index: np.ndarray) -> np.ndarray:
        if self._features is not None:
            return self._features[index]
        return self.backbone.prepare(self.images[index])

    def conv5(self) -> np.ndarray:
        """conv5 features of every image with the pretrained trunk (cached when frozen)."""
        return self._features if self._features is not None else self.backbone.features(self.images)


class DeepHead:
    """Base of the deep retrieval methods: the code length, the method's settings, the shared
    :class:`HeadConfig` and pretrained backbone come through the constructor."""

    name = "head"

    def __init__(self, bits: int, cfg, head: HeadConfig, backbone, *, verbose: int = 2,
                 log=print):
        self.bits, self.cfg, self.head, self.backbone = check_bits(bits), cfg, head, backbone
        self.verbose, self.log = verbose, log

    def _model(self, x: np.ndarray, top, seed: int):
        return head_model(self.backbone, self.head, x.shape[1:], top,
                          name=f"{self.name.replace('+', 'plus')}_{self.bits}", seed=seed)

    def _train(self, model, x, targets, loss, seed: int, **kw) -> list[dict]:
        return fit_epochs(model, x, targets, loss, self.head, seed=seed, verbose=self.verbose,
                          log=self.log, what=f"[{self.name} {self.bits} bits]", **kw)


def head_model(backbone, cfg: HeadConfig, input_shape, top, *, name: str, seed: int):
    """``inputs -> [trunk copy] -> fc6 -> fc7 -> top(h)`` with the pretrained fc weights.

    ``top``: a function from the fc7 keras tensor to the method's output tensor. The trunk is
    a fresh copy of the pretrained one when it is fine-tuned (methods never share weights).
    ``seed``: the cell's seed, set before the top's layers draw their initial weights, so a
    method's head does not depend on which methods ran before it in the process."""
    keras.utils.set_random_seed(seed)
    x = keras.Input(shape=tuple(input_shape))
    h = x
    if cfg.finetune_trunk:
        trunk = keras.models.clone_model(backbone.trunk)
        trunk.set_weights(backbone.trunk.get_weights())
        h = trunk(h)
    h = fc_layers(h, backbone.cfg, backbone.fc_weights, dropout=cfg.dropout)
    return keras.Model(x, top(h), name=name)


def plateaued(losses, window: int, tol: float) -> bool:
    """The label-free stopping rule: the mean of the last ``window`` losses is less than
    ``tol`` (relative) below the mean of the ``window`` before them (False until there are
    2 x window losses; ``window`` 0: never)."""
    if window < 1 or len(losses) < 2 * window:
        return False
    before = float(np.mean(losses[-2 * window:-window]))
    last = float(np.mean(losses[-window:]))
    return before - last < tol * abs(before)


def fit_epochs(model, x: np.ndarray, targets, loss, cfg: HeadConfig, *, seed: int,
               verbose: int = 2, between=None, log=print, what: str = "",
               min_epochs: int = 0) -> list[dict]:
    """Train ``model`` (one ``fit`` call, one traced step) for at most ``cfg.epochs``,
    stopping earlier at a plateau of the training loss (:func:`plateaued`, checked from epoch
    ``min_epochs`` on: DQN's warm-up) or when the training time passes ``cfg.time_budget_s``.
    (One call gives the same weights as one call per epoch, the shuffles included, without
    the per-call overhead: tests/methods/test_hash_heads.py.)

    ``targets``: the target matrix; ``loss``: a keras loss, or None for a model that computes
    its own (DQN); ``between(epoch)``: called after each epoch (may return a dict of numbers
    for the history). Returns the history rows (epoch, loss, ...); the last row's ``stop``
    says why training ended (1 plateau, 2 time budget, 0 the epoch cap)."""
    keras.utils.set_random_seed(seed)
    model.compile(optimizer=make_optimizer(cfg.optimizer, cfg.learning_rate, cfg.momentum),
                  loss=loss, steps_per_execution=STEPS_PER_EXECUTION)
    rule = _EpochRule(cfg, -(-len(x) // cfg.batch_size), between, min_epochs,
                      log if verbose else None, what)
    model.fit(x, targets, epochs=cfg.epochs, batch_size=cfg.batch_size, shuffle=True,
              verbose=verbose, callbacks=[rule])
    history = rule.history
    history[-1]["stop"] = float(rule.stop)
    if verbose or rule.stop:
        why = {0: "the epoch cap", 1: "the loss plateau", 2: "the time budget"}[rule.stop]
        log(f"{what} stopped after {len(history)} epochs ({why})")
    return history


class _EpochRule(keras.callbacks.Callback):
    """:func:`fit_epochs`' per-epoch work: the history row, ``between``, the stopping rules."""

    def __init__(self, cfg: HeadConfig, steps: int, between, min_epochs: int, log, what: str):
        super().__init__()
        self.cfg, self.steps, self.between, self.min_epochs = cfg, steps, between, min_epochs
        self.log, self.what, self.history, self.stop = log, what, [], 0
        self.started = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        if self.log is not None:
            self.log(f"{self.what} epoch {epoch + 1}/{self.cfg.epochs}")

    def on_epoch_end(self, epoch, logs=None):
        row = {"iteration": (epoch + 1) * self.steps, "epoch": float(epoch + 1),
               "loss": float((logs or {})["loss"])}
        if self.between is not None:
            row.update(self.between(epoch) or {})
        self.history.append(row)
        losses = [r["loss"] for r in self.history[self.min_epochs:]]
        if plateaued(losses, self.cfg.plateau_window, self.cfg.plateau_tol):
            self.stop = 1
        elif self.cfg.time_budget_s and time.perf_counter() - self.started > self.cfg.time_budget_s:
            self.stop = 2
        if self.stop:
            self.model.stop_training = True
