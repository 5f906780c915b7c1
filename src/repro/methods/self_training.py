"""DEC's self-training loop, shared by DEC, IDEC, DCEC and GAPDCEC.

The clustering phase of all four (DEC Sec. 3.1, IDEC Alg. 1, DCEC Alg. 1, GAPDCEC Sec. 3.4):

1. centres mu_j <- k-means (``n_init`` restarts) on the embedded data z_i = f(x_i);
2. every ``update_interval`` (T) mini-batch steps: Q of the whole data set, P = target(Q)
   (DEC Eq. 3), labels = argmax_j q_ij; stop if the fraction of labels that changed since
   the previous update is below ``tol`` (not checked at the first update);
3. otherwise SGD steps on batches of ``batch_size`` samples taken in data order, the loss
   against the current P (the model's ``compute_loss``); stop after ``max_iter`` steps.

Keras mapping: one Keras "epoch" of ``fit`` is one update interval (``steps_per_epoch = T``), so
the progress bar shows one line per interval and the epoch logs are the interval means of the
losses; :class:`TargetDistributionUpdate` is the callback doing step 2 at every epoch end.
Batches come from :class:`SequentialBatches`, an endless stream of contiguous batches that wraps
around the end of the data (the reference code instead trains the short remainder batch at the
end of each pass; full batches keep one compiled step and equal sample weights).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import keras
import numpy as np

from repro.models.clustering import soft_assignment, target_distribution
from repro.models.deep_clustering import DeepClusteringModel

from .base import ClusteringResult, check_inputs, score_labels
from .kmeans import kmeans
from .pretrain import PretrainedAutoencoder, as_model_input, make_optimizer


@dataclass
class SelfTrainingConfig:
    """Clustering-phase hyperparameters common to DEC, IDEC, DCEC and GAPDCEC.

    Defaults: GAPDCEC paper Sec. 4.1.2 (SGD, lr 0.01, momentum 0.9, tol 0.1%, T = 140) and the
    DEC / IDEC / DCEC papers and code (batch 256, k-means with 20 restarts, alpha = 1,
    at most 2e4 iterations: ``maxiter=2e4`` in DEC-keras, IDEC and DCEC).
    """

    batch_size: int = 256
    optimizer: str = "sgd"
    learning_rate: float = 0.01
    momentum: float = 0.9
    update_interval: int = 140
    tol: float = 0.001
    max_iter: int = 20000
    n_init: int = 20
    alpha: float = 1.0
    predict_batch_size: int = 2048  # full-data prediction of Q at each update (speed only)

    def __post_init__(self):
        for name in ("batch_size", "update_interval", "max_iter", "n_init", "predict_batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0 <= self.tol < 1:
            raise ValueError(f"tol must be in [0, 1), got {self.tol}")


class SequentialBatches(keras.utils.PyDataset):
    """Endless stream of ``(x[idx], idx)`` with ``idx = (i * batch_size + arange(batch_size)) mod n``.

    Batch i continues where batch i-1 stopped (data order, no shuffling, wrapping around).
    """

    def __init__(self, x: np.ndarray, batch_size: int):
        super().__init__(workers=1, use_multiprocessing=False)
        self.x = x
        self.batch_size = int(batch_size)
        self._offsets = np.arange(self.batch_size, dtype=np.int64)

    @property
    def num_batches(self):
        return None  # endless; fit's steps_per_epoch decides

    def __getitem__(self, i: int):
        n = len(self.x)
        start = (int(i) * self.batch_size) % n
        if start + self.batch_size <= n:
            return self.x[start:start + self.batch_size], np.arange(start, start + self.batch_size, dtype=np.int32)
        index = ((start + self._offsets) % n).astype(np.int32)
        return self.x[index], index


class TargetDistributionUpdate(keras.callbacks.Callback):
    """Step 2 of the loop above, at train begin and at the end of every Keras epoch (= T steps).

    Writes one history row per update, adds ``delta_label`` (and ``acc`` / ``nmi`` when true
    labels are given, for monitoring only) to the epoch logs, and stops training when
    ``delta_label < tol`` or after ``max_iter`` steps. After training: ``labels`` (final
    assignment), ``history``, ``stopped_by`` ("tol" | "max_iter"), ``iteration`` (steps run).
    """

    def __init__(self, x: np.ndarray, *, update_interval: int, tol: float, max_iter: int,
                 batch_size: int, initial_labels: np.ndarray, y_true: np.ndarray | None = None,
                 predict_batch_size: int = 2048, initial_q: np.ndarray | None = None):
        super().__init__()
        self._initial_q = initial_q  # Q at train begin, if the caller has it (saves a data pass)
        self.x, self.y_true = x, y_true
        self.update_interval, self.tol, self.max_iter = update_interval, tol, max_iter
        self.batch_size, self.predict_batch_size = batch_size, predict_batch_size
        self.labels = np.asarray(initial_labels)
        self.history: list[dict] = []
        self.iteration = 0
        self.stopped_by: str | None = None

    def on_train_begin(self, logs=None):
        self.iteration, self.stopped_by, self.history = 0, None, []
        self._update(None, self._initial_q)
        self._initial_q = None

    def on_train_batch_end(self, batch, logs=None):
        self.iteration += 1
        if self.iteration >= self.max_iter:
            self.stopped_by = "max_iter"
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        delta_label = self._update(logs)
        if self.stopped_by is None and delta_label < self.tol:
            self.stopped_by = "tol"
            self.model.stop_training = True

    def _update(self, logs: dict | None, q: np.ndarray | None = None) -> float:
        """Q (predicted unless given), P and labels of the whole data set; one history row;
        returns delta_label."""
        model = self.model
        if q is None:
            q = model.predict_soft_assignments(self.x, batch_size=self.predict_batch_size)
        labels = q.argmax(axis=1)
        delta_label = float(np.mean(labels != self.labels))
        self.labels = labels
        model.set_targets(target_distribution(q))
        acc, nmi = score_labels(self.y_true, labels)
        row = {"iteration": self.iteration, "epoch": self.iteration * self.batch_size / len(self.x),
               "acc": acc, "nmi": nmi, "loss": float("nan"), "delta_label": delta_label}
        if logs is not None:
            row.update({k: float(logs[k]) for k in ("loss", "clustering_loss", "reconstruction_loss")
                        if k in logs})
            logs.update({"delta_label": delta_label} if acc is None else
                        {"acc": acc, "nmi": nmi, "delta_label": delta_label})
        self.history.append(row)
        return delta_label


def run_self_training(model: DeepClusteringModel, x: np.ndarray, cfg: SelfTrainingConfig, *,
                      seed: int, y: np.ndarray | None = None, verbose: int = 1,
                      callbacks: list | None = None) -> ClusteringResult:
    """Steps 1-3 on ``model`` (trained in place); x already in the model's input shape.

    ``callbacks``: extra Keras callbacks for the clustering ``fit`` (run after the target update).

    Returns labels, one history row per target update, timings (``cluster_s`` = k-means
    initialisation + self-training; ``pretrain_s`` = 0, filled in by callers that pretrain),
    and info (``n_updates``, ``stopped_by``, ``n_iterations``, ``initial_acc`` / ``initial_nmi``
    of the k-means initialisation, ``final_acc`` / ``final_nmi``, ``kmeans_init_s``, ``seed``).
    """
    keras.utils.set_random_seed(seed)
    start = time.perf_counter()
    embedding = np.asarray(model.encoder.predict(x, batch_size=cfg.predict_batch_size, verbose=0))
    init = kmeans(embedding, model.n_clusters, seed=seed, n_init=cfg.n_init)
    model.set_centres(init.centres)
    kmeans_s = time.perf_counter() - start
    initial_acc, initial_nmi = score_labels(y, init.labels)
    if verbose:
        print(f"k-means on the embedding (n_init={cfg.n_init}): acc {initial_acc}, nmi {initial_nmi}")
    model.compile(optimizer=make_optimizer(cfg.optimizer, cfg.learning_rate, cfg.momentum))
    updater = TargetDistributionUpdate(
        x, update_interval=cfg.update_interval, tol=cfg.tol, max_iter=cfg.max_iter,
        batch_size=cfg.batch_size, initial_labels=init.labels, y_true=y,
        predict_batch_size=cfg.predict_batch_size,
        initial_q=soft_assignment(embedding, init.centres, cfg.alpha))
    model.fit(SequentialBatches(x, cfg.batch_size), steps_per_epoch=cfg.update_interval,
              epochs=math.ceil(cfg.max_iter / cfg.update_interval), callbacks=[updater, *(callbacks or [])],
              shuffle=False, verbose=verbose)
    final_acc, final_nmi = score_labels(y, updater.labels)
    info = {"n_updates": len(updater.history), "stopped_by": updater.stopped_by,
            "n_iterations": updater.iteration, "initial_acc": initial_acc,
            "initial_nmi": initial_nmi, "final_acc": final_acc, "final_nmi": final_nmi,
            "kmeans_init_s": kmeans_s, "seed": seed}
    return ClusteringResult(labels=updater.labels, history=updater.history,
                            timings={"pretrain_s": 0.0, "cluster_s": time.perf_counter() - start},
                            info=info)


def prepare_input(encoder: keras.Model, x: np.ndarray) -> np.ndarray:
    """x (n, ...) float32 reshaped to the encoder's input (dense networks take flat vectors)."""
    return as_model_input(encoder, x)


class SelfTrainingClusterer:
    """The DEC family as a :class:`~repro.methods.base.Clusterer`: DEC, IDEC, DCEC, GAPDCEC.

    Constructed with K, the clustering-phase settings, the pretrained autoencoder
    (:class:`~repro.methods.pretrain.PretrainedAutoencoder`; every ``fit`` trains a fresh copy
    of it, so fits are repeatable) and the Keras verbosity. A subclass names the method
    (``METHOD``) and whether the decoder's reconstruction loss is kept (``RECONSTRUCTS``:
    ``L = L_r + gamma L_c`` with ``cfg.gamma``); DEC drops the decoder (``L = L_c``).

    ``fit`` returns :func:`run_self_training`'s result with ``timings["pretrain_s"]`` (the
    pretraining seconds of the autoencoder used) and ``info["pretrain_loss"]`` added.
    """

    METHOD = "DEC"
    CONFIG = SelfTrainingConfig  # the default settings
    RECONSTRUCTS = False

    def __init__(self, n_clusters: int, cfg: SelfTrainingConfig | None = None, *,
                 pretrained=None, verbose: int = 1):
        if pretrained is not None and not isinstance(pretrained, PretrainedAutoencoder):
            raise ValueError(f"{self.METHOD}: pretrained must be a PretrainedAutoencoder "
                             f"(repro.methods.pretrain), got {type(pretrained).__name__}")
        self.n_clusters, self.cfg, self.verbose = n_clusters, cfg or self.CONFIG(), verbose
        self.pretrained = pretrained

    def fit(self, x: np.ndarray, *, seed: int, y: np.ndarray | None = None) -> ClusteringResult:
        x = check_inputs(x, self.n_clusters, y)
        pretrained = self._pretrained(x, seed)
        autoencoder, encoder = pretrained.build()
        x = as_model_input(encoder, x)
        model = DeepClusteringModel(
            encoder, self.n_clusters, len(x), alpha=self.cfg.alpha, name=self.METHOD.lower(),
            **({"autoencoder": autoencoder, "gamma": self.cfg.gamma} if self.RECONSTRUCTS else {}))
        result = self._self_train(model, x, seed=seed, y=y)
        result.timings["pretrain_s"] = pretrained.seconds
        result.info.update(method=self.METHOD, pretrain_loss=pretrained.loss_history)
        return result

    def _pretrained(self, x: np.ndarray, seed: int):
        """The pretrained autoencoder to start from (x: the validated data)."""
        if self.pretrained is None:
            raise ValueError(f"{self.METHOD} needs a pretrained autoencoder "
                             f"(pretrained=..., see repro.methods.pretrain)")
        return self.pretrained

    def _self_train(self, model: DeepClusteringModel, x: np.ndarray, *, seed: int,
                    y: np.ndarray | None) -> ClusteringResult:
        return run_self_training(model, x, self.cfg, seed=seed, y=y, verbose=self.verbose)
