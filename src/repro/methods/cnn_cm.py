"""CNN-CM: convolutional clustering (Dundar, Jin, Culurciello, "Convolutional Clustering for
Unsupervised Learning", arXiv 1511.06241, ICLR 2016 workshop), the feature extractor of the
UCNN stage's "CNN-CM + k-means" row: a convolutional network whose filters are learned layer by
layer by (convolutional) k-means on image patches, its features of every image, then k-means
on the whole set (:class:`CNNCM`).

What was read of the paper: its abstract, two secondary summaries of its method and an
independent MATLAB port of its Algorithm 1 (not the authors' code); the full text of its
Sec. 3 was not available. How it is read:

* **Convolutional k-means** (the paper's algorithm; it extends the spherical k-means of Coates
  & Ng, "Learning feature representations with k-means", 2012). Windows twice the filter size
  (``window_ratio = 2``) are cropped at random from the training images. Every window is
  correlated with every centroid; the (location, centroid) pair with the largest response wins
  and the patch at that location is assigned to that centroid. The centroids are updated
  D <- X S^T + D with unit-length rows, where S holds the winning responses and "+ D" keeps a
  centroid that won nothing. Choosing the best-matching shift inside each window is what stops
  k-means from learning shifted copies of one filter (the point of the paper).
* **Patches** are contrast-normalised (minus their mean, divided by sqrt(variance + eps)) and
  ZCA-whitened (Coates & Ng). The normalisation and whitening are fitted per layer (and per
  connection group) on one random patch of each learning window.
* **Network**: valid convolution with the learned filters, ReLU, then non-overlapping max
  pooling, layer after layer. The features are the last layer's pooled maps, flattened.
* **Learned connections**: a filter of layer l+1 reads only a group of layer l's maps (a
  non-complete connection). The paper learns which maps connect to which filters with a
  connection matrix trained by back-propagation on labelled data. A survey notes this
  (authorea.com/users/575972/articles/618997): "not fully unsupervised, as a
  backpropagation-trained weight matrix was used for learning the connections".

Differences (our choices; those that can be changed are config fields):

- **Connections without labels.** A clustering stage may use labels only to score, so the
  back-propagated connection matrix is replaced by the unsupervised rule of Coates & Ng,
  "Selecting receptive fields in deep networks" (NIPS 2011). It is one of the rules that the
  same group compared for unsupervised networks (Culurciello, Dundar, Jin, Bates, arXiv
  1306.0152, 2013). The layer-l responses, sampled at random positions, are whitened across
  maps. The similarity of maps j and k is the correlation of their squared whitened responses.
  Each group is a random seed map plus its ``group_size - 1`` most similar maps. Every group
  learns ``filters_per_group`` filters by convolutional k-means on its own patches
  (p x p x group_size). ``connections="random"`` gives random groups instead (the classic
  random connection table).
- **Whitening in the network.** The filters are applied to the same normalised, whitened
  patches they were learned on: response = relu(d . W (q - m)). The whitening is folded into
  the filter (W d, bias -m . W d), so the network computes exactly the dot product of the
  k-means assignment. The readable sources say whitening is used when learning the filters,
  not whether the paper's network whitens.
- **Initial centroids** are whitened patches cropped from random windows (as the MATLAB port
  does), not random normal vectors. A degenerate one (a blank patch) falls back to a random
  direction. A filter that wins no patch keeps its centroid (the "+ D" rule, both weightings);
  ``CNNCMLayer.counts`` and ``info["empty_filters"]`` report them. Convolutional k-means is a
  local method: it converges to a fixed point near its start, with no restarts.
- **Stopping.** At most ``kmeans_iter`` iterations. Stop early once the assignment of every
  window (location and centroid) repeats and the centroids moved by less than ``kmeans_tol``.
  ``weighting="mean"`` uses S = 1 for the winner, without "+ D": each filter becomes the
  normalised mean of its patches (spherical k-means, Dhillon & Modha 2001). A repeated
  assignment is then an exact fixed point. The default ``"response"`` is the paper's weighting.
- **Contrast-normalisation epsilon** is relative: ``norm_epsilon`` times the mean patch
  variance of the layer's fit patches. The network's inputs change scale from layer to layer.
- Architecture for 28 x 28 digits (our choice; the paper's MNIST network is not reproduced):
  5x5 patches, 32 then 64 filters, 2x2 pooling, groups of 4 maps with 8 filters each. The
  shapes are 28 -> 24 -> 12 -> 8 -> 4, so the features are 4*4*64 = 1024-dimensional. A third
  layer (e.g. 3x3 patches) fits: 4 -> 2 -> 1.
- Filters are learned on ``n_learn_images`` images drawn at random (without replacement) and on
  ``n_windows`` windows per layer and group. The features and the final k-means use every
  image: :func:`repro.methods.kmeans.kmeans` with ``implementation="faiss"``, every point
  used, best of ``cluster_n_init`` runs of ``cluster_max_iter`` Lloyd iterations.

The convolutions are im2col products in numpy (:func:`numpy.lib.stride_tricks.
sliding_window_view` and a matrix product), computed on chunks of images. Learning and
encoding extract their patches with the same function and compute the same response.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .base import ClusteringResult, check_inputs, score_labels

WEIGHTINGS = ("response", "mean")
CONNECTIONS = ("similarity", "random")
PATCH_CHUNK_VALUES = 1 << 22   # floats of im2col patches held at once while learning


@dataclass
class CNNCMConfig:
    """Hyperparameters of CNN-CM (see the module docstring for which come from the paper).

    patch_sizes, filters: per layer, the filter side p (p x p patches) and the number of filters
        (2-3 layers for 28 x 28 digits). pool: side and stride of the max pooling after each
        layer (1 = none).
    group_size: maps of layer l read by one group of filters of layer l+1 (layers >= 2);
        filters_per_group: filters learned per group, so layer l+1 has filters[l+1] /
        filters_per_group groups. connections: "similarity" (Coates & Ng 2011) or "random".
    window_ratio: window side / patch side of convolutional k-means (2 in the paper).
    n_learn_images: images drawn to learn the filters (their maps are held in memory: about
        185 MB of layer-1 maps for 10000 28 x 28 digits with the defaults); n_windows: windows
        per layer and group.
    kmeans_iter, kmeans_tol, weighting: convolutional k-means (iterations -- 30 as in the
        Culurciello lab's Torch k-means scripts --, centroid-change tolerance, "response" = the
        paper's D <- X S^T + D, "mean" = mean of assigned patches).
    norm_epsilon (relative to the mean patch variance) and whiten_epsilon (added to the
        eigenvalues; Coates & Ng's 0.1): patch contrast normalisation and ZCA whitening.
    cluster_n_init, cluster_max_iter: the final full-set k-means (faiss).
    chunk_size: images per chunk when computing maps and features (speed / memory only).
    """

    patch_sizes: tuple[int, ...] = (5, 5)
    filters: tuple[int, ...] = (32, 64)
    pool: int = 2
    group_size: int = 4
    filters_per_group: int = 8
    connections: str = "similarity"
    window_ratio: int = 2
    n_learn_images: int = 10000
    n_windows: int = 10000
    kmeans_iter: int = 30
    kmeans_tol: float = 1e-4
    weighting: str = "response"
    norm_epsilon: float = 0.05
    whiten_epsilon: float = 0.1
    cluster_n_init: int = 10
    cluster_max_iter: int = 100
    chunk_size: int = 512

    _COUNT_FIELDS: ClassVar[tuple[str, ...]] = (
        "pool", "group_size", "filters_per_group", "window_ratio", "n_learn_images", "n_windows",
        "kmeans_iter", "cluster_n_init", "cluster_max_iter", "chunk_size")

    def __post_init__(self):
        self.patch_sizes = _positive_ints("patch_sizes", self.patch_sizes)
        self.filters = _positive_ints("filters", self.filters)
        if len(self.patch_sizes) != len(self.filters):
            raise ValueError(f"cnn_cm: patch_sizes {self.patch_sizes} and filters {self.filters} "
                             "must give one value per layer")
        for name in self._COUNT_FIELDS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"cnn_cm.{name} must be an integer >= 1, got {value!r}")
        for layer in range(1, self.n_layers):
            if self.filters[layer] % self.filters_per_group:
                raise ValueError(
                    f"cnn_cm: layer {layer + 1} has {self.filters[layer]} filters, not a multiple "
                    f"of filters_per_group={self.filters_per_group}")
            if self.group_size > self.filters[layer - 1]:
                raise ValueError(
                    f"cnn_cm: group_size={self.group_size} exceeds the {self.filters[layer - 1]} "
                    f"maps of layer {layer}")
        if self.weighting not in WEIGHTINGS:
            raise ValueError(f"cnn_cm.weighting must be one of {WEIGHTINGS}, got "
                             f"{self.weighting!r}")
        if self.connections not in CONNECTIONS:
            raise ValueError(f"cnn_cm.connections must be one of {CONNECTIONS}, got "
                             f"{self.connections!r}")
        if not self.kmeans_tol >= 0:
            raise ValueError(f"cnn_cm.kmeans_tol must be >= 0, got {self.kmeans_tol!r}")
        if not self.norm_epsilon > 0 or not self.whiten_epsilon > 0:
            raise ValueError(f"cnn_cm: norm_epsilon and whiten_epsilon must be > 0, got "
                             f"{self.norm_epsilon!r} and {self.whiten_epsilon!r}")

    @property
    def n_layers(self) -> int:
        return len(self.filters)

    def map_shapes(self, input_shape: tuple[int, ...]) -> list[tuple[int, int, int]]:
        """(height, width, maps) after each layer's pooling, for images of ``input_shape``
        (H, W, C); raises naming the first layer whose maps are too small."""
        height, width = int(input_shape[0]), int(input_shape[1])
        shapes = []
        for layer, (p, n_filters) in enumerate(zip(self.patch_sizes, self.filters)):
            if height < p or width < p:
                raise ValueError(
                    f"cnn_cm: layer {layer + 1} gets {height}x{width} maps, smaller than its "
                    f"{p}x{p} patches; use smaller patches, fewer layers or less pooling")
            height, width = (height - p + 1) // self.pool, (width - p + 1) // self.pool
            if height < 1 or width < 1:
                raise ValueError(f"cnn_cm: {self.pool}x{self.pool} pooling after layer "
                                 f"{layer + 1} leaves no output; reduce pool")
            shapes.append((height, width, n_filters))
        return shapes


def _positive_ints(name: str, values) -> tuple[int, ...]:
    try:
        values = tuple(values)
    except TypeError:
        raise ValueError(f"cnn_cm.{name} must be a sequence of integers >= 1, "
                         f"got {values!r}") from None
    if not values or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1
                         for v in values):
        raise ValueError(f"cnn_cm.{name} must be a non-empty sequence of integers >= 1, "
                         f"got {values!r}")
    return tuple(int(v) for v in values)


@dataclass
class CNNCMLayer:
    """One learned layer: ``n_groups`` connection groups, each reading ``groups[g]`` input maps
    (in that order) with ``filters_per_group`` filters.

    filters: (n_groups, K, D) unit-length k-means centroids in whitened patch space,
        D = p * p * len(groups[g]), patches flattened (row, column, map).
    mean, whitening, norm_eps: per group, the whitening centre (D,), the ZCA matrix (D, D) and
        the absolute contrast-normalisation epsilon of the patches.
    windows: (n_groups, n_windows, 3) the learning windows as (learning image, row, column)
        (top-left corner; side ``window``). counts: (n_groups, K) patches won by each filter in
        the last assignment. n_iter, converged: per group.
    similarity: (maps, maps) similarity of the input maps used to form the groups (layers >= 2
        with connections="similarity"), else None.
    """

    patch_size: int
    window: int
    groups: np.ndarray
    filters: np.ndarray
    mean: np.ndarray
    whitening: np.ndarray
    norm_eps: np.ndarray
    windows: np.ndarray
    counts: np.ndarray
    n_iter: np.ndarray
    converged: np.ndarray
    similarity: np.ndarray | None = None

    @property
    def n_groups(self) -> int:
        return int(self.groups.shape[0])

    @property
    def n_filters(self) -> int:
        return int(self.filters.shape[0] * self.filters.shape[1])

    @property
    def filter_group(self) -> np.ndarray:
        """(n_filters,) the group of each output map (maps are ordered group by group)."""
        return np.repeat(np.arange(self.n_groups), self.filters.shape[1])

    def kernels(self) -> np.ndarray:
        """Effective convolution kernels (n_filters, p, p, group maps): W d per filter, to be
        applied to contrast-normalised patches (plus :meth:`biases`)."""
        p, maps = self.patch_size, self.groups.shape[1]
        effective = np.einsum("gde,gke->gkd", self.whitening.astype(np.float64), self.filters)
        return effective.astype(np.float32).reshape(self.n_filters, p, p, maps)

    def biases(self) -> np.ndarray:
        """(n_filters,) -m . W d: the whitening centre folded into the filters."""
        biases = -np.einsum("gd,gde,gke->gk", self.mean.astype(np.float64),
                            self.whitening.astype(np.float64), self.filters)
        return biases.astype(np.float32).reshape(-1)


@dataclass
class CNNCMModel:
    """The learned network: ``layers`` in order, for images of ``input_shape`` (H, W, C).
    ``learn_indices``: the images of the training set the filters were learned on."""

    config: CNNCMConfig
    input_shape: tuple[int, int, int]
    layers: list[CNNCMLayer]
    learn_indices: np.ndarray
    seed: int
    seconds: float = 0.0

    @property
    def feature_shape(self) -> tuple[int, int, int]:
        return self.config.map_shapes(self.input_shape)[-1]

    @property
    def feature_dim(self) -> int:
        return int(np.prod(self.feature_shape))


# ----------------------------------------------------------------------------- patches
def extract_patches(maps: np.ndarray, patch_size: int) -> np.ndarray:
    """All valid ``patch_size`` x ``patch_size`` patches of ``maps`` (n, H, W, C) ->
    (n, L, p*p*C) float32, L = (H-p+1)(W-p+1) locations in row-major order, each patch
    flattened (row, column, map)."""
    view = np.lib.stride_tricks.sliding_window_view(maps, (patch_size, patch_size), axis=(1, 2))
    n, h, w, c = view.shape[:4]
    patches = np.ascontiguousarray(view.transpose(0, 1, 2, 4, 5, 3), dtype=np.float32)
    return patches.reshape(n, h * w, patch_size * patch_size * c)


def contrast_normalise(patches: np.ndarray, eps: float) -> np.ndarray:
    """Per patch (last axis): minus its mean, divided by sqrt(its variance + eps)."""
    centred = patches - patches.mean(axis=-1, keepdims=True)
    variance = np.mean(centred * centred, axis=-1, keepdims=True)
    return centred / np.sqrt(variance + np.asarray(eps, dtype=patches.dtype))


def whitened_responses(patches: np.ndarray, kernels: np.ndarray, biases: np.ndarray,
                       eps: float) -> np.ndarray:
    """d . W (q - m) for raw patches (..., D) and effective kernels W d (D, K), biases -m . W d
    (K,), q the contrast-normalised patch -> (..., K); computed as (v . Wd - mu sum(Wd)) /
    sqrt(var + eps) + b from each patch's mean mu and variance var, without forming q."""
    dim = patches.shape[-1]
    mu = patches.sum(axis=-1) / dim
    variance = np.maximum(np.einsum("...d,...d->...", patches, patches) / dim - mu * mu, 0.0)
    inverse = (1.0 / np.sqrt(variance + eps)).astype(np.float32)
    responses = (patches.reshape(-1, dim) @ kernels).reshape(patches.shape[:-1] + (-1,))
    responses -= mu.astype(np.float32)[..., None] * kernels.sum(axis=0)
    responses *= inverse[..., None]
    responses += biases
    return responses


def fit_whitening(patches: np.ndarray, norm_epsilon: float, whiten_epsilon: float
                  ) -> tuple[np.ndarray, np.ndarray, float]:
    """Patch preprocessing fitted on ``patches`` (N, D): the absolute contrast-normalisation
    epsilon (``norm_epsilon`` x the mean patch variance), then the mean m (D,) and the ZCA
    matrix W = V diag(1 / sqrt(lambda + whiten_epsilon)) V^T (D, D) of the normalised patches.
    Whitened patch: W (q - m)."""
    patches = np.asarray(patches, dtype=np.float64)
    variance = patches.var(axis=1).mean()
    eps = max(float(norm_epsilon * variance), 1e-8)
    q = contrast_normalise(patches, eps)
    mean = q.mean(axis=0)
    centred = q - mean
    whitening = _zca(centred.T @ centred / len(q), whiten_epsilon)
    return mean.astype(np.float32), whitening.astype(np.float32), eps


def _zca(covariance: np.ndarray, epsilon: float) -> np.ndarray:
    """The ZCA matrix V diag(1 / sqrt(lambda + epsilon)) V^T of a covariance matrix."""
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)
    scale = 1.0 / np.sqrt(np.maximum(eigenvalues, 0.0) + epsilon)
    return (eigenvectors * scale) @ eigenvectors.T


def crop_windows(maps: np.ndarray, corners: np.ndarray, side: int) -> np.ndarray:
    """``side`` x ``side`` windows of ``maps`` (n, H, W, C) at ``corners`` (N, 3) =
    (image, top row, left column) -> (N, side, side, C), by one fancy-indexing gather."""
    offsets = np.arange(side)
    image, row, col = corners[:, 0], corners[:, 1], corners[:, 2]
    return maps[image[:, None, None], row[:, None, None] + offsets[None, :, None],
                col[:, None, None] + offsets[None, None, :]]


# ----------------------------------------------------------------------------- k-means
@dataclass
class ConvKMeansFit:
    """filters (K, D) unit rows; win_filter / win_location (N,) the last assignment of every
    window; counts (K,) patches per filter; n_iter; converged."""

    filters: np.ndarray
    win_filter: np.ndarray
    win_location: np.ndarray
    counts: np.ndarray
    n_iter: int
    converged: bool


def convolutional_kmeans(windows: np.ndarray, n_filters: int, patch_size: int, *,
                         mean: np.ndarray, whitening: np.ndarray, norm_eps: float,
                         rng: np.random.Generator, max_iter: int = 30, tol: float = 1e-4,
                         weighting: str = "response", init: np.ndarray | None = None
                         ) -> ConvKMeansFit:
    """Convolutional k-means (the paper's algorithm; module docstring) on ``windows``
    (N, w, w, C): every iteration assigns each window to its best (location, filter) by the
    response d . W (q - m) of its normalised patches q, then moves the filters to the
    (response-weighted, or plain) sum of the whitened patches they won, normalised.
    ``init``: initial centroids (n_filters, D) in whitened patch space; by default the whitened
    patch at a random location of each of n_filters random windows."""
    if weighting not in WEIGHTINGS:
        raise ValueError(f"weighting must be one of {WEIGHTINGS}, got {weighting!r}")
    n_windows = len(windows)
    if n_windows < n_filters:
        raise ValueError(f"convolutional k-means: {n_windows} windows cannot train {n_filters} "
                         "filters; raise n_windows")
    n_locations = (windows.shape[1] - patch_size + 1) * (windows.shape[2] - patch_size + 1)
    dim = patch_size * patch_size * windows.shape[3]
    chunk = max(1, PATCH_CHUNK_VALUES // (n_locations * dim))
    whitening64 = whitening.astype(np.float64)

    def whitened(raw: np.ndarray) -> np.ndarray:   # raw patches (c, D) -> W (q - m)
        return (contrast_normalise(raw, norm_eps) - mean) @ whitening

    if init is None:   # a whitened patch of each of n_filters random windows
        first = rng.choice(n_windows, n_filters, replace=False)
        where = rng.integers(0, n_locations, n_filters)
        start = extract_patches(windows[first], patch_size)[np.arange(n_filters), where]
        filters = _unit_rows(whitened(start), rng)
    else:
        init = np.asarray(init, dtype=np.float64)
        if init.shape != (n_filters, dim):
            raise ValueError(f"init must have shape ({n_filters}, {dim}), got {init.shape}")
        filters = _unit_rows(init, rng)

    win_filter = np.full(n_windows, -1, dtype=np.int64)
    win_location = np.full(n_windows, -1, dtype=np.int64)
    counts = np.zeros(n_filters, dtype=np.int64)
    converged, n_iter = False, 0
    for n_iter in range(1, max_iter + 1):
        kernels = (whitening64 @ filters.T).astype(np.float32)         # (D, K): W d
        biases = (-(mean.astype(np.float64) @ whitening64 @ filters.T)).astype(np.float32)
        sums = np.zeros((n_filters, dim), dtype=np.float64)
        new_filter = np.empty(n_windows, dtype=np.int64)
        new_location = np.empty(n_windows, dtype=np.int64)
        for begin in range(0, n_windows, chunk):                      # a loop over chunks
            raw = extract_patches(windows[begin:begin + chunk], patch_size)      # (c, L, D)
            responses = whitened_responses(raw, kernels, biases, norm_eps).reshape(len(raw), -1)
            best = responses.argmax(axis=1)
            location, winner = np.divmod(best, n_filters)
            rows = np.arange(len(raw))
            patches = whitened(raw[rows, location]).astype(np.float64)  # (c, D)
            if weighting == "response":
                patches *= responses[rows, best][:, None]
            np.add.at(sums, winner, patches)
            new_filter[begin:begin + chunk], new_location[begin:begin + chunk] = winner, location
        counts = np.bincount(new_filter, minlength=n_filters)
        repeated = (np.array_equal(new_filter, win_filter)
                    and np.array_equal(new_location, win_location))
        win_filter, win_location = new_filter, new_location
        if weighting == "mean" and repeated:   # the filters are the means of these patches
            converged = True
            break
        updated = sums + filters if weighting == "response" else sums
        won = counts > 0
        moved = filters.copy()
        moved[won] = _unit_rows(updated[won], rng)
        shift = float(np.abs(moved - filters).max())
        filters = moved
        if weighting == "response" and repeated and shift <= tol:
            converged = True
            break
    return ConvKMeansFit(filters.astype(np.float32), win_filter, win_location, counts, n_iter,
                         converged)


def _unit_rows(rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Rows scaled to unit length; a (near-)zero row becomes a random unit direction."""
    rows = np.array(rows, dtype=np.float64)
    norms = np.linalg.norm(rows, axis=1)
    degenerate = norms < 1e-8
    if degenerate.any():
        rows[degenerate] = rng.standard_normal((int(degenerate.sum()), rows.shape[1]))
        norms[degenerate] = np.linalg.norm(rows[degenerate], axis=1)
    return rows / norms[:, None]


# ----------------------------------------------------------------------------- connections
def map_similarity(maps: np.ndarray, rng: np.random.Generator, *, n_samples: int,
                   whiten_epsilon: float) -> np.ndarray:
    """Coates & Ng (2011) similarity of the maps of ``maps`` (n, H, W, F): the responses at up
    to ``n_samples`` random (image, position) pairs, standardised and ZCA-whitened across maps,
    squared; the similarity is the correlation of the squared responses (F, F). A constant map
    (e.g. a dead ReLU map) has similarity 0 to every other map."""
    n_maps = maps.shape[-1]
    responses = maps.reshape(-1, n_maps)
    if len(responses) > n_samples:
        responses = responses[rng.choice(len(responses), n_samples, replace=False)]
    z = responses.astype(np.float64)
    z -= z.mean(axis=0)
    std = z.std(axis=0)
    alive = std > 1e-12
    z[:, alive] /= std[alive]
    energy = (z @ _zca(z.T @ z / len(z), whiten_epsilon)) ** 2
    energy -= energy.mean(axis=0)
    norm = np.linalg.norm(energy, axis=0)
    live = norm > 1e-12
    energy[:, live] /= norm[live]
    similarity = energy.T @ energy
    similarity[~live, :] = 0.0
    similarity[:, ~live] = 0.0
    np.fill_diagonal(similarity, 1.0)
    return similarity


def choose_groups(similarity: np.ndarray | None, n_maps: int, n_groups: int, group_size: int,
                  rng: np.random.Generator, rule: str = "similarity") -> np.ndarray:
    """(n_groups, group_size) map indices. "similarity" (Coates & Ng 2011): seed maps in a
    random order (live maps first, repeated if there are more groups than maps), each group the
    seed then its ``group_size - 1`` most similar other maps. "random": random distinct maps."""
    if rule == "random":
        return np.stack([rng.choice(n_maps, group_size, replace=False) for _ in range(n_groups)])
    if similarity is None or similarity.shape != (n_maps, n_maps):
        raise ValueError(f"choose_groups: a ({n_maps}, {n_maps}) similarity is needed")
    live = np.abs(similarity - np.eye(n_maps)).max(axis=1) > 0
    seeds = []
    while len(seeds) < n_groups:   # a loop over rounds of seeds, not samples
        order = rng.permutation(n_maps)
        seeds.extend(np.concatenate([order[live[order]], order[~live[order]]]).tolist())
    groups = []
    for seed in seeds[:n_groups]:   # a loop over groups
        ranked = np.argsort(-similarity[seed], kind="stable")
        ranked = ranked[ranked != seed][:group_size - 1]
        groups.append(np.concatenate([[seed], ranked]))
    return np.asarray(groups, dtype=np.int64)


# ----------------------------------------------------------------------------- network
def layer_responses(maps: np.ndarray, layer: CNNCMLayer) -> np.ndarray:
    """The layer's rectified responses before pooling: (n, H-p+1, W-p+1, n_filters), maps
    ordered group by group (:attr:`CNNCMLayer.filter_group`); group g reads only the input maps
    ``layer.groups[g]``."""
    n, height, width, _ = maps.shape
    p = layer.patch_size
    kernels = layer.kernels().reshape(layer.n_groups, layer.filters.shape[1], -1)
    biases = layer.biases().reshape(layer.n_groups, -1)
    out = []
    for g in range(layer.n_groups):   # a loop over connection groups
        raw = extract_patches(maps[..., layer.groups[g]], p)
        out.append(whitened_responses(raw, np.ascontiguousarray(kernels[g].T), biases[g],
                                      float(layer.norm_eps[g])))
    responses = np.maximum(np.concatenate(out, axis=-1), 0.0)
    return responses.reshape(n, height - p + 1, width - p + 1, layer.n_filters)


def max_pool(maps: np.ndarray, size: int) -> np.ndarray:
    """Non-overlapping ``size`` x ``size`` max pooling of (n, H, W, C); a remainder is dropped."""
    if size == 1:
        return maps
    n, height, width, channels = maps.shape
    h, w = height // size, width // size
    blocks = maps[:, :h * size, :w * size].reshape(n, h, size, w, size, channels)
    return blocks.max(axis=(2, 4))


def _forward(maps: np.ndarray, layers: list[CNNCMLayer], pool: int, chunk_size: int) -> np.ndarray:
    """Pooled output of ``layers`` applied in order to ``maps``, in chunks of images."""
    out = None
    for begin in range(0, len(maps), chunk_size):   # a loop over chunks
        part = maps[begin:begin + chunk_size]
        for layer in layers:
            part = max_pool(layer_responses(part, layer), pool)
        if out is None:
            out = np.empty((len(maps),) + part.shape[1:], dtype=np.float32)
        out[begin:begin + len(part)] = part
    return out


def cnn_cm_features(x: np.ndarray, model: CNNCMModel, chunk_size: int | None = None) -> np.ndarray:
    """CNN-CM features of images ``x`` (n, H, W, C) or (n, H, W): the last layer's pooled maps,
    flattened (row, column, map) -> (n, model.feature_dim) float32, computed in chunks."""
    x = _as_images(x)
    if x.shape[1:] != tuple(model.input_shape):
        raise ValueError(f"cnn_cm_features: the model was learned on {tuple(model.input_shape)} "
                         f"images, got {x.shape[1:]}")
    chunk = int(chunk_size or model.config.chunk_size)
    if chunk < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size!r}")
    maps = _forward(x, model.layers, model.config.pool, chunk)
    return maps.reshape(len(x), -1)


def _as_images(x) -> np.ndarray:
    """(n, H, W, C) float32, finite; (n, H, W) gets a channel axis."""
    x = np.asarray(x)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[0] < 1:
        raise ValueError(f"cnn_cm: images must be (n, H, W) or (n, H, W, C), got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.number):
        raise ValueError(f"cnn_cm: images must be numeric, got dtype {x.dtype}")
    x = x.astype(np.float32, copy=False)
    if not np.isfinite(x).all():
        raise ValueError("cnn_cm: images contain NaN or infinite values")
    return x


# ----------------------------------------------------------------------------- learning
def learn_filters(x: np.ndarray, cfg: CNNCMConfig | None, seed: int) -> CNNCMModel:
    """Learn every layer's filters and connection groups on images ``x`` (n, H, W[, C]).

    Layer 1: one group reading every input channel, ``filters[0]`` filters. Layer l >= 2: its
    input maps (layer l-1's pooled outputs of the learning images) are grouped
    (:func:`map_similarity` and :func:`choose_groups`). Each group learns ``filters_per_group``
    filters by :func:`convolutional_kmeans` on ``n_windows`` random windows of its maps, after
    :func:`fit_whitening` on one random patch per window. Deterministic given ``seed``.
    """
    cfg = cfg or CNNCMConfig()
    started = time.perf_counter()
    x = _as_images(x)
    cfg.map_shapes(x.shape[1:])   # raises for a geometry that does not fit the images
    rng = np.random.default_rng(seed)
    n_learn = min(len(x), cfg.n_learn_images)
    learn_indices = np.sort(rng.choice(len(x), n_learn, replace=False))
    maps = x[learn_indices]
    layers: list[CNNCMLayer] = []
    for index in range(cfg.n_layers):   # a loop over layers
        layer = _learn_layer(maps, index, cfg, rng)
        layers.append(layer)
        if index + 1 < cfg.n_layers:
            maps = _forward(maps, [layer], cfg.pool, cfg.chunk_size)
    return CNNCMModel(cfg, tuple(int(s) for s in x.shape[1:]), layers, learn_indices, int(seed),
                      time.perf_counter() - started)


def _learn_layer(maps: np.ndarray, index: int, cfg: CNNCMConfig,
                 rng: np.random.Generator) -> CNNCMLayer:
    n_images, height, width, n_maps = maps.shape
    p = cfg.patch_sizes[index]
    side = min(cfg.window_ratio * p, height, width)
    similarity = None
    if index == 0:
        groups = np.arange(n_maps, dtype=np.int64)[None, :]
        per_group = cfg.filters[0]
    else:
        n_groups = cfg.filters[index] // cfg.filters_per_group
        if cfg.connections == "similarity":
            similarity = map_similarity(maps, rng, n_samples=cfg.n_windows,
                                        whiten_epsilon=cfg.whiten_epsilon)
        groups = choose_groups(similarity, n_maps, n_groups, cfg.group_size, rng,
                               cfg.connections)
        per_group = cfg.filters_per_group
    learned = []   # per group: (k-means fit, mean, whitening, epsilon, window corners)
    n_locations_side = side - p + 1
    for group in groups:   # a loop over connection groups
        corners = np.stack([rng.integers(0, n_images, cfg.n_windows),
                            rng.integers(0, height - side + 1, cfg.n_windows),
                            rng.integers(0, width - side + 1, cfg.n_windows)], axis=1)
        windows = crop_windows(maps[..., group], corners, side)
        offset = rng.integers(0, n_locations_side, (cfg.n_windows, 2))
        fit_patches = crop_windows(windows, np.column_stack(
            [np.arange(cfg.n_windows), offset]), p).reshape(cfg.n_windows, -1)
        mean, whitening, eps = fit_whitening(fit_patches, cfg.norm_epsilon, cfg.whiten_epsilon)
        fit = convolutional_kmeans(windows, per_group, p, mean=mean, whitening=whitening,
                                   norm_eps=eps, rng=rng, max_iter=cfg.kmeans_iter,
                                   tol=cfg.kmeans_tol, weighting=cfg.weighting)
        learned.append((fit, mean, whitening, eps, corners))
    fits, means, whitenings, epsilons, corners_all = zip(*learned)
    return CNNCMLayer(
        patch_size=p, window=side, groups=groups,
        filters=np.stack([f.filters for f in fits]), mean=np.stack(means),
        whitening=np.stack(whitenings), norm_eps=np.asarray(epsilons, dtype=np.float32),
        windows=np.stack(corners_all), counts=np.stack([f.counts for f in fits]),
        n_iter=np.asarray([f.n_iter for f in fits]),
        converged=np.asarray([f.converged for f in fits]), similarity=similarity)


# ----------------------------------------------------------------------------- clustering
class CNNCM:
    """CNN-CM + k-means (a :class:`repro.methods.base.Clusterer`): ``fit(x, *, seed, y=None)``
    learns the filters (:func:`learn_filters`), computes the features of all of ``x``
    (:func:`cnn_cm_features`), then runs faiss k-means on the whole set
    (:func:`repro.methods.kmeans.kmeans`). ``y`` only scores the result (ACC / NMI).

    history: one row (the k-means has no epochs), loss = inertia. timings: pretrain_s = filter
    learning + features, cluster_s = k-means. info holds the model, the feature dimension, the
    groups and the per-layer k-means statistics.
    """

    def __init__(self, n_clusters: int, cfg: CNNCMConfig | None = None, *, verbose: int = 0,
                 log=print):
        self.n_clusters, self.cfg = n_clusters, cfg or CNNCMConfig()
        self.verbose, self.log = verbose, log

    def fit(self, x: np.ndarray, *, seed: int, y: np.ndarray | None = None) -> ClusteringResult:
        from .kmeans import kmeans

        cfg, n_clusters = self.cfg, self.n_clusters
        x = check_inputs(x, n_clusters, y)
        started = time.perf_counter()
        model = learn_filters(x, cfg, seed)
        features = cnn_cm_features(x, model)
        pretrain_s = time.perf_counter() - started
        started = time.perf_counter()
        fit = kmeans(features, n_clusters, seed=seed, n_init=cfg.cluster_n_init,
                     max_iter=cfg.cluster_max_iter, implementation="faiss")
        cluster_s = time.perf_counter() - started
        acc, nmi = score_labels(y, fit.labels)
        if self.verbose and self.log is not None:
            self.log(f"CNN-CM + k-means: {features.shape[1]}-d features of {len(x)} images, "
                     f"inertia {fit.inertia:.4g}, acc {acc}, nmi {nmi}, "
                     f"{pretrain_s:.1f}s + {cluster_s:.1f}s")
        row = {"iteration": fit.n_iter, "epoch": None, "acc": acc, "nmi": nmi,
               "loss": fit.inertia, "delta_label": None}
        info = {"model": model, "feature_dim": int(features.shape[1]), "inertia": fit.inertia,
                "groups": [layer.groups.tolist() for layer in model.layers],
                "empty_filters": [int((layer.counts == 0).sum()) for layer in model.layers],
                "kmeans_iterations": [layer.n_iter.tolist() for layer in model.layers],
                "kmeans_converged": [layer.converged.tolist() for layer in model.layers],
                "implementation": "faiss", "n_init": cfg.cluster_n_init, "seed": seed}
        return ClusteringResult(labels=fit.labels, history=[row],
                                timings={"pretrain_s": pretrain_s, "cluster_s": cluster_s},
                                info=info)
