"""UCNN (Hsu & Lin, ICIP 2017): joint representation learning and mini-batch k-means with
compensation of the feature drift, and the paper's Baselines I-III.

The loop (Sec. 2, Fig. 1), as implemented by :class:`UCNN`:

0. The UCNN (:mod:`repro.models.ucnn_net`) starts from a pretrained model (here: conv1-conv5
   from :func:`repro.models.ucnn_net.pretrain_supervised`). ``k`` images drawn at random
   (seeded, without replacement) give the initial centroids: their FC9 features.
1. Each epoch (paper: 10) the images are shuffled (seeded) and cut into mini-batches of
   ``N_m`` images (paper: 50; the last one holds the remainder, so every image is processed
   once per epoch). For mini-batch ``t``, with the weights ``w^(t-1)`` left by the last step:
2. h = FC9 features of the batch under ``w^(t-1)``;
3. each h goes to its nearest centroid (squared Euclidean) -> pseudo-labels;
4. one SGD step of the softmax cross-entropy of the batch with those pseudo-labels (Eq. 1)
   -> weights ``w^(t) = w^(t-1) - eta * Delta w^(t-1)``;
5. the centroids of the assigned clusters are updated by Eq. 2-3 (Sculley's mini-batch
   k-means, :func:`minibatch_centroid_update`) with the pseudo-labels of step 3 and
   - UCNN (``compensate=True``, Eq. 4-5): the features ``f(w^(t) + eta * Delta w^(t-1) | I)``
     = ``f(w^(t-1) | I)``, i.e. the features of step 2, computed before the SGD step;
   - Baseline-I (``compensate=False``, Eq. 2): the features ``f(w^(t) | I)`` recomputed with
     the weights after the SGD step.
6. After the last epoch every image is assigned to its nearest centroid with the final
   network (:func:`assign_streamed`, in chunks).

Readings where the paper is loose:

- Order of the steps. Sec. 2 states it: features -> mini-batch k-means assignment -> "update
  the parameters of the UCNN using SGD. Then, features h in the b-th mini-batch are used to
  update their corresponding centroids"; Sec. 2.3: because W_FC9 is updated, the features
  used in Eq. 2 are the drifted ones, f(w^(t)). This is the only order under which Eq. 2 and
  Eq. 5 differ (the SGD step falls between the assignment and the centroid update), so it is
  the one used. The pseudo-labels (which centroid each image updates) are those of step 3 for
  both switches; only the features averaged into the centroids differ (Eq. 2 vs Eq. 5 differ
  only in h).
- eta. Eq. 4's eta is Eq. 1's SGD learning rate; with plain SGD (no momentum, no weight decay,
  as Eq. 1) ``w^(t) + eta * Delta w^(t-1)`` is exactly ``w^(t-1)``, whose features step 2
  already computed. So the compensation reuses them (no reconstruction of the old weights, no
  extra forward pass, exact for any eta); the learning rate is not given in the paper:
  ``learning_rate=0.01`` (AlexNet's base learning rate) by default, plain SGD only.
- Which layers train. Eq. 1 and Sec. 2.1 ("to learn the parameters of FC9 and Softmax ... we
  adopt a standard SGD") update W_FC9 and W_SMax only, and the drift analysis of Sec. 2.3
  tracks W_FC9 only, which is complete only if nothing below FC9 changes. So by default
  (``train_layers="fc9_softmax"``) conv1-conv8 stay frozen at their initial (pretrained,
  resp. seeded random for conv6-conv8) values. ``"conv8"`` (conv8, FC9 and softmax: the layers
  a new set gets its own of, Sec. 3.1: "the channel number of Conv8 and the number of neurons
  of Softmax ... were both set to 365" for Places, 1000 for ILSVRC), ``"adaptation"``
  (conv6-softmax) and ``"all"`` are options; the compensation stays the same (the pre-step
  weights' features: exact for any set of plain-SGD-trained layers).
- The size of the correction (Eq. 4-5 = the features before the SGD step, an O(eta) change
  of what enters Eq. 2). Baseline-I computes both the features before and after each step, so
  its run measures it at no extra cost (``info``/history: ``feature_drift`` = the batch's
  ||f(w^(t)) - f(w^(t-1))||_F / ||f(w^(t-1))||_F averaged over the steps; alongside its own
  centroids it carries the centroids UCNN's Eq. 5 would make from the same pseudo-labels,
  ``centroid_gap`` = ||C_Eq5 - C_Eq2||_F / ||C_Eq2||_F at the end, and ``assignment_flips`` =
  the fraction of all step assignments whose nearest centroid differs between the two).
  UCNN's own run does not pay for the post-step features it does not use.
- Initial counts (Eq. 3, gamma_i = 1 / count(c_i), "the number of the samples assigned to
  c_i"). Sculley 2010, Algorithm 1, starts every per-centre count at 0 (``v <- 0``) after
  initialising the centres with k random examples, so a centre's first assigned sample
  replaces it (gamma = 1) -- the initial image is not "assigned" to it. scikit-learn's
  ``MiniBatchKMeans`` does the same (``_counts = zeros``). ``initial_count=0`` by default;
  ``initial_count=1`` counts the seed image as the centre's first member.
- Feature mode: no dropout, no BatchNorm in the UCNN, so the features in the loss equal the
  inference-mode features used for the assignment.
- The labels are never used for training; they only score (history: NMI / ACC of each epoch's
  online pseudo-labels; info: of the final assignment).

Memory: training holds one mini-batch of images and features; the final assignment one chunk
(``chunk_size``); the only arrays of length N are int64 label vectors. The images can come
from an array or an :class:`ImageSource` (``fetch(indices) -> images``, e.g. images generated
on the fly).

Baselines (Sec. 3.1):

- Baseline-I: :class:`UCNN` with ``compensate=False``.
- Baseline-II (:class:`BaselineMiniBatchKMeans`): the pretrained network without fine-tuning
  (the same UCNN as UCNN's start, same seed: its FC9 features by default, ``feature_layer=
  "conv7"`` for the global max pooling of conv7's maps -- the pretrained part of a network
  whose conv8 / FC9 are the set's own, untrained --, ``"conv5"`` for the flattened conv5
  maps), then scikit-learn's ``MiniBatchKMeans`` (Sculley 2010) fed by ``partial_fit`` with
  the same schedule as UCNN (the same k initial images as initial centres, seeded shuffles,
  ``batch_size`` 50, ``epochs`` 10), ``reassignment_ratio=0`` (Sculley's algorithm has no
  random reassignment of small clusters). The features are computed per mini-batch, so
  memory does not grow with N. ``implementation="numpy"`` runs
  the same schedule through :func:`minibatch_centroid_update` (bit-identical; needed when
  ``batch_size < k``: scikit-learn's first ``partial_fit`` needs at least k samples).
- Baseline-III (:class:`BaselineFullKMeans`): the same pretrained features of the whole set
  in memory, then full-set k-means (:func:`repro.methods.kmeans.kmeans`, faiss by default).

Everything Keras is ``keras`` / ``keras.ops`` (``predict_on_batch`` / ``train_on_batch``):
it runs on the tensorflow, jax and torch backends.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .base import ClusteringResult, score_labels

TRAIN_LAYERS = {"fc9_softmax": "fc9", "conv8": "conv8", "adaptation": "conv6", "all": None}
FEATURE_LAYERS = ("fc9", "conv7", "conv5")
MINIBATCH_IMPLEMENTATIONS = ("sklearn", "numpy")


def _check_schedule(name: str, batch_size: int, epochs: int, chunk_size: int) -> None:
    if batch_size < 1 or epochs < 1 or chunk_size < 1:
        raise ValueError(f"{name}: batch_size, epochs and chunk_size must be >= 1, got "
                         f"{batch_size}, {epochs}, {chunk_size}")


def _check_choice(name: str, value, choices) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")


@dataclass
class UCNNConfig:
    """UCNN (``compensate=True``) and Baseline-I (``compensate=False``).

    Paper: N_m = 50 images per mini-batch, 10 epochs. Not in the paper (choices, see the
    module docstring): ``learning_rate`` (plain SGD), ``train_layers``, ``initial_count``.
    ``chunk_size``: images per forward pass of the final assignment."""

    batch_size: int = 50
    epochs: int = 10
    learning_rate: float = 0.01
    compensate: bool = True
    train_layers: str = "fc9_softmax"
    initial_count: int = 0
    chunk_size: int = 1024

    def __post_init__(self):
        _check_schedule("ucnn", self.batch_size, self.epochs, self.chunk_size)
        if not self.learning_rate > 0:
            raise ValueError(f"ucnn.learning_rate must be > 0, got {self.learning_rate}")
        _check_choice("ucnn.train_layers", self.train_layers, TRAIN_LAYERS)
        if self.initial_count < 0:
            raise ValueError(f"ucnn.initial_count must be >= 0, got {self.initial_count}")
        if not isinstance(self.compensate, bool):
            raise ValueError(f"ucnn.compensate must be a bool, got {self.compensate!r}")


@dataclass
class MiniBatchKMeansConfig:
    """Baseline-II: pretrained features + mini-batch k-means with UCNN's schedule."""

    batch_size: int = 50
    epochs: int = 10
    feature_layer: str = "fc9"
    implementation: str = "sklearn"
    chunk_size: int = 1024

    def __post_init__(self):
        _check_schedule("baseline-II", self.batch_size, self.epochs, self.chunk_size)
        _check_choice("baseline-II.feature_layer", self.feature_layer, FEATURE_LAYERS)
        _check_choice("baseline-II.implementation", self.implementation,
                      MINIBATCH_IMPLEMENTATIONS)


@dataclass
class FullKMeansConfig:
    """Baseline-III: pretrained features of the whole set + full-set k-means. The paper gives
    no k-means settings; the repository's defaults (20 restarts, 300 iterations)."""

    feature_layer: str = "fc9"
    n_init: int = 20
    max_iter: int = 300
    implementation: str = "faiss"
    chunk_size: int = 1024

    def __post_init__(self):
        _check_choice("baseline-III.feature_layer", self.feature_layer, FEATURE_LAYERS)
        if self.n_init < 1 or self.max_iter < 1 or self.chunk_size < 1:
            raise ValueError(f"baseline-III: n_init, max_iter and chunk_size must be >= 1, got "
                             f"{self.n_init}, {self.max_iter}, {self.chunk_size}")


# ---------------------------------------------------------------- Mini-batch k-means (Eq. 2-3)
def _as_matrix(name: str, a) -> np.ndarray:
    a = np.asarray(a)
    if a.ndim != 2 or not np.issubdtype(a.dtype, np.number):
        raise ValueError(f"{name} must be a numeric 2-D (n, d) matrix, got shape {a.shape}, "
                         f"dtype {a.dtype}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} contain NaN or infinity")
    return a


def nearest_centroid(features, centroids) -> tuple[np.ndarray, np.ndarray]:
    """(assignments (n,) int64, squared Euclidean distances (n,)) of each feature row to its
    nearest centroid (ties: the lowest index)."""
    features = _as_matrix("features", features)
    centroids = _as_matrix("centroids", centroids)
    if features.shape[1] != centroids.shape[1] or len(centroids) < 1:
        raise ValueError(f"features have {features.shape[1]} dims, centroids "
                         f"{centroids.shape} (need (k >= 1, {features.shape[1]}))")
    dtype = np.result_type(features.dtype, centroids.dtype, np.float32)
    f, c = features.astype(dtype, copy=False), centroids.astype(dtype, copy=False)
    d2 = (np.einsum("ij,ij->i", f, f)[:, None] - 2.0 * (f @ c.T)
          + np.einsum("ij,ij->i", c, c)[None, :])
    assignments = np.argmin(d2, axis=1)
    return assignments.astype(np.int64), np.maximum(d2[np.arange(len(f)), assignments], 0.0)


def minibatch_centroid_update(centroids, counts, features, assignments=None
                              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One mini-batch step of Sculley's mini-batch k-means (UCNN Eq. 2-3) ->
    (new centroids, new counts, assignments).

    Sculley 2010, Algorithm 1: every feature of the batch is assigned to its nearest centroid
    under the centroids *before* the batch (or ``assignments`` are given, e.g. UCNN's
    pseudo-labels); then, for each assigned sample h in turn, ``count += 1``,
    ``gamma = 1 / count``, ``c = (1 - gamma) c + gamma h``.

    Closed form (vectorised here): for one centroid with count n_0 and value c_0 that receives
    h_1 .. h_m in turn, n_j = n_0 + j and
    ``n_j c_j = n_j (1 - 1/n_j) c_{j-1} + h_j = (n_j - 1) c_{j-1} + h_j = n_{j-1} c_{j-1} + h_j``,
    so by induction ``n_m c_m = n_0 c_0 + sum_j h_j``:
    ``c_new = (count_old * c_old + sum of the assigned features) / (count_old + m)``
    -- independent of the order of the h_j, and the plain mean of them when count_old = 0.
    Centroids without an assigned sample are unchanged.

    The arithmetic is the one of scikit-learn's ``_minibatch_update_dense`` (``c * count``,
    then the assigned rows added in sample order, then times ``1 / new_count``, all in the
    centroids' floating dtype), so the result equals ``MiniBatchKMeans.partial_fit`` bit for
    bit when the assignments agree.
    """
    centroids = _as_matrix("centroids", centroids)
    features = _as_matrix("features", features)
    k, d = centroids.shape
    if features.shape[1] != d:
        raise ValueError(f"features have {features.shape[1]} dims, centroids {d}")
    counts = np.asarray(counts)
    if counts.shape != (k,) or not np.issubdtype(counts.dtype, np.number) or (counts < 0).any():
        raise ValueError(f"counts must be ({k},) non-negative numbers, got shape {counts.shape}")
    dtype = (centroids.dtype.type if np.issubdtype(centroids.dtype, np.floating)
             else np.float64)
    centroids = centroids.astype(dtype, copy=False)
    if assignments is None:
        assignments, _ = nearest_centroid(features, centroids)
    assignments = np.asarray(assignments)
    if (assignments.shape != (len(features),) or not np.issubdtype(assignments.dtype, np.integer)
            or (len(assignments) and (assignments.min() < 0 or assignments.max() >= k))):
        raise ValueError(f"assignments must be ({len(features)},) integers in [0, {k})")
    assignments = assignments.astype(np.int64, copy=False)
    n_assigned = np.bincount(assignments, minlength=k)
    new_counts = counts + n_assigned
    hit = n_assigned > 0
    weighted = centroids * counts.astype(dtype)[:, None]
    np.add.at(weighted, assignments, features.astype(dtype, copy=False))
    new = centroids.copy()
    new[hit] = weighted[hit] * (dtype(1) / new_counts[hit].astype(dtype))[:, None]
    return new, new_counts, assignments


# ------------------------------------------------------------------- Images: arrays or streams
@dataclass(frozen=True)
class ImageSource:
    """``n`` images fetched by index: ``fetch(indices) -> (len(indices), h, w, c)`` (indices
    an int64 array, in any order), e.g. images generated or read on the fly. ``image_shape``
    (h, w, c) is probed from image 0 when not given."""

    fetch: Callable[[np.ndarray], np.ndarray]
    n: int
    image_shape: tuple | None = None

    def __post_init__(self):
        if not callable(self.fetch):
            raise ValueError("ImageSource.fetch must be callable: fetch(indices) -> images")
        if isinstance(self.n, bool) or int(self.n) != self.n or self.n < 1:
            raise ValueError(f"ImageSource.n must be an integer >= 1, got {self.n!r}")
        if self.image_shape is not None and len(tuple(self.image_shape)) != 3:
            raise ValueError(f"ImageSource.image_shape must be (h, w, c), got {self.image_shape}")


def as_source(data) -> ImageSource:
    """An :class:`ImageSource` of ``data``: an (n, h, w, c) array or an ImageSource."""
    if isinstance(data, ImageSource):
        shape = data.image_shape
        if shape is None:
            shape = _check_batch(data.fetch(np.zeros(1, np.int64)), 1, None).shape[1:]
        return ImageSource(data.fetch, int(data.n), tuple(int(s) for s in shape))
    if isinstance(data, np.ndarray):
        if data.ndim != 4 or len(data) < 1 or not np.issubdtype(data.dtype, np.number):
            raise ValueError(f"images must be a numeric (n, height, width, channels) array, got "
                             f"shape {data.shape}, dtype {data.dtype}")
        if not np.isfinite(data).all():
            raise ValueError("images contain NaN or infinity")
        return ImageSource(lambda idx: data[idx], len(data), tuple(data.shape[1:]))
    raise ValueError(f"images must be an (n, h, w, c) numpy array or an ImageSource, got "
                     f"{type(data).__name__}")


def _check_batch(batch, n: int, image_shape) -> np.ndarray:
    batch = np.asarray(batch)
    if batch.ndim != 4 or len(batch) != n or not np.issubdtype(batch.dtype, np.number):
        raise ValueError(f"an image batch must be a numeric ({n}, h, w, c) array, got shape "
                         f"{batch.shape}, dtype {batch.dtype}")
    if image_shape is not None and tuple(batch.shape[1:]) != tuple(image_shape):
        raise ValueError(f"images of shape {batch.shape[1:]} where {tuple(image_shape)} "
                         f"expected")
    if not np.isfinite(batch).all():
        raise ValueError("images contain NaN or infinity")
    return batch.astype(np.float32, copy=False)


def _fetch(source: ImageSource, idx: np.ndarray) -> np.ndarray:
    return _check_batch(source.fetch(np.asarray(idx, np.int64)), len(idx), source.image_shape)


def iter_image_chunks(source: ImageSource, chunk_size: int):
    """The images of ``source`` in index order, at most ``chunk_size`` at a time."""
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    for start in range(0, source.n, chunk_size):
        yield _fetch(source, np.arange(start, min(start + chunk_size, source.n)))


def assign_streamed(features_of: Callable[[np.ndarray], np.ndarray], centroids, data, *,
                    chunk_size: int = 1024) -> tuple[np.ndarray, float]:
    """Nearest-centroid labels of every image of ``data`` (an array or an
    :class:`ImageSource`) -> (labels (n,) int64, inertia = sum of squared distances).
    ``features_of(images) -> (b, d)``; at most ``chunk_size`` images and their features are
    held at a time (memory independent of n, but for the labels)."""
    labels, inertia = [], 0.0
    for batch in iter_image_chunks(as_source(data), chunk_size):
        assigned, d2 = nearest_centroid(np.asarray(features_of(batch)), centroids)
        labels.append(assigned)
        inertia += float(d2.sum())
    return np.concatenate(labels), inertia


# ----------------------------- The network's two parts: the frozen prefix and the trained head
class UCNNSteps:
    """A UCNN split into a frozen prefix (images -> input of the first trained layer) and the
    trained head (-> fc9 features, -> softmax), sharing the net's weights; the head is compiled
    with plain SGD (``learning_rate``) on the softmax cross-entropy. ``train_layers`` as in
    :class:`UCNNConfig`. With a frozen prefix, its output of a batch is computed once and
    serves the features before the step, the SGD step and (Baseline-I) the features after it.
    """

    def __init__(self, net, train_layers: str = "fc9_softmax", learning_rate: float = 0.01):
        import keras

        from repro.methods.pretrain import make_optimizer
        from repro.models.ucnn_net import chain_layers, chain_model

        _check_choice("train_layers", train_layers, TRAIN_LAYERS)
        model = net.model
        split = TRAIN_LAYERS[train_layers]
        names = [layer.name for layer in chain_layers(model)]
        self.prefix = (None if split is None
                       else chain_model(model, None, names[names.index(split) - 1]))
        self.head_features = chain_model(model, split, "fc9")
        self.head = chain_model(model, split, "softmax")
        self.head.compile(optimizer=make_optimizer("sgd", learning_rate),
                          loss=keras.losses.SparseCategoricalCrossentropy())

    def trunk(self, images: np.ndarray) -> np.ndarray:
        """The frozen prefix's output (the images themselves when everything trains)."""
        return images if self.prefix is None else np.asarray(self.prefix.predict_on_batch(images))

    def features_from_trunk(self, z: np.ndarray) -> np.ndarray:
        return np.asarray(self.head_features.predict_on_batch(z), np.float32)

    def features(self, images: np.ndarray) -> np.ndarray:
        """FC9 features of ``images`` under the current weights."""
        return self.features_from_trunk(self.trunk(images))

    def sgd_step(self, z: np.ndarray, pseudo_labels: np.ndarray) -> float:
        """One SGD step of the softmax cross-entropy (Eq. 1) -> the batch's loss (before it)."""
        logs = self.head.train_on_batch(z, np.asarray(pseudo_labels, np.int64), return_dict=True)
        return float(logs["loss"])


# ------ The clusterers (repro.methods.base.Clusterer): UCNN / Baseline-I, Baselines II and III
class _OnUCNN:
    """What the three clusterers share: ``n_clusters``, the settings, the net's widths
    (``net_cfg``), the ``pretrained`` weights loaded into the net first (the output of
    :func:`repro.models.ucnn_net.pretrain_supervised`, or its ``{layer: weights}`` dict) or a
    ready ``net`` (a :class:`repro.models.ucnn_net.UCNNNet`, used -- and for UCNN trained -- in
    place); ``callback`` (UCNN: per step, see :class:`UCNN`); ``verbose`` / ``log`` for one
    line per epoch. ``fit(x, *, seed, y=None)``: ``x``
    an (N, h, w, c) array or an :class:`ImageSource`; ``y`` (N,) only scores."""

    def __init__(self, n_clusters: int, cfg=None, net_cfg=None, *, pretrained=None, net=None,
                 callback: Callable[[dict], None] | None = None, verbose: int = 0, log=print):
        if isinstance(n_clusters, bool) or int(n_clusters) != n_clusters or n_clusters < 2:
            raise ValueError(f"k (the number of clusters) must be an integer >= 2, got "
                             f"{n_clusters!r}")
        self.n_clusters = int(n_clusters)
        self.cfg = cfg if cfg is not None else self.Config()
        self.net_cfg, self.pretrained, self.net = net_cfg, pretrained, net
        self.callback, self.verbose, self.log = callback, verbose, log

    def _say(self, text: str) -> None:
        if self.verbose and self.log is not None:
            self.log(text)

    def _prepare(self, data, labels, seed: int):
        """(source, labels or None, net) with the checks shared by all methods."""
        from repro.models.ucnn_net import build_ucnn, load_trunk

        k = self.n_clusters
        source = as_source(data)
        if k > source.n:
            raise ValueError(f"k={k} clusters need at least k images, got N={source.n}")
        if labels is not None:
            labels = np.asarray(labels)
            if labels.shape != (source.n,):
                raise ValueError(f"labels must have shape ({source.n},) to match the images, "
                                 f"got {labels.shape}")
        net = self.net
        if net is None:
            net = build_ucnn(source.image_shape, k, self.net_cfg, seed=seed)
        else:
            if tuple(net.model.input_shape[1:]) != tuple(source.image_shape):
                raise ValueError(f"the net takes images of shape {net.model.input_shape[1:]}, "
                                 f"the data has {source.image_shape}")
            if net.model.output_shape[-1] != k:
                raise ValueError(f"the net has {net.model.output_shape[-1]} softmax units, k={k}")
        if self.pretrained is not None:
            load_trunk(net.model, self.pretrained)
        return source, labels, net


def _history_row(step, epoch, loss, inertia, n_seen, y, online, previous):
    acc, nmi = score_labels(y, online)
    return {"iteration": step, "epoch": epoch, "loss": loss, "acc": acc, "nmi": nmi,
            "delta_label": (None if previous is None else float(np.mean(online != previous))),
            "batch_inertia": inertia / max(n_seen, 1),
            "clusters_used": int(np.unique(online).size)}


class UCNN(_OnUCNN):
    """UCNN (``cfg.compensate=True``) or Baseline-I (``False``); see the module docstring for
    the loop and its readings.

    ``callback(diagnostics)`` (constructor) is called after every step with ``step``,
    ``epoch``, ``indices``, ``assignments`` (the pseudo-labels), ``features_assign`` (the
    batch's features under the weights before the SGD step), ``features_update`` (the features
    that entered Eq. 2 / 5), ``centroids_before``, ``centroids_after``, ``counts_after`` and
    ``loss``.

    History: one row per epoch (``iteration`` = SGD steps so far, ``epoch`` 1..E, ``loss`` the
    mean softmax loss of the epoch's steps, ``batch_inertia`` the mean squared distance of the
    features to their centroid at assignment, ``acc`` / ``nmi`` / ``delta_label`` /
    ``clusters_used`` of the epoch's online pseudo-labels). ``info``: ``centroids``,
    ``counts``, ``initial_indices``, ``n_steps``, ``inertia`` / ``final_acc`` / ``final_nmi``
    of the final assignment, the trained ``net``; Baseline-I also the size of Eq. 4-5's
    correction (``feature_drift``, ``centroid_gap``, ``assignment_flips``).
    """

    Config = UCNNConfig

    def fit(self, x, *, seed: int, y=None) -> ClusteringResult:
        cfg, k, callback = self.cfg, self.n_clusters, self.callback
        started = time.perf_counter()
        source, labels, net = self._prepare(x, y, seed)
        steps = UCNNSteps(net, cfg.train_layers, cfg.learning_rate)
        rng = np.random.default_rng(seed)
        n = source.n
        initial = rng.choice(n, k, replace=False)
        centroids = steps.features(_fetch(source, initial)).astype(np.float64)
        counts = np.full(k, cfg.initial_count, dtype=np.int64)
        history, previous, step = [], None, 0
        # Baseline-I only: the size of Eq. 4-5's correction along its own run (module docstring)
        shadow = None if cfg.compensate else centroids.copy()
        drifts, flips, n_assigned = [], 0, 0
        for epoch in range(cfg.epochs):
            order = rng.permutation(n)
            online = np.empty(n, dtype=np.int64)
            losses, inertia, epoch_drifts = [], 0.0, []
            for start in range(0, n, cfg.batch_size):
                idx = order[start:start + cfg.batch_size]
                z = steps.trunk(_fetch(source, idx))
                h_before = steps.features_from_trunk(z).astype(np.float64)        # w^(t-1)
                pseudo, d2 = nearest_centroid(h_before, centroids)
                losses.append(steps.sgd_step(z, pseudo))                         # -> w^(t)
                h_update = (h_before if cfg.compensate                           # Eq. 4-5
                            else steps.features_from_trunk(z).astype(np.float64))  # Eq. 2
                if shadow is not None:
                    drift_sq = float(np.sum((h_update - h_before) ** 2))
                    drift_norm = float(np.sum(h_before ** 2))
                    epoch_drifts.append(np.sqrt(drift_sq / drift_norm) if drift_norm > 0 else 0.0)
                    flips += int(np.sum(nearest_centroid(h_before, shadow)[0] != pseudo))
                    n_assigned += len(idx)
                    shadow, _, _ = minibatch_centroid_update(shadow, counts, h_before,
                                                             assignments=pseudo)
                new_centroids, counts, _ = minibatch_centroid_update(centroids, counts, h_update,
                                                                     assignments=pseudo)
                if callback is not None:
                    callback({"step": step, "epoch": epoch, "indices": idx, "assignments": pseudo,
                              "features_assign": h_before, "features_update": h_update,
                              "centroids_before": centroids, "centroids_after": new_centroids,
                              "counts_after": counts.copy(), "loss": losses[-1]})
                centroids = new_centroids
                online[idx] = pseudo
                inertia += float(d2.sum())
                step += 1
            history.append(_history_row(step, epoch + 1, float(np.mean(losses)), inertia, n,
                                        labels, online, previous))
            if shadow is not None:
                history[-1]["feature_drift"] = float(np.mean(epoch_drifts))
                drifts.extend(epoch_drifts)
            previous = online
            row = history[-1]
            self._say(f"{'UCNN' if cfg.compensate else 'Baseline-I'} epoch {epoch + 1}/"
                      f"{cfg.epochs}: loss {row['loss']:.4f}, {row['clusters_used']} clusters "
                      f"used, NMI (online labels) {row['nmi']}")
        return _assigned_result(
            steps.features, centroids, source, cfg.chunk_size, labels, history, started,
            info={"method": "ucnn" if cfg.compensate else "baseline_1",
                  "compensate": cfg.compensate, "centroids": centroids, "counts": counts,
                  "initial_indices": initial, "n_steps": step,
                  "train_layers": cfg.train_layers, "seed": seed, "net": net,
                  **({} if shadow is None else {
                      "feature_drift": float(np.mean(drifts)),
                      "centroid_gap": float(np.linalg.norm(shadow - centroids)
                                            / max(np.linalg.norm(centroids), 1e-300)),
                      "assignment_flips": flips / max(n_assigned, 1)})})


# ------------------------------------------------------------------------ Baselines II and III
def pretrained_features(net, feature_layer: str = "fc9") -> Callable[[np.ndarray], np.ndarray]:
    """``images -> features`` of the (not fine-tuned) UCNN: FC9, conv7's maps globally
    max-pooled, or conv5's maps flattened."""
    from repro.models.ucnn_net import chain_model

    _check_choice("feature_layer", feature_layer, FEATURE_LAYERS)
    if feature_layer == "fc9":
        model = net.features
    elif feature_layer == "conv5":
        model = chain_model(net.model, None, "conv5", flatten=True)
    else:
        import keras

        maps = chain_model(net.model, None, "conv7")
        model = keras.Model(maps.input, keras.layers.GlobalMaxPooling2D(name="conv7_gmp")(
            maps.output), name="images_to_conv7_gmp")
    return lambda images: np.asarray(model.predict_on_batch(images), np.float32)


class BaselineMiniBatchKMeans(_OnUCNN):
    """Baseline-II (module docstring), with UCNN's random generator protocol too (k initial
    images, then one permutation per epoch): with the same seed, UCNN's initial images and
    batches. History: one row per epoch (``loss`` = ``batch_inertia``, the mean squared
    distance at assignment)."""

    Config = MiniBatchKMeansConfig

    def __init__(self, n_clusters: int, cfg: MiniBatchKMeansConfig | None = None, net_cfg=None,
                 **kwargs):
        super().__init__(n_clusters, cfg, net_cfg, **kwargs)
        if self.cfg.implementation == "sklearn" and self.cfg.batch_size < self.n_clusters:
            raise ValueError(f"baseline-II: scikit-learn's first partial_fit needs >= "
                             f"k={self.n_clusters} samples but batch_size={self.cfg.batch_size}; "
                             f"use implementation='numpy'")

    def fit(self, x, *, seed: int, y=None) -> ClusteringResult:
        cfg, k = self.cfg, self.n_clusters
        started = time.perf_counter()
        source, labels, net = self._prepare(x, y, seed)
        features_of = pretrained_features(net, cfg.feature_layer)
        rng = np.random.default_rng(seed)
        n = source.n
        initial = rng.choice(n, k, replace=False)
        centroids = features_of(_fetch(source, initial)).astype(np.float64)
        counts = np.zeros(k, dtype=np.int64)
        mbk = None
        if cfg.implementation == "sklearn":
            from sklearn.cluster import MiniBatchKMeans

            # (batch_size >= k, checked in __init__, and n >= k, in _prepare)
            mbk = MiniBatchKMeans(n_clusters=k, init=centroids, n_init=1,
                                  batch_size=cfg.batch_size, reassignment_ratio=0.0,
                                  compute_labels=False, random_state=seed)
        history, previous, step = [], None, 0
        for epoch in range(cfg.epochs):
            order = rng.permutation(n)
            online = np.empty(n, dtype=np.int64)
            inertia = 0.0
            for start in range(0, n, cfg.batch_size):
                idx = order[start:start + cfg.batch_size]
                h = features_of(_fetch(source, idx)).astype(np.float64)
                current = centroids if mbk is None or step == 0 else mbk.cluster_centers_
                assigned, d2 = nearest_centroid(h, current)
                if mbk is None:
                    centroids, counts, _ = minibatch_centroid_update(centroids, counts, h,
                                                                     assignments=assigned)
                else:
                    mbk.partial_fit(h)
                online[idx] = assigned
                inertia += float(d2.sum())
                step += 1
            row = _history_row(step, epoch + 1, inertia / n, inertia, n, labels, online, previous)
            history.append(row)
            previous = online
            self._say(f"Baseline-II epoch {epoch + 1}/{cfg.epochs}: inertia/N {row['loss']:.4g}, "
                      f"NMI (online labels) {row['nmi']}")
        if mbk is not None:
            centroids = np.array(mbk.cluster_centers_, dtype=np.float64)
            counts = np.asarray(getattr(mbk, "_counts", counts)).astype(np.int64)   # private
        return _assigned_result(
            features_of, centroids, source, cfg.chunk_size, labels, history, started,
            info={"method": "baseline_2", "implementation": cfg.implementation,
                  "feature_layer": cfg.feature_layer, "centroids": centroids, "counts": counts,
                  "initial_indices": initial, "n_steps": step, "seed": seed, "net": net})


def _assigned_result(features_of, centroids, source, chunk_size: int, labels, history,
                     started: float, info: dict) -> ClusteringResult:
    """The mini-batch methods' end: every image assigned to its nearest final centroid
    (:func:`assign_streamed`), scored (monitoring only), timed from ``started`` (train_s up to
    this call, assign_s for it); ``info`` gains the inertia and the final ACC / NMI."""
    trained = time.perf_counter()
    final, inertia = assign_streamed(features_of, centroids, source, chunk_size=chunk_size)
    acc, nmi = score_labels(labels, final)
    finished = time.perf_counter()
    return ClusteringResult(
        labels=final, history=history,
        timings={"pretrain_s": 0.0, "cluster_s": finished - started,
                 "train_s": trained - started, "assign_s": finished - trained},
        info={**info, "inertia": inertia, "final_acc": acc, "final_nmi": nmi})


class BaselineFullKMeans(_OnUCNN):
    """Baseline-III: the pretrained UCNN's features (no fine-tuning) of the whole set, held in
    memory (N x d, as the paper says), then full-set k-means (best of ``n_init`` runs).
    History: a single row (``loss`` = the inertia)."""

    Config = FullKMeansConfig

    def fit(self, x, *, seed: int, y=None) -> ClusteringResult:
        from repro.methods.kmeans import kmeans

        cfg, k = self.cfg, self.n_clusters
        started = time.perf_counter()
        source, labels, net = self._prepare(x, y, seed)
        features_of = pretrained_features(net, cfg.feature_layer)
        features = np.concatenate([features_of(batch)
                                   for batch in iter_image_chunks(source, cfg.chunk_size)])
        extracted = time.perf_counter()
        fit = kmeans(features, k, seed=seed, n_init=cfg.n_init, max_iter=cfg.max_iter,
                     implementation=cfg.implementation)
        acc, nmi = score_labels(labels, fit.labels)
        finished = time.perf_counter()
        self._say(f"Baseline-III: k-means ({cfg.implementation}) on {len(features)} x "
                  f"{features.shape[1]} features, inertia {fit.inertia:.4g}, NMI {nmi}")
        row = {"iteration": fit.n_iter, "epoch": None, "loss": fit.inertia, "acc": acc,
               "nmi": nmi, "delta_label": None}
        return ClusteringResult(
            labels=fit.labels, history=[row],
            timings={"pretrain_s": 0.0, "cluster_s": finished - started,
                     "features_s": extracted - started, "kmeans_s": finished - extracted},
            info={"method": "baseline_3", "implementation": cfg.implementation,
                  "feature_layer": cfg.feature_layer, "centroids": fit.centres,
                  "inertia": fit.inertia, "final_acc": acc, "final_nmi": nmi,
                  "feature_bytes": int(features.nbytes), "seed": seed, "net": net})
