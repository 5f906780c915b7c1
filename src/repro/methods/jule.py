"""JULE (Yang, Parikh, Batra, CVPR 2016, "Joint Unsupervised Learning of Deep Representations
and Image Clusters"; the UCNN paper's "CNN-RC"): agglomerative clustering of a CNN's features
(the forward pass) alternating with training the CNN on the current clusters by a weighted
triplet loss (the backward pass).

Paper reading (Sec. 3-4) and the authors' Torch code (jwyang/JULE.torch: ``train.lua``,
``affinity/affinity.lua``, ``agg_clustering/agg_clustering.lua``,
``agg_clustering_c/agg_clustering.c``, ``criterions/TripletEmbedding.lua``, ``models_def/``):

* Sample graph (:func:`knn_affinity`): directed K_s-nearest-neighbour graph of the (L2-normalised)
  features, ``W[i, j] = exp(-|x_i - x_j|^2 / sigma^2)`` for ``x_j`` among the K_s nearest
  neighbours of ``x_i`` (0 otherwise), ``sigma^2 = a / (n K_s) * sum_i sum_{j in N_i}
  |x_i - x_j|^2`` -- ``a`` times the mean squared neighbour distance.
* Cluster affinity (:func:`cluster_affinity`), the graph degree linkage of Zhang et al. (ECCV
  2012): ``A(C_i, C_j) = 1/|C_i|^2 1' W_{Ci,Cj} W_{Cj,Ci} 1 + 1/|C_j|^2 1' W_{Cj,Ci} W_{Ci,Cj} 1``.
  The first term (:func:`directed_cluster_affinity`, ``D[i, j]``) sums the two-step paths
  ``C_i -> m -> C_i`` through the samples ``m`` of ``C_j``, normalised by ``|C_i|^2``;
  ``A = D + D'``.
* Merge criterion (:func:`merge_candidates`, :func:`select_merge`): for each cluster C_i, its
  K_c nearest clusters by affinity, ``N_1 .. N_Kc`` (descending); its score is
  ``A(C_i, N_1) + lambda / (K_c - 1) * sum_{k=2..K_c} (A(C_i, N_1) - A(C_i, N_k))`` (the
  paper's forward loss with the sign flipped); the cluster with the largest score merges
  with its nearest cluster N_1. Missing neighbours count as affinity 0. As in the code, the
  local-structure term is used only while more than ``local_structure_above`` (100) clusters
  remain; below that the criterion is the largest affinity (set 0 for the paper's formula
  throughout).
* Recurrent process with partial unrolling: period 0 builds the initial clusters from raw
  pixels (:func:`initial_clusters`: every sample linked to its nearest neighbour, the
  connected components are the clusters -- the code's ``agg_clustering.init``); then each
  period trains the network ``epochs_per_period`` epochs on the current clusters and merges
  ``ceil(eta * n_clusters)`` times on the new features (at most down to the target), so the
  number of clusters drops to about ``(1 - eta)`` of itself per period (eta = 0.9: ten times
  fewer per period). The code's ``-eta`` is this fraction, which is why its README calls
  0.9 the fast setting and 0.2 the one for faces. When the target is reached the code
  re-clusters from scratch on the final features (``merge_label_final``: new initial clusters,
  then the same merging without training); ``final_recluster`` does the same.
* Backward pass (:func:`triplet_loss`): within each mini-batch (100 images, shuffled), every
  pair of images of the same cluster is a positive pair and images of other clusters are its
  negatives; loss ``max(0, gamma |f_a - f_p|^2 - |f_a - f_n|^2 + margin)`` on the L2-normalised
  160-d features (the code's ``TripletEmbeddingCriterion``; gamma weighs the positive pairs as
  the paper's gamma). SGD lr 0.01, momentum 0.9, weight decay 5e-5, the inverse policy
  ``lr (1 + 1e-4 t)^-0.75`` over all updates ``t``, one optimiser for the whole run.
* Network (:func:`build_jule_network`, ``models_def/MNIST-test.lua`` and ``USPS.lua``):
  conv 5x5 (50) -> BN -> ReLU -> 2x2 max pool [-> conv 5x5 (50) -> BN -> ReLU for 28x28 inputs],
  then a linear layer to 160 and L2 normalisation; weights N(0, 0.01), biases 0 (``NetInit``).

Hyperparameters: :class:`JULEConfig`, each field with where it comes from.

Differences from the authors' code (deliberate; each one documented where it happens):

1. The sample graph is a sparse CSR matrix with K_s entries per row; the code holds W (and a
   0/1 mask) as dense n x n matrices. Same values.
2. ``affinity_update="exact"`` (default) keeps the cluster affinity exact after every merge, as
   Zhang et al.'s GDL code and the JULE code with ``-use_fast 0`` do: the column of the merged
   cluster is the sum of the two columns (exact); its row is the size-weighted sum of the two
   rows plus the two-step paths between the two clusters, gathered from the sparse graph
   around the smaller one in O(|C_small| K_s^2). ``"fast"`` is the code's default
   approximation (``-use_fast 1``, the paper's appendix): the same without those cross paths.
3. The code scans the columns of an upper-triangular affinity matrix, so cluster i looks only
   at clusters of smaller index for its K_c neighbours; here every cluster looks at all others
   (the paper's definition).
4. The nearest-neighbour linking takes the connected components of the 1-NN graph; the code
   follows chains of nearest neighbours and cuts a chain after 50 steps. Should it give fewer
   clusters than the target (tiny data), every sample starts as its own cluster (ours).
5. The code's isolated-cluster rule (while more than 20 x target clusters, a cluster with zero
   affinity to every other joins the cluster of nearest centroid) merges all isolated clusters
   in one vectorised step at the start of each period (the code: one after the other). If no
   pair with positive affinity remains before the target is reached, the two clusters of
   nearest centroids merge (ours; the code would fail).
6. The code draws 20 random negatives from the batch for each positive pair (anchor = first of
   the pair); the loss here averages over all negatives in the batch and both orders of each
   pair -- the expectation of the code's loss given the batch, without sampling noise, and
   deterministic.
7. Features are extracted in inference mode (BatchNorm moving statistics); the code extracts
   them with the network left in training mode. BatchNorm uses Torch's momentum and epsilon;
   Keras' weight decay is decoupled (the code adds it to the gradient), as in the DeepCluster
   stage.
8. A merge keeps the id of the larger cluster (the code: the smaller index); ids are
   relabelled 0..K-1 at the end anyway.

Memory (n samples, d feature dims, K_s neighbours, C_p clusters at the start of period p):

* O(n K_s): the sparse graph W and its transpose (about 2 x 12 bytes per edge), the neighbour
  lists, the per-merge gathers; O(n): labels and member lists; O(n d): the features.
* O(C_p^2): the dense float32 matrix of directed cluster affinities, rebuilt at the start of
  each period (so it shrinks with the clusters), plus an O(C_p K_c) cache of each cluster's
  K_c largest affinities. The peak is the first forward pass (and the final re-clustering),
  with C_0 clusters from the nearest-neighbour linking, measured on raw pixels at about n/6:
  1762 on MNIST-test (12 MB) and 11519 on MNIST-full (4 C_0^2 = 0.53 GB). So this part still
  grows with n^2, as the UCNN paper notes for CNN-RC, but with a constant about 36 times
  smaller than the code's dense n x n float32 W (MNIST-full: 19.6 GB, plus its n x n mask).
* Backward pass: a (B, B, B) float32 tensor per mini-batch (B = 100: 4 MB).
* Time per merge: O(C_p K_c) vectorised work for the criterion and the cache, O(C_p) for the
  affinity row and column, O(|C_small| K_s^2) for the exact cross paths; a cluster's K_c-cache
  is recomputed (O(C_p)) only when the merge removed one of its K_c nearest or lowered one
  below the others. MNIST-test raw pixels, 1762 -> 10 clusters: about 5 s on a loaded 2-core
  CPU (NMI 0.87 against the digit labels).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from .base import ClusteringResult, check_inputs, score_labels

AFFINITY_UPDATES = ("exact", "fast")
INITIAL_CLUSTERINGS = ("nn_link", "singletons")


@dataclass
class JULEConfig:
    """JULE's hyperparameters (see the module docstring for where each comes from).

    The target number of clusters is the ``n_clusters`` argument of :class:`JULE` and
    :func:`agglomerate`, as for every method of this package.
    """

    K_s: int = 20                  # neighbours of the sample graph (paper, code)
    K_c: int = 5                   # nearest clusters of the local-structure term (paper, code)
    lam: float = 1.0               # lambda, weight of the local-structure term (paper, code)
    a: float = 1.0                 # sigma^2 = a x mean squared neighbour distance (paper, code)
    # unrolling rate, the fraction of clusters merged per period: paper and the code's README
    # for non-face data (the code's command line default 0.2 is its README's value for faces)
    eta: float = 0.9
    # weight of the positive pairs in the triplet loss: paper and the criterion's default (the
    # code's command line default is 1, its help says 1-2)
    gamma: float = 2.0
    margin: float = 0.2            # triplet margin (code -margin_tr)
    learning_rate: float = 0.01    # SGD base learning rate (code)
    momentum: float = 0.9          # (code)
    weight_decay: float = 5e-5     # (code)
    lr_gamma: float = 1e-4         # inverse policy lr (1 + lr_gamma t)^-lr_power (code)
    lr_power: float = 0.75
    epochs_per_period: int = 20    # CNN epochs per partially unrolled period (code -epoch_pp)
    max_epochs: int = 1000         # CNN epochs in the whole recurrent process (code -epoch_max)
    batch_size: int = 100          # (code)
    initial_clustering: str = "nn_link"     # "nn_link" (code) or "singletons"
    affinity_update: str = "exact"          # "exact" (ours, GDL) or "fast" (code's default)
    local_structure_above: int = 100        # K_c term only while more clusters remain (code)
    isolated_merge_factor: float = 20.0     # isolated-cluster rule: C > factor x target (code)
    final_recluster: bool = True            # re-cluster from scratch on the final features (code)
    normalize_features: bool = True         # L2-normalise features before the graph (code)
    feature_batch_size: int = 512           # inference batch for feature extraction (ours)

    def __post_init__(self):
        for name in ("K_s", "K_c", "epochs_per_period", "max_epochs", "feature_batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or int(value) != value or value < 1:
                raise ValueError(f"jule.{name} must be an integer >= 1, got {value!r}")
        if self.batch_size < 2:
            raise ValueError(f"jule.batch_size must be >= 2 (pairs need two images), got "
                             f"{self.batch_size}")
        if not 0.0 < self.eta <= 1.0:
            raise ValueError(f"jule.eta (unrolling rate) must be in (0, 1], got {self.eta}")
        if self.a <= 0 or self.gamma <= 0 or self.learning_rate <= 0:
            raise ValueError(f"jule: a, gamma and learning_rate must be > 0, got {self.a}, "
                             f"{self.gamma}, {self.learning_rate}")
        if self.lam < 0 or self.margin < 0 or self.weight_decay < 0 or self.momentum < 0:
            raise ValueError("jule: lam, margin, weight_decay and momentum must be >= 0")
        if self.lr_gamma < 0 or self.lr_power < 0:
            raise ValueError("jule: lr_gamma and lr_power must be >= 0")
        if self.local_structure_above < 0 or self.isolated_merge_factor < 0:
            raise ValueError("jule: local_structure_above and isolated_merge_factor must be >= 0")
        if self.initial_clustering not in INITIAL_CLUSTERINGS:
            raise ValueError(f"jule.initial_clustering must be one of {INITIAL_CLUSTERINGS}, "
                             f"got {self.initial_clustering!r}")
        if self.affinity_update not in AFFINITY_UPDATES:
            raise ValueError(f"jule.affinity_update must be one of {AFFINITY_UPDATES}, got "
                             f"{self.affinity_update!r}")


# -------------------------------------------------------------------------------- sample graph
def _as_features(features, name: str = "features") -> np.ndarray:
    features = np.asarray(features)
    if features.ndim != 2:
        raise ValueError(f"{name} must be a 2-D (n, d) matrix, got shape {features.shape}")
    if not np.issubdtype(features.dtype, np.number):
        raise ValueError(f"{name} must be numeric, got dtype {features.dtype}")
    features = np.ascontiguousarray(features, dtype=np.float32)
    if not np.isfinite(features).all():
        raise ValueError(f"{name} contain NaN or infinity")
    return features


def l2_normalize(features: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (zero rows stay zero)."""
    features = np.asarray(features, dtype=np.float32)
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    return features / np.maximum(norms, 1e-12)


def nearest_neighbours(features: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact ``k`` nearest neighbours of every row among the other rows (Euclidean).

    Returns ``(indices, squared_distances)``, both (n, k), nearest first; a point is never its
    own neighbour (with duplicate points, the copies count as neighbours). faiss
    ``IndexFlatL2`` when installed, else scikit-learn.
    """
    features = _as_features(features)
    n = len(features)
    if isinstance(k, bool) or int(k) != k or not 1 <= k < n:
        raise ValueError(f"K_s (number of neighbours) must be an integer in [1, n - 1 = {n - 1}]"
                         f", got {k!r}")
    k = int(k)
    try:
        import faiss

        index = faiss.IndexFlatL2(features.shape[1])
        index.add(features)
        squared, indices = index.search(features, k + 1)
    except ImportError:  # pragma: no cover - faiss is a dependency of this project
        from sklearn.neighbors import NearestNeighbors

        distances, indices = NearestNeighbors(n_neighbors=k + 1).fit(features).kneighbors(features)
        squared = distances ** 2
    indices = indices.astype(np.int64)
    squared = np.maximum(squared.astype(np.float64), 0.0)
    # drop the point itself (or, when duplicates hide it, the farthest of the k + 1)
    is_self = indices == np.arange(n)[:, None]
    no_self = ~is_self.any(axis=1)
    is_self[no_self, -1] = True
    keep = np.argsort(is_self, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(indices, keep, 1), np.take_along_axis(squared, keep, 1)


def _graph_from_neighbours(indices: np.ndarray, squared: np.ndarray,
                           a: float) -> tuple[sparse.csr_matrix, float]:
    """W (CSR, K_s entries per row) and sigma^2 from the neighbour lists."""
    n, k = indices.shape
    sigma2 = float(a) * float(squared.mean())
    if not sigma2 > 0:            # every neighbour at distance 0: all weights 1
        sigma2 = 1.0
    weights = np.exp(-squared / sigma2).ravel()
    graph = sparse.csr_matrix((weights, indices.ravel(), np.arange(0, n * k + 1, k)),
                              shape=(n, n))
    graph.sort_indices()
    return graph, sigma2


def knn_affinity(features: np.ndarray, K_s: int = 20, a: float = 1.0) -> sparse.csr_matrix:
    """The sample graph: sparse (n, n) CSR ``W`` with ``W[i, j] = exp(-|x_i - x_j|^2 / sigma^2)``
    for the K_s nearest neighbours ``j`` of ``i`` (directed: row i holds i's neighbours) and
    ``sigma^2 = a`` x the mean of the n K_s squared neighbour distances."""
    if a <= 0:
        raise ValueError(f"a must be > 0, got {a}")
    indices, squared = nearest_neighbours(features, K_s)
    return _graph_from_neighbours(indices, squared, a)[0]


def _check_graph(W, n: int | None = None) -> sparse.csr_matrix:
    W = sparse.csr_matrix(W, dtype=np.float64)
    if W.shape[0] != W.shape[1]:
        raise ValueError(f"W must be a square (n, n) affinity matrix, got shape {W.shape}")
    if n is not None and W.shape[0] != n:
        raise ValueError(f"W is {W.shape} but labels hold {n} samples")
    if W.nnz and (not np.isfinite(W.data).all() or W.data.min() < 0):
        raise ValueError("W must hold finite, non-negative affinities")
    return W


# --------------------------------------------------------------- clusters and their affinities
def nn_link_clusters(nearest: np.ndarray) -> np.ndarray:
    """Initial clusters: each sample linked to its nearest neighbour ``nearest[i]``; the
    connected components of these links are the clusters (labels 0..C-1)."""
    nearest = np.asarray(nearest, dtype=np.int64).ravel()
    n = len(nearest)
    if n == 0 or nearest.min() < 0 or nearest.max() >= n:
        raise ValueError(f"nearest must hold n > 0 sample indices in [0, n), got {nearest!r}")
    links = sparse.csr_matrix((np.ones(n), (np.arange(n), nearest)), shape=(n, n))
    return connected_components(links, directed=True, connection="weak")[1].astype(np.int64)


def initial_clusters(features: np.ndarray, n_clusters: int = 1, *, method: str = "nn_link",
                     nearest: np.ndarray | None = None) -> np.ndarray:
    """JULE's starting clusters of ``features``: nearest-neighbour linking (``"nn_link"``) or
    one cluster per sample (``"singletons"``, also the fallback when the linking gives fewer
    than ``n_clusters`` clusters). ``nearest`` (n,) reuses a computed 1-NN list."""
    if method not in INITIAL_CLUSTERINGS:
        raise ValueError(f"method must be one of {INITIAL_CLUSTERINGS}, got {method!r}")
    n = len(features)
    if method == "nn_link" and n > 1:
        if nearest is None:
            nearest = nearest_neighbours(features, 1)[0][:, 0]
        labels = nn_link_clusters(nearest)
        if labels.max() + 1 >= n_clusters:
            return labels
    return np.arange(n, dtype=np.int64)


def _compact(labels) -> tuple[np.ndarray, int]:
    labels = np.asarray(labels)
    if labels.ndim != 1 or (labels.size and not np.issubdtype(labels.dtype, np.integer)):
        raise ValueError(f"labels must be a 1-D integer vector, got shape {labels.shape}, "
                         f"dtype {labels.dtype}")
    uniques, compact = np.unique(labels, return_inverse=True)
    return compact.astype(np.int64), len(uniques)


def _membership(labels: np.ndarray, n_clusters: int) -> sparse.csr_matrix:
    n = len(labels)
    return sparse.csr_matrix((np.ones(n), (np.arange(n), labels)), shape=(n, n_clusters))


def _directed_affinity_sparse(W: sparse.csr_matrix, labels: np.ndarray,
                              n_clusters: int) -> sparse.csr_matrix:
    """D[r, c] = 1/|C_r|^2 sum_{m in C_c} (sum_{b in C_r} W[b, m]) (sum_{b in C_r} W[m, b]),
    zero diagonal, as a sparse (C, C) matrix; O(nnz(W)) work and memory."""
    members = _membership(labels, n_clusters)
    inflow = (members.T @ W).tocsr()           # [r, m] = sum_{b in C_r} W[b, m]
    outflow = (W @ members).T.tocsr()          # [r, m] = sum_{b in C_r} W[m, b]
    paths = inflow.multiply(outflow).tocsr()   # two-step paths C_r -> m -> C_r
    sizes = np.bincount(labels, minlength=n_clusters).astype(np.float64)
    directed = (sparse.diags(1.0 / sizes ** 2) @ (paths @ members)).tocsr()
    directed.setdiag(0.0)
    directed.eliminate_zeros()
    return directed


def directed_cluster_affinity(W, labels) -> np.ndarray:
    """Dense (C, C) ``D[i, j] = 1/|C_i|^2 1' W_{Ci,Cj} W_{Cj,Ci} 1`` (zero diagonal) for the
    clusters of ``labels`` (any integers; rows follow ``np.unique(labels)``)."""
    compact, n_clusters = _compact(labels)
    W = _check_graph(W, len(compact))
    return _directed_affinity_sparse(W, compact, n_clusters).toarray()


def cluster_affinity(W, labels) -> np.ndarray:
    """Zhang et al.'s graph degree linkage between all pairs of clusters, dense (C, C):
    ``A(C_i, C_j) = 1/|C_i|^2 1' W_{Ci,Cj} W_{Cj,Ci} 1 + 1/|C_j|^2 1' W_{Cj,Ci} W_{Ci,Cj} 1``,
    symmetric with a zero diagonal (rows follow ``np.unique(labels)``)."""
    directed = directed_cluster_affinity(W, labels)
    return directed + directed.T


# ------------------------------------------------------------------------- the merge criterion
def _top_k(values: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and values of the k largest entries of each row, largest first (ties: lowest
    index first). Overwrites ``values``."""
    if k <= 8:   # k passes of argmax: faster than argpartition, whose introselect slows on ties
        rows = np.arange(len(values))
        idx = np.empty((len(values), k), dtype=np.int64)
        vals = np.empty((len(values), k))
        for i in range(k):
            idx[:, i] = np.argmax(values, axis=1)
            vals[:, i] = values[rows, idx[:, i]]
            values[rows, idx[:, i]] = -np.inf
        return idx, vals
    part = np.argpartition(-values, k - 1, axis=1)[:, :k]
    vals = np.take_along_axis(values, part, 1)
    order = np.argsort(-vals, axis=1, kind="stable")
    return np.take_along_axis(part, order, 1), np.take_along_axis(vals, order, 1)


def _criterion(top_values: np.ndarray, lam: float, local_structure: bool) -> np.ndarray:
    """Scores from each cluster's K_c largest affinities (descending, zero-padded)."""
    first = top_values[:, 0]
    if not local_structure or top_values.shape[1] < 2:
        return first.copy()
    # A_1 + lam / (K_c - 1) sum_{k >= 2} (A_1 - A_k) = A_1 + lam (A_1 - mean_{k >= 2} A_k)
    return first + lam * (first - top_values[:, 1:].mean(axis=1))


def merge_candidates(affinity, K_c: int = 5, lam: float = 1.0, *,
                     local_structure: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """JULE's merge criterion on a dense symmetric (C, C) cluster-affinity matrix.

    Returns ``(scores, nearest)``, both (C,): ``nearest[i]`` is the cluster of largest affinity
    to ``i`` and ``scores[i] = A(i, N_1) + lam / (K_c - 1) sum_{k=2..K_c} (A(i, N_1) - A(i, N_k))``
    over i's K_c nearest clusters ``N_1..N_Kc`` (missing ones count as 0); with
    ``local_structure=False`` (or K_c = 1) the score is ``A(i, N_1)``. The diagonal is ignored.
    """
    A = np.array(affinity, dtype=np.float64)
    if A.ndim != 2 or A.shape[0] != A.shape[1] or A.shape[0] < 2:
        raise ValueError(f"affinity must be a square (C, C) matrix with C >= 2, got {A.shape}")
    if int(K_c) != K_c or K_c < 1:
        raise ValueError(f"K_c must be an integer >= 1, got {K_c!r}")
    np.fill_diagonal(A, -np.inf)
    k = min(int(K_c), len(A) - 1)
    top_idx, top_vals = _top_k(A, k)
    padded = np.zeros((len(A), int(K_c)))
    padded[:, :k] = top_vals
    return _criterion(padded, lam, local_structure), top_idx[:, 0]


def select_merge(affinity, K_c: int = 5, lam: float = 1.0, *,
                 local_structure: bool = True) -> tuple[int, int]:
    """The pair JULE merges next: ``(i, j)`` with ``i`` the cluster of largest score (see
    :func:`merge_candidates`; first index on ties) and ``j`` its nearest cluster."""
    scores, nearest = merge_candidates(affinity, K_c, lam, local_structure=local_structure)
    i = int(np.argmax(scores))
    if not scores[i] > 0:
        raise ValueError("no pair of clusters has a positive affinity")
    return i, int(nearest[i])


# ------------------------------------------------------------- the forward pass: agglomeration
def _gather_rows(matrix: sparse.csr_matrix, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column indices and values of the given rows of a CSR matrix (concatenated)."""
    starts = matrix.indptr[rows].astype(np.int64)
    lengths = matrix.indptr[rows + 1].astype(np.int64) - starts
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, np.int64), np.zeros(0)
    offsets = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(total)
    return matrix.indices[offsets], matrix.data[offsets]


def _cluster_centroids(features: np.ndarray, labels: np.ndarray, ids: np.ndarray) -> np.ndarray:
    n_ids = int(labels.max()) + 1
    sums = _membership(labels, n_ids).T @ features.astype(np.float64)
    sizes = np.bincount(labels, minlength=n_ids)
    return (sums[ids] / sizes[ids, None]).astype(np.float32)


class _Agglomeration:
    """State of one period's merging: dense float32 directed affinities ``D`` (C0, C0) with
    dead clusters zeroed, each cluster's K_c largest affinities, members and sizes."""

    def __init__(self, W: sparse.csr_matrix, features: np.ndarray, labels: np.ndarray,
                 n_clusters: int, directed: sparse.csr_matrix, cfg: JULEConfig):
        self.W, self.WT, self.features, self.cfg = W, W.T.tocsr(), features, cfg
        self.out_degree, self.in_degree = np.diff(self.W.indptr), np.diff(self.WT.indptr)
        self.labels = labels.copy()
        self.C0 = n_clusters
        self.sizes = np.bincount(labels, minlength=n_clusters).astype(np.float64)
        order = np.argsort(labels, kind="stable")
        self.members = np.split(order, np.cumsum(np.bincount(labels, minlength=n_clusters))[:-1])
        self.active = np.ones(n_clusters, dtype=bool)
        self.n_active = n_clusters
        coo = directed.tocoo()
        self.D = np.zeros((n_clusters, n_clusters), dtype=np.float32)
        self.D[coo.row, coo.col] = coo.data
        self.K = int(cfg.K_c)
        self.top_idx = np.zeros((n_clusters, self.K), dtype=np.int64)
        self.top_vals = np.zeros((n_clusters, self.K))
        self.n_centroid_merges = 0
        self._refresh(np.arange(n_clusters))

    def _refresh(self, rows: np.ndarray) -> None:
        """Recompute the K_c-cache of ``rows`` from the current affinities."""
        k = min(self.K, self.C0 - 1)
        if k < 1 or len(rows) == 0:
            return
        block = max(1, (1 << 22) // self.C0)
        for start in range(0, len(rows), block):
            r = rows[start:start + block]
            values = self.D[r].astype(np.float64) + self.D[:, r].T
            values[np.arange(len(r)), r] = -np.inf
            idx, vals = _top_k(values, k)
            self.top_idx[r, :k], self.top_vals[r, :k] = idx, vals
            self.top_idx[r, k:], self.top_vals[r, k:] = r[:, None], 0.0

    def _flow(self, matrix: sparse.csr_matrix, degree: np.ndarray, points: np.ndarray,
              cluster: int) -> np.ndarray:
        """For each m of ``points``: sum_{b in C_cluster} matrix[m, b], i.e. the flow into m
        (``matrix`` = WT) or out of m (``matrix`` = W)."""
        lengths = degree[points]
        owner = np.repeat(np.arange(len(points)), lengths)
        cols, vals = _gather_rows(matrix, points)
        hit = self.labels[cols] == cluster
        return np.bincount(owner[hit], weights=vals[hit], minlength=len(points))

    def _cross_paths(self, keep: int, drop: int) -> np.ndarray:
        """sum over m in each cluster of in_keep(m) out_drop(m) + in_drop(m) out_keep(m): the
        two-step paths between the two merging clusters, which the fast rule drops. Costs
        O(|C_drop| K_s^2), independent of the larger cluster (labels before the merge)."""
        members = self.members[drop]
        cross = np.zeros(self.C0)
        for matrix, degree in ((self.WT, self.in_degree), (self.W, self.out_degree)):
            # matrix = WT: points m with W[m, b] > 0, b in C_drop (out_drop), times in_keep(m);
            # matrix = W:  points m with W[b, m] > 0, b in C_drop (in_drop), times out_keep(m)
            cols, vals = _gather_rows(matrix, members)
            if cols.size == 0:
                continue
            points, inverse = np.unique(cols, return_inverse=True)
            drop_part = np.bincount(inverse, weights=vals)
            paths = drop_part * self._flow(matrix, degree, points, keep)
            cross += np.bincount(self.labels[points], weights=paths, minlength=self.C0)
        return cross

    def merge(self, i: int, j: int) -> None:
        keep, drop = (i, j) if self.sizes[i] >= self.sizes[j] else (j, i)
        s_keep, s_drop = self.sizes[keep], self.sizes[drop]
        D = self.D
        # row of the merged cluster (as endpoints): unnormalised rows add up, plus (exact) the
        # paths between the two clusters; normalised by the new size^2
        row = s_keep ** 2 * D[keep].astype(np.float64) + s_drop ** 2 * D[drop].astype(np.float64)
        if self.cfg.affinity_update == "exact":
            row += self._cross_paths(keep, drop)
        row /= (s_keep + s_drop) ** 2
        self.labels[self.members[drop]] = keep
        self.members[keep] = np.concatenate([self.members[keep], self.members[drop]])
        self.members[drop] = self.members[drop][:0]
        self.sizes[keep], self.sizes[drop] = s_keep + s_drop, 0.0
        self.active[drop] = False
        self.n_active -= 1
        # column (as the middle cluster): the sums over its samples add up (exact)
        D[:, keep] += D[:, drop]
        D[keep] = row
        D[drop] = 0.0
        D[:, drop] = 0.0
        D[keep, keep] = 0.0
        self._update_cache(keep, drop, D[keep].astype(np.float64) + D[:, keep])

    def _update_cache(self, keep: int, drop: int, new: np.ndarray) -> None:
        """Keep each cluster's K_c largest affinities right after ``drop`` joined ``keep``
        (only A[r, keep] and A[r, drop] changed): a row is recomputed (O(C0)) only if ``drop``
        was in its cache or ``keep``'s value fell below the cached minimum; otherwise the
        new value is written into / inserted in the cache (O(K_c))."""
        idx, vals = self.top_idx, self.top_vals
        lowest = vals[:, -1]
        has_keep = (idx == keep).any(axis=1)
        full = (idx == drop).any(axis=1) | (has_keep & (new < lowest))
        full[keep] = True
        full &= self.active
        update = has_keep & ~full & self.active
        insert = ~has_keep & ~full & self.active & (new > lowest)
        rows = np.flatnonzero(update)
        if len(rows):
            at = np.argmax(idx[rows] == keep, axis=1)
            vals[rows, at] = new[rows]
        rows_insert = np.flatnonzero(insert)
        if len(rows_insert):
            idx[rows_insert, -1] = keep
            vals[rows_insert, -1] = new[rows_insert]
        rows = np.concatenate([rows, rows_insert])
        if len(rows):
            order = np.argsort(-vals[rows], axis=1, kind="stable")
            idx[rows] = np.take_along_axis(idx[rows], order, 1)
            vals[rows] = np.take_along_axis(vals[rows], order, 1)
        self._refresh(np.flatnonzero(full))
        vals[drop] = 0.0   # dead: masked out of the criterion

    def _nearest_centroid_pair(self) -> tuple[int, int]:
        ids = np.flatnonzero(self.active)
        centroids = _cluster_centroids(self.features, self.labels, ids)
        idx, squared = nearest_neighbours(centroids, 1)
        best = int(np.argmin(squared[:, 0]))
        return int(ids[best]), int(ids[idx[best, 0]])

    def step(self) -> None:
        local = self.n_active > self.cfg.local_structure_above
        scores = _criterion(self.top_vals, self.cfg.lam, local)
        scores[~self.active] = -np.inf
        i = int(np.argmax(scores))
        if scores[i] > 0:
            j = int(self.top_idx[i, 0])
        else:  # no positive affinity left (ours): the clusters of nearest centroids
            i, j = self._nearest_centroid_pair()
            self.n_centroid_merges += 1
        self.merge(i, j)


def _merge_isolated(features, labels, n_clusters, directed) -> tuple[np.ndarray, int]:
    """The code's rule: clusters with zero affinity to every other join the cluster of nearest
    centroid (all at once here). Returns new compact labels and the number merged."""
    touching = np.asarray(directed.sum(axis=1)).ravel() + np.asarray(directed.sum(axis=0)).ravel()
    isolated = np.flatnonzero(touching == 0)
    if len(isolated) == 0:
        return labels, 0
    centroids = _cluster_centroids(features, labels, np.arange(n_clusters))
    nearest = nearest_neighbours(centroids, 1)[0][:, 0]
    links = sparse.csr_matrix((np.ones(len(isolated)), (isolated, nearest[isolated])),
                              shape=(n_clusters, n_clusters))
    groups = connected_components(links, directed=True, connection="weak")[1]
    return _compact(groups[labels])[0], len(isolated)


def agglomerate(features: np.ndarray, n_clusters: int, cfg: JULEConfig | None = None, *,
                initial_labels=None, max_merges: int | None = None,
                merge_fraction: float | None = None,
                neighbours: tuple[np.ndarray, np.ndarray] | None = None,
                return_info: bool = False):
    """JULE's forward pass on fixed ``features`` (n, d): merge clusters by the JULE criterion
    on the degree-linkage affinity of the K_s-NN graph until ``n_clusters`` remain.

    Args:
        initial_labels: (n,) clusters to start from; default ``cfg.initial_clustering`` on
            ``features`` (nearest-neighbour linking).
        max_merges: at most this many merges; ``merge_fraction``: at most ``ceil(fraction x
            clusters)`` merges (one partially unrolled period with ``eta``), counted after the
            isolated-cluster rule as in the code.
        neighbours: :func:`nearest_neighbours` ``(features, K_s)``, when already computed.
        return_info: also return a dict (clusters at start / end, merges, sigma^2, the bytes
            of the dense cluster matrix, ...).
    Returns:
        (n,) int64 labels 0..C-1 (and the info dict).
    """
    cfg = cfg or JULEConfig()
    features = _as_features(features)
    n = len(features)
    if isinstance(n_clusters, bool) or int(n_clusters) != n_clusters or not 1 <= n_clusters <= n:
        raise ValueError(f"n_clusters must be an integer in [1, n={n}], got {n_clusters!r}")
    n_clusters = int(n_clusters)
    if neighbours is None:
        neighbours = nearest_neighbours(features, cfg.K_s)
    W, sigma2 = _graph_from_neighbours(*neighbours, cfg.a)
    if initial_labels is None:
        labels = initial_clusters(features, n_clusters, method=cfg.initial_clustering,
                                  nearest=neighbours[0][:, 0])
    else:
        if np.shape(initial_labels) != (n,):
            raise ValueError(f"initial_labels must have shape ({n},), got "
                             f"{np.shape(initial_labels)}")
        labels = initial_labels
    labels, C = _compact(labels)
    if C < n_clusters:
        raise ValueError(f"initial_labels hold {C} clusters, fewer than n_clusters={n_clusters}")
    directed = _directed_affinity_sparse(W, labels, C)
    n_isolated = 0
    if C > cfg.isolated_merge_factor * n_clusters:
        labels, n_isolated = _merge_isolated(features, labels, C, directed)
        if n_isolated:
            C = int(labels.max()) + 1
            directed = _directed_affinity_sparse(W, labels, C)
    budget = max(C - n_clusters, 0)
    if merge_fraction is not None:
        budget = min(budget, int(math.ceil(merge_fraction * C)))
    if max_merges is not None:
        budget = min(budget, int(max_merges))
    info = {"n_start": C, "n_isolated_merged": n_isolated, "sigma2": sigma2,
            "graph_nnz": int(W.nnz), "n_merges": 0, "n_centroid_merges": 0,
            "cluster_matrix_bytes": 4 * C * C if budget > 0 else 0}
    if budget > 0:
        state = _Agglomeration(W, features, labels, C, directed, cfg)
        for _ in range(budget):
            state.step()
        labels = state.labels
        info.update(n_merges=budget, n_centroid_merges=state.n_centroid_merges)
    labels = _compact(labels)[0]
    info["n_end"] = int(labels.max()) + 1
    return (labels, info) if return_info else labels


# ------------------------------------------------- the backward pass: network, loss, optimiser
def build_jule_network(input_shape, seed: int, *, n_blocks: int | None = None, width: int = 50,
                       feature_dim: int = 160):
    """The JULE code's digit networks (``models_def/MNIST-test.lua``, ``USPS.lua``).

    conv 5x5 (``width``, valid) -> BN -> ReLU -> 2x2 max pool, then for 28x28 inputs a second
    conv 5x5 -> BN -> ReLU (``n_blocks`` = 2 when both sides are >= 24, else 1), flatten
    (3200 for 28x28, 1800 for 16x16), linear to ``feature_dim`` (160), L2 normalisation.
    Weights N(0, 0.01), biases 0; BatchNorm with Torch's momentum 0.1 and epsilon 1e-5.
    """
    import keras
    from keras import layers

    input_shape = tuple(int(s) for s in input_shape)
    if len(input_shape) != 3:
        raise ValueError(f"build_jule_network needs images of shape (height, width, channels), "
                         f"got per-sample shape {input_shape}")
    if n_blocks is None:
        n_blocks = 2 if min(input_shape[:2]) >= 24 else 1
    if min(input_shape[:2]) < 5 * n_blocks + 1:
        raise ValueError(f"images of {input_shape[:2]} are too small for {n_blocks} 5x5 blocks")
    keras.utils.set_random_seed(int(seed))

    def init(i):
        return keras.initializers.RandomNormal(0.0, 0.01, seed=int(seed) * 1000 + i)

    inputs = keras.Input(shape=input_shape, name="images")
    h = inputs
    for i in range(1, n_blocks + 1):
        h = layers.Conv2D(width, 5, padding="valid", kernel_initializer=init(i),
                          bias_initializer="zeros", name=f"conv{i}")(h)
        h = layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name=f"bn{i}")(h)
        h = layers.ReLU(name=f"relu{i}")(h)
        if i == 1:
            h = layers.MaxPooling2D(2, padding="same", name="pool1")(h)
    h = layers.Flatten(name="flatten")(h)
    h = layers.Dense(feature_dim, kernel_initializer=init(0), bias_initializer="zeros",
                     name="embedding")(h)
    outputs = layers.UnitNormalization(axis=-1, name="l2_normalize")(h)
    return keras.Model(inputs, outputs, name="jule_net")


def triplet_loss(gamma: float = 2.0, margin: float = 0.2):
    """Keras loss ``(cluster labels, features) -> scalar``: JULE's weighted triplet loss.

    For every ordered pair (a, p) of distinct images of the same cluster in the batch, the mean
    over the batch's images n of other clusters of ``max(0, gamma d(a, p) - d(a, n) + margin)``
    with d the squared Euclidean distance; averaged over the pairs (pairs without negatives
    are skipped; a batch without pairs gives 0). This is the expectation of the code's loss
    with its random negatives. ``keras.ops`` only.
    """
    from keras import ops

    def jule_triplet_loss(y_true, y_pred):
        labels = ops.reshape(y_true, (-1,))
        f = ops.cast(y_pred, "float32")
        sq = ops.sum(f * f, axis=1)
        d2 = ops.maximum(sq[:, None] + sq[None, :] - 2.0 * ops.matmul(f, ops.transpose(f)), 0.0)
        same = ops.cast(ops.equal(labels[:, None], labels[None, :]), "float32")
        positive = same - ops.eye(ops.shape(f)[0], dtype="float32")
        negative = 1.0 - same
        hinge = ops.relu(gamma * d2[:, :, None] - d2[:, None, :] + margin)   # [a, p, n]
        n_negative = ops.sum(negative, axis=1)
        per_pair = (ops.sum(hinge * negative[:, None, :], axis=2)
                    / ops.maximum(n_negative, 1.0)[:, None])
        valid = positive * ops.cast(n_negative > 0, "float32")[:, None]
        return ops.sum(per_pair * valid) / ops.maximum(ops.sum(valid), 1.0)

    return jule_triplet_loss


def inverse_lr_schedule(base: float, gamma: float, power: float):
    """Caffe's "inv" policy, as the code: ``base (1 + gamma t)^-power`` at update t."""
    import keras
    from keras import ops

    class InverseDecay(keras.optimizers.schedules.LearningRateSchedule):
        def __call__(self, step):
            step = ops.cast(step, "float32")
            return base * ops.power(1.0 + gamma * step, -power)

        def get_config(self):
            return {"base": base, "gamma": gamma, "power": power}

    return InverseDecay()


class JULE:
    """JULE (the UCNN paper's CNN-RC) down to ``n_clusters`` clusters (a
    :class:`repro.methods.base.Clusterer`): ``fit(x, *, seed, y=None)`` on images ``x``
    (n, h, w[, c]); ``y`` (optional) only scores the history rows, never trains.

    ``build_network(input_shape, seed)`` returns a Keras model mapping images to (n, d)
    features (default :func:`build_jule_network`); keep a reference inside it to reuse the
    trained network.

    The recurrent process of the module docstring; once ``n_clusters`` remain (or
    ``max_epochs`` are spent) the final features are re-clustered from scratch
    (``final_recluster``, the code) or the current clusters merged down to the target.

    History rows: ``iteration`` (SGD updates so far), ``epoch``, ``period``, ``stage``
    ("initial" / "period" / "final"), ``n_clusters``, ``loss`` (mean triplet loss of the last
    epoch before this clustering; None before any training), ``acc``, ``nmi``, ``sigma2``.
    """

    def __init__(self, n_clusters: int, cfg: JULEConfig | None = None, *, build_network=None,
                 verbose: int = 0, log=print):
        self.n_clusters, self.cfg = n_clusters, cfg or JULEConfig()
        self.build_network, self.verbose, self.log = build_network, verbose, log

    def fit(self, x: np.ndarray, *, seed: int, y: np.ndarray | None = None) -> ClusteringResult:
        import keras

        from repro.methods.pretrain import make_optimizer
        from repro.models.inference import predict

        cfg, labels = self.cfg, y
        x = check_inputs(x, self.n_clusters, labels)
        if x.ndim == 3:
            x = x[..., None]
        n = len(x)
        n_clusters = int(self.n_clusters)
        if cfg.K_s >= n:
            raise ValueError(f"K_s={cfg.K_s} must be smaller than the number of images n={n}")
        started = time.perf_counter()
        keras.utils.set_random_seed(int(seed))
        model = (self.build_network or build_jule_network)(x.shape[1:], int(seed))
        if len(model.outputs) != 1 or len(model.outputs[0].shape) != 2:
            raise ValueError(f"build_network must return a model with one (batch, d) output, "
                             f"got {[tuple(o.shape) for o in model.outputs]}")
        model.compile(optimizer=make_optimizer(
            "sgd", inverse_lr_schedule(cfg.learning_rate, cfg.lr_gamma, cfg.lr_power),
            cfg.momentum, weight_decay=cfg.weight_decay or None),
            loss=triplet_loss(cfg.gamma, cfg.margin))
        say = self.log if self.verbose else (lambda *_: None)
        steps_per_epoch = int(math.ceil(n / cfg.batch_size))
        timings = {"pretrain_s": 0.0, "forward_s": 0.0, "backward_s": 0.0}
        history: list[dict] = []
        peak_bytes = 0

        def features_now() -> np.ndarray:
            f = predict(model, x, batch_size=cfg.feature_batch_size).reshape(n, -1)
            return l2_normalize(f) if cfg.normalize_features else f

        def record(stage, period, epoch, current, loss, sigma2):
            acc, nmi_value = score_labels(labels, current)
            row = {"iteration": epoch * steps_per_epoch, "epoch": epoch, "period": period,
                   "stage": stage, "n_clusters": int(current.max()) + 1, "loss": loss,
                   "acc": acc, "nmi": nmi_value, "sigma2": sigma2}
            history.append(row)
            nmi_text = f", NMI {nmi_value:.3f}" if nmi_value is not None else ""
            say(f"JULE {stage} period {period}: {row['n_clusters']} clusters after {epoch} "
                f"epochs{nmi_text}")

        # period 0: initial clusters of the raw pixels (the code: normalised pixels, 1-NN linking)
        tic = time.perf_counter()
        pixels = x.reshape(n, -1)
        pixels = l2_normalize(pixels) if cfg.normalize_features else pixels
        current = initial_clusters(pixels, n_clusters, method=cfg.initial_clustering)
        n_initial = int(current.max()) + 1
        timings["forward_s"] += time.perf_counter() - tic
        record("initial", 0, 0, current, None, None)

        epochs, period, loss, features = 0, 0, None, None
        while current.max() + 1 > n_clusters and epochs < cfg.max_epochs:
            tic = time.perf_counter()
            n_epochs = min(cfg.epochs_per_period, cfg.max_epochs - epochs)
            fitted = model.fit(x, current, batch_size=cfg.batch_size, epochs=n_epochs,
                               shuffle=True, verbose=self.verbose)
            loss = float(fitted.history["loss"][-1])
            epochs += n_epochs
            timings["backward_s"] += time.perf_counter() - tic
            tic = time.perf_counter()
            features = features_now()
            current, info = agglomerate(features, n_clusters, cfg, initial_labels=current,
                                        merge_fraction=cfg.eta, return_info=True)
            peak_bytes = max(peak_bytes, info["cluster_matrix_bytes"])
            timings["forward_s"] += time.perf_counter() - tic
            period += 1
            record("period", period, epochs, current, loss, info["sigma2"])

        stopped_by = "n_clusters" if current.max() + 1 <= n_clusters else "max_epochs"
        tic = time.perf_counter()
        sigma2 = None
        if cfg.final_recluster or current.max() + 1 > n_clusters:
            if features is None:
                features = features_now()
            neighbours = nearest_neighbours(features, cfg.K_s)   # the features stay fixed now
        if cfg.final_recluster:
            current = initial_clusters(features, n_clusters, method=cfg.initial_clustering,
                                       nearest=neighbours[0][:, 0])
        while current.max() + 1 > n_clusters:
            current, info = agglomerate(features, n_clusters, cfg, initial_labels=current,
                                        merge_fraction=cfg.eta if cfg.final_recluster else None,
                                        neighbours=neighbours, return_info=True)
            peak_bytes = max(peak_bytes, info["cluster_matrix_bytes"])
            sigma2 = info["sigma2"]
        timings["forward_s"] += time.perf_counter() - tic
        record("final", period + 1, epochs, current, loss, sigma2)
        timings["cluster_s"] = timings["forward_s"]
        timings["total_s"] = time.perf_counter() - started
        return ClusteringResult(
            labels=current, history=history, timings=timings,
            info={"n_initial_clusters": n_initial, "periods": period, "epochs": epochs,
                  "sgd_updates": epochs * steps_per_epoch, "final_recluster": cfg.final_recluster,
                  "affinity_update": cfg.affinity_update,
                  "peak_cluster_matrix_bytes": int(peak_bytes), "stopped_by": stopped_by,
                  "seed": int(seed)})
