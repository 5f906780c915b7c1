"""DeepCluster (Caron, Bojanowski, Joulin, Douze, ECCV 2018): alternate k-means on the
network's features and training the network on the cluster assignments as pseudo-labels.

One epoch, as the paper and its code (facebookresearch/deepcluster) do it:

1. features of the whole training set: fc7 *before* its ReLU (the top layer and fc7's ReLU
   removed, as facebookresearch/deepcluster main.py ``main`` does before
   ``compute_features``), in inference mode;
2. PCA to ``pca_dim`` dimensions with whitening, then L2 normalisation of each row
   (:class:`PCAWhitening`, faiss ``PCAMatrix`` with eigen power -1/2; clustering.py
   ``preprocess_features``); a ``pca_dim`` above the features' rank is a clear error;
3. k-means with ``k`` clusters (faiss, one run of ``kmeans_iter`` Lloyd iterations, every
   point used: :func:`repro.methods.kmeans.kmeans`);
4. the paper's empty-cluster rule (:func:`fill_empty_clusters`): an empty cluster takes a
   randomly chosen non-empty cluster's centroid with a small perturbation and the two split
   that cluster's points;
5. a fresh top layer (weights N(0, 0.01), bias 0, as the code) and one pass of SGD (lr 0.05,
   momentum 0.9, weight decay 1e-5, batch 256) over as many images as the set holds, drawn
   uniformly over the clusters (:func:`uniform_cluster_sample`: each non-empty cluster gives
   the same number of draws, with replacement where it is smaller).

Readings and differences (also in the report):

- The labels are never used for training; they only score each epoch's clusters (NMI with
  the labels, Fig. 2a). NMI between the assignments of epochs t-1 and t is Fig. 2b.
- The history row of epoch ``t`` describes the clustering made at the start of epoch ``t``
  (epoch 0: the randomly initialised network's features, as Fig. 2's first point).
- Keras compiles a new SGD with each fresh top layer, so the momentum of the whole network
  restarts every epoch (the code keeps the trunk's optimiser across epochs and re-creates only
  the top layer's); Keras' weight decay is decoupled (the code adds it to the gradient).
- No data augmentation: the paper's random resized crops and horizontal flips are ImageNet
  augmentations (a flipped digit is another symbol); none is used on the digit stand-ins.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .base import check_inputs


@dataclass
class TrainConfig:
    """SGD of the network (DeepCluster and the supervised rows share it)."""

    epochs: int = 500
    batch_size: int = 256
    learning_rate: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 1e-5
    # Supervised rows only (a label-free budget, 0: off, ``epochs`` exactly): stop when the
    # loss on ``validation_images`` held-out *training* images has not improved for
    # ``patience`` epochs, keeping the best epoch's weights (``epochs`` is then a cap)
    validation_images: int = 0
    patience: int = 0

    def __post_init__(self):
        if self.epochs < 1 or self.batch_size < 2:
            raise ValueError(f"train: epochs >= 1 and batch_size >= 2 needed, got "
                             f"{self.epochs}, {self.batch_size}")
        if self.learning_rate <= 0:
            raise ValueError(f"train.learning_rate must be > 0, got {self.learning_rate}")
        if self.validation_images < 0 or self.patience < 0:
            raise ValueError(f"train: validation_images and patience must be >= 0, got "
                             f"{self.validation_images}, {self.patience}")
        if (self.validation_images > 0) != (self.patience > 0):
            raise ValueError("train: validation_images and patience are set together (the "
                             "early stop needs both) or not at all")


@dataclass
class DeepClusterConfig:
    """k-means side of DeepCluster: ``k`` clusters on features PCA-whitened to ``pca_dim``."""

    k: int = 100
    pca_dim: int = 64
    kmeans_iter: int = 20
    perturbation: float = 1e-4      # relative size of the empty-cluster split's perturbation

    def __post_init__(self):
        if self.k < 2:
            raise ValueError(f"deepcluster.k must be >= 2, got {self.k}")
        if self.pca_dim < 1 or self.kmeans_iter < 1:
            raise ValueError(f"deepcluster: pca_dim and kmeans_iter must be >= 1, got "
                             f"{self.pca_dim}, {self.kmeans_iter}")


class PCAWhitening:
    """PCA to ``dim`` dimensions with whitening (faiss ``PCAMatrix``, eigen power -1/2), fitted
    on one set of features; :meth:`transform` whitens and, by default, L2-normalises rows.

    faiss scales by the eigenvalues of the centred scatter matrix (not divided by n), so its
    output has covariance I / n on the fit data; it is multiplied by sqrt(n) here to give the
    identity covariance of whitening (the L2 normalisation after it makes the scale moot for
    DeepCluster)."""

    def __init__(self, dim: int):
        self.dim = int(dim)
        self._pca = None
        self._scale = 1.0

    def fit(self, features: np.ndarray) -> "PCAWhitening":
        import faiss

        features = _as_matrix(features)
        n, d = features.shape
        if self.dim > d:
            raise ValueError(f"PCA to {self.dim} dims of {d}-dim features is impossible")
        if n <= self.dim:
            raise ValueError(f"PCA to {self.dim} dims needs more than {self.dim} rows, got {n}")
        self._pca = faiss.PCAMatrix(d, self.dim, -0.5)
        self._pca.train(features)
        rank = self.rank(faiss.vector_to_array(self._pca.eigenvalues), d)
        if rank < self.dim:
            raise ValueError(
                f"PCA whitening to {self.dim} dims: the centred {d}-dim features have rank "
                f"{rank} (constant or linearly dependent dims, e.g. dead ReLU units); whitening "
                f"would divide by a zero eigenvalue (NaN features, faiss k-means stops). Use "
                f"pca_dim <= {rank}.")
        self._scale = float(np.sqrt(n))
        return self

    @staticmethod
    def rank(eigenvalues: np.ndarray, d: int) -> int:
        """Numerical rank from the covariance's eigenvalues: those above d x float32 eps x the
        largest (numpy.linalg.matrix_rank's tolerance, applied to the covariance)."""
        eigenvalues = np.asarray(eigenvalues, np.float64)
        top = float(eigenvalues.max(initial=0.0))
        if top <= 0:
            return 0
        return int(np.sum(eigenvalues > top * d * np.finfo(np.float32).eps))

    def transform(self, features: np.ndarray, *, normalize: bool = True) -> np.ndarray:
        if self._pca is None:
            raise RuntimeError("PCAWhitening.transform before fit")
        out = self._pca.apply_py(_as_matrix(features)) * np.float32(self._scale)
        if normalize:
            out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out


def _as_matrix(features) -> np.ndarray:
    features = np.asarray(features, dtype=np.float32)
    if features.ndim != 2:
        raise ValueError(f"features must be a 2-D (n, d) matrix, got shape {features.shape}")
    if not np.isfinite(features).all():
        raise ValueError("features contain NaN or infinity")
    return np.ascontiguousarray(features)


def fill_empty_clusters(features: np.ndarray, labels: np.ndarray, centroids: np.ndarray, *,
                        rng: np.random.Generator, perturbation: float = 1e-4
                        ) -> tuple[np.ndarray, np.ndarray, int]:
    """The paper's empty-cluster rule -> (labels, centroids, number of clusters that were empty).

    For each empty cluster in turn: a non-empty cluster with at least two points is drawn at
    random (uniformly), its centroid c is replaced by c - e and the empty one gets c + e
    (e: a random direction of length ``perturbation`` x |c|), and that cluster's points go to
    the nearer of the two. Should every point still fall on one side (the perturbation is
    tiny), the points split at the median of their projection on e, so no cluster is left
    empty whenever there are at least k points. Deterministic given ``rng``.
    """
    features = _as_matrix(features)
    labels = np.asarray(labels, dtype=np.int64).copy()
    centroids = np.array(centroids, dtype=np.float32, copy=True)
    k = len(centroids)
    if labels.shape != (len(features),) or labels.min(initial=0) < 0 or labels.max(initial=0) >= k:
        raise ValueError(f"labels must be ({len(features)},) cluster indices in [0, {k})")
    if len(features) < k:
        raise ValueError(f"{len(features)} points cannot fill {k} clusters")
    sizes = np.bincount(labels, minlength=k)
    empty = np.flatnonzero(sizes == 0)
    for j in empty:
        donors = np.flatnonzero(sizes >= 2)
        c = int(rng.choice(donors))
        direction = rng.standard_normal(centroids.shape[1]).astype(np.float32)
        direction /= max(float(np.linalg.norm(direction)), 1e-12)
        e = direction * perturbation * max(float(np.linalg.norm(centroids[c])), 1e-6)
        centroids[j], centroids[c] = centroids[c] + e, centroids[c] - e
        members = np.flatnonzero(labels == c)
        points = features[members]
        to_new = (np.sum((points - centroids[j]) ** 2, axis=1)
                  < np.sum((points - centroids[c]) ** 2, axis=1))
        if to_new.all() or not to_new.any():
            projection = points @ direction
            to_new = projection > np.median(projection)
            if not to_new.any():   # all projections equal: split by position
                to_new = np.arange(len(members)) >= len(members) // 2
        labels[members[to_new]] = j
        sizes[j], sizes[c] = int(to_new.sum()), int((~to_new).sum())
    return labels, centroids, int(len(empty))


def uniform_cluster_sample(labels: np.ndarray, n: int, *, rng: np.random.Generator) -> np.ndarray:
    """``n`` image indices drawn uniformly over the non-empty clusters (the code's sampler):
    each cluster gives ``ceil(n / clusters)`` draws -- without replacement if it holds that
    many images, with replacement otherwise -- then all draws are shuffled and the first
    ``n`` kept. Tiny clusters are drawn as often as large ones."""
    labels = np.asarray(labels, dtype=np.int64)
    if labels.ndim != 1 or len(labels) == 0:
        raise ValueError(f"labels must be a non-empty (n,) vector, got shape {labels.shape}")
    order = np.argsort(labels, kind="stable")
    clusters, starts, sizes = np.unique(labels[order], return_index=True, return_counts=True)
    per = int(np.ceil(n / len(clusters)))
    draws = []
    for start, size in zip(starts, sizes):   # one draw per cluster (not per sample)
        pick = rng.choice(size, per, replace=bool(size < per))
        draws.append(order[start + pick])
    out = np.concatenate(draws)
    rng.shuffle(out)
    return out[:n]


def compile_network(model, cfg: TrainConfig) -> None:
    """SGD (lr, momentum, weight decay of ``cfg``) on softmax cross-entropy of the logits."""
    import keras

    from repro.methods.pretrain import make_optimizer

    optimizer = make_optimizer("sgd", cfg.learning_rate, cfg.momentum,
                               weight_decay=cfg.weight_decay or None)
    model.compile(optimizer=optimizer,
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])


def reset_top(model, rng: np.random.Generator) -> None:
    """A fresh top layer: kernel N(0, 0.01), bias 0 (the code's initialisation)."""
    top = model.get_layer("top")
    kernel, bias = top.get_weights()
    top.set_weights([rng.normal(0.0, 0.01, kernel.shape).astype(np.float32),
                     np.zeros_like(bias)])


class DeepCluster:
    """DeepCluster as a feature learner (:class:`repro.methods.base.FeatureLearner`): the
    network trained ``train.epochs`` epochs on its own k-means clusters (module docstring).

    ``fit(x, *, seed, y=None)`` returns the trained network; ``y`` only scores each epoch's
    clusters (``nmi_labels``), never trains. After ``fit``, ``info_`` holds ``history`` (one
    row per epoch: Fig. 2a/b), ``labels`` (the last epoch's assignment) and ``seconds``."""

    def __init__(self, cluster: DeepClusterConfig, train: TrainConfig, net, *, verbose: int = 2,
                 log=print):
        self.cluster, self.train, self.net = cluster, train, net
        self.verbose, self.log = verbose, log
        self.info_: dict = {}

    def fit(self, x: np.ndarray, *, seed: int, y: np.ndarray | None = None):
        from repro.methods.kmeans import kmeans
        from repro.metrics import nmi
        from repro.models.deepcluster_net import build_network, feature_model
        from repro.models.inference import predict

        cfg, train = self.cluster, self.train
        x = check_inputs(x, cfg.k, y)
        started = time.perf_counter()
        rng = np.random.default_rng(seed)
        model = build_network(x.shape[1:], cfg.k, self.net, seed=seed)
        features_of = feature_model(model, "fc7")
        history, previous = [], None
        for epoch in range(train.epochs):
            features = predict(features_of, x)
            z = PCAWhitening(cfg.pca_dim).fit(features).transform(features)
            fit = kmeans(z, cfg.k, seed=seed * 100003 + epoch, n_init=1,
                         max_iter=cfg.kmeans_iter, implementation="faiss")
            assigned, _, n_empty = fill_empty_clusters(z, fit.labels, fit.centres, rng=rng,
                                                       perturbation=cfg.perturbation)
            row = {"iteration": epoch, "epoch": epoch, "empty_clusters": n_empty,
                   "nmi_epochs": float(nmi(previous, assigned)) if previous is not None
                   else np.nan,
                   "nmi_labels": float(nmi(y, assigned)) if y is not None else np.nan}
            reset_top(model, rng)
            compile_network(model, train)
            picks = uniform_cluster_sample(assigned, len(x), rng=rng)
            self.log(f"DeepCluster epoch {epoch + 1}/{train.epochs}: k-means on {len(x)} images, "
                     f"{n_empty} empty clusters filled, NMI with labels {row['nmi_labels']:.3f}")
            fitted = model.fit(x[picks], assigned[picks], batch_size=train.batch_size, epochs=1,
                               shuffle=False, verbose=self.verbose)
            row["loss"] = float(fitted.history["loss"][-1])
            history.append(row)
            previous = assigned
        self.info_ = {"history": history, "labels": previous,
                      "seconds": time.perf_counter() - started}
        return model


class SupervisedNetwork:
    """The supervised rows ("ImageNet labels") as a feature learner: the same network trained
    on the labels ``y`` with the same SGD, shuffled each epoch; ``train.epochs`` epochs, or,
    with ``train.patience``, until the loss on ``validation`` (held-out *training* images and
    their labels, never test data) has not improved for ``patience`` epochs, keeping the best
    epoch's weights.

    After ``fit``, ``info_`` holds ``epochs`` (the epochs whose weights are kept),
    ``epochs_run``, ``loss`` and ``val_loss`` (per epoch)."""

    def __init__(self, train: TrainConfig, net, *,
                 validation: tuple[np.ndarray, np.ndarray] | None = None, verbose: int = 2,
                 log=print):
        if train.patience and validation is None:
            raise ValueError("SupervisedNetwork: train.patience is set but no validation "
                             "images were given")
        self.train, self.net, self.validation = train, net, validation
        self.verbose, self.log = verbose, log
        self.info_: dict = {}

    def fit(self, x: np.ndarray, *, seed: int, y: np.ndarray | None = None):
        import keras

        from repro.models.deepcluster_net import build_network

        if y is None:
            raise ValueError("SupervisedNetwork trains on labels: y is required")
        train = self.train
        x = check_inputs(x, 1, y)
        y = np.asarray(y, dtype=np.int64)
        model = build_network(x.shape[1:], int(y.max()) + 1, self.net, seed=seed)
        compile_network(model, train)
        callbacks = []
        if train.patience:
            callbacks.append(keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=train.patience, restore_best_weights=True))
            self.log(f"supervised training on {len(x)} labelled images, at most {train.epochs} "
                     f"epochs, stopped {train.patience} epochs after the best loss on "
                     f"{len(self.validation[1])} held-out training images")
        else:
            self.log(f"supervised training on {len(x)} labelled images, {train.epochs} epochs")
        fitted = model.fit(x, y, batch_size=train.batch_size, epochs=train.epochs, shuffle=True,
                           verbose=self.verbose, callbacks=callbacks,
                           validation_data=self.validation if train.patience else None)
        loss = [float(v) for v in fitted.history["loss"]]
        val_loss = [float(v) for v in fitted.history.get("val_loss", [])]
        kept = int(np.argmin(val_loss)) + 1 if val_loss else len(loss)
        if train.patience:
            self.log(f"supervised training: {len(loss)} epochs run, the weights of epoch {kept} "
                     f"kept (validation loss {val_loss[kept - 1]:.4f})")
        self.info_ = {"epochs": kept, "epochs_run": len(loss), "loss": loss, "val_loss": val_loss}
        return model


class RandomNetwork:
    """The "random" row: the network as initialised from ``seed`` (``n_outputs`` logits),
    never trained; ``y`` is not read. ``info_`` is empty."""

    def __init__(self, n_outputs: int, net):
        self.n_outputs, self.net = int(n_outputs), net
        self.info_: dict = {}

    def fit(self, x: np.ndarray, *, seed: int, y: np.ndarray | None = None):
        from repro.models.deepcluster_net import build_network

        x = check_inputs(x, 1, y)
        return build_network(x.shape[1:], self.n_outputs, self.net, seed=seed)
