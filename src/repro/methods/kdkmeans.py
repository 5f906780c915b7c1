"""KDK-means: k-means accelerated by a k-d tree (the filtering algorithm), a PQDEC baseline.

The PQDEC paper lists "KDK-means" in Table 1 without a definition or citation ("GitHub codes
are collected"). We read it as **k-means over a k-d tree**, the filtering algorithm of
Kanungo, Mount, Netanyahu, Piatko, Silverman & Wu, "An efficient k-means clustering algorithm:
analysis and implementation", IEEE TPAMI 24(7), 2002 (Fig. 3), which refines the kd-tree
k-means of Pelleg & Moore (KDD 1999) and Alsabti, Ranka & Singh (1998). It performs exactly
Lloyd's iterations; the tree only avoids point-centre distance computations:

* The tree is built once over the data. Every node stores its points (a contiguous range of a
  permutation), their count, their sum (the "weighted centroid") and sum of squared norms, and
  the tight bounding box of its points (a subset of Kanungo's cell; pruning against it is
  valid and never weaker). Split: the dimension of largest variance at its median (Friedman,
  Bentley & Finkel 1977), so the tree is balanced; a node with at most ``leaf_size`` points
  is a leaf (bucket). Kanungo et al. split at the (sliding) midpoint of the longest side; on
  raw MNIST that rule peels off a few points at a time (pixels that are non-zero in few
  images) and gave depth 115 for 10000 points with leaf_size 64, against 8 for medians.
  The split rule changes the work, never the result.
* Each iteration traverses the tree with a candidate set Z (initially all K centres). At a
  node with box C: z* = candidate closest to C's midpoint; a candidate z is pruned when it is
  farther than z* from the box vertex extreme in direction z - z* (then no point of C is
  closer to z than to z*). One candidate left: the whole node goes to it (count and sum are
  added in O(d), no point touched). Otherwise recurse; a leaf computes the distances from its
  points to the remaining candidates.
* Pruning is strict ("farther", not "not closer"), so exact ties are resolved like Lloyd's
  ``argmin`` (lowest index). The result equals Lloyd's up to float64 rounding in near-ties.

Iteration protocol = scikit-learn's ``algorithm="lloyd"``: assign with the current centres,
move centres to the means; stop when labels repeat (strict convergence) or the total squared
centre shift <= ``tol * mean(var(x, axis=0))``; after a non-strict stop the labels are
recomputed from the final centres. Difference: an empty cluster keeps its centre (scikit-learn
relocates it to a far point). Seeding ``"k-means++"`` is ``sklearn.cluster.kmeans_plusplus``
(greedy, 2 + ln K trials), the seeding of ``KMeans(random_state=seed)``: on MNIST-test with
seed 0 and 10 iterations the labels equal those of ``KMeans(n_init=1, algorithm="lloyd")``.
The data stay float32 in memory; all distances, sums and centres are float64.

Curse of dimensionality: kd-tree pruning needs boxes that are small relative to the gaps
between centres. In 784 dimensions (raw MNIST) boxes stay wide at every depth and almost no
candidate is ever pruned, so the method computes nearly all n*K distances plus tree overhead.
``history[i]["distance_fraction"]`` (distances computed / (n*K)) measures this: 0.995 on
MNIST-test (10000 x 784, K=10, leaf_size 64), against < 0.1 for separated 2-d blobs.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from sklearn.cluster import kmeans_plusplus
from threadpoolctl import threadpool_limits

from .base import ClusteringResult, check_inputs, score_labels

INITS = ("k-means++", "random")
STATS_CHUNK = 4096


@dataclass
class KDKMeansConfig:
    """Lloyd iterations ``max_iter``, relative ``tol`` (scikit-learn's), bucket ``leaf_size``."""

    max_iter: int = 300
    tol: float = 1e-4
    leaf_size: int = 64
    init: str = "k-means++"

    def __post_init__(self) -> None:
        if self.init not in INITS:
            raise ValueError(f"unknown KDK-means init {self.init!r}; expected one of {INITS}")
        for name in ("max_iter", "leaf_size"):
            value = getattr(self, name)
            if int(value) != value or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if not self.tol >= 0:
            raise ValueError(f"tol must be >= 0, got {self.tol!r}")


@dataclass
class KDTree:
    """k-d tree over x (n, d) with m nodes; node u holds points x[order[start[u]:end[u]]].

    left / right (m,): child ids, -1 for leaves. lo / hi (m, d): tight bounding box.
    wsum (m, d) float64: sum of the node's points; sqsum (m,): sum of their squared norms.
    """

    order: np.ndarray
    start: np.ndarray
    end: np.ndarray
    left: np.ndarray
    right: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    wsum: np.ndarray
    sqsum: np.ndarray

    @property
    def count(self) -> np.ndarray:
        return self.end - self.start

    @property
    def n_nodes(self) -> int:
        return len(self.start)


@dataclass
class KDKMeansFit:
    """labels (n,), centres (K, d) float64, inertia, n_iter, per-iteration history rows."""

    labels: np.ndarray
    centres: np.ndarray
    inertia: float
    n_iter: int
    history: list[dict]
    stopped_by: str
    monitor_s: float = 0.0


def _node_stats(x: np.ndarray, idx: np.ndarray):
    """(lo (d,), hi (d,) in x's dtype, sum (d,), sum of squares (d,) float64) of x[idx].

    Computed in chunks of STATS_CHUNK rows, so at most (STATS_CHUNK, d) is copied at once.
    """
    lo, hi = np.full(x.shape[1], np.inf, x.dtype), np.full(x.shape[1], -np.inf, x.dtype)
    total, squares = np.zeros(x.shape[1]), np.zeros(x.shape[1])
    for start in range(0, len(idx), STATS_CHUNK):
        block = x[idx[start:start + STATS_CHUNK]]
        lo, hi = np.minimum(lo, block.min(axis=0)), np.maximum(hi, block.max(axis=0))
        total += block.sum(axis=0, dtype=np.float64)
        squares += np.einsum("ij,ij->j", block, block, dtype=np.float64)
    return lo, hi, total, squares


def build_kdtree(x: np.ndarray, leaf_size: int) -> KDTree:
    """Build the tree over x (n, d): median split of the highest-variance dimension.

    Leaves hold between ceil(leaf_size / 2) and leaf_size points (fewer only if n is smaller),
    except that a node of identical points is always a leaf. Depth ~ log2(n / leaf_size).
    """
    order = np.arange(len(x))
    nodes: list[list] = []  # [start, end, left, right, lo, hi, wsum, sqsum, split_dim]

    def new_node(start: int, end: int) -> int:
        lo, hi, total, squares = _node_stats(x, order[start:end])
        variance = squares / (end - start) - (total / (end - start)) ** 2
        dim = int(variance.argmax()) if (hi > lo).any() else -1
        nodes.append([start, end, -1, -1, lo, hi, total, float(squares.sum()), dim])
        return len(nodes) - 1

    stack = [new_node(0, len(x))]
    while stack:
        u = stack.pop()
        start, end, dim = nodes[u][0], nodes[u][1], nodes[u][8]
        if end - start <= leaf_size or dim < 0:
            continue
        idx, half = order[start:end], (end - start) // 2
        order[start:end] = idx[np.argpartition(x[idx, dim], half)]  # lower half first
        nodes[u][2], nodes[u][3] = new_node(start, start + half), new_node(start + half, end)
        stack += [nodes[u][3], nodes[u][2]]
    cols = list(zip(*nodes))
    ints = [np.asarray(c, dtype=np.int64) for c in cols[:4]]
    return KDTree(order, *ints, lo=np.stack(cols[4]), hi=np.stack(cols[5]),
                  wsum=np.stack(cols[6]), sqsum=np.asarray(cols[7]))


def _prune(tree: KDTree, u: int, centres: np.ndarray, cand: np.ndarray) -> np.ndarray:
    """Kanungo's filter at node u: the candidates (sorted ids) that may own a point of u."""
    lo, hi = tree.lo[u].astype(np.float64), tree.hi[u].astype(np.float64)
    z = centres[cand]
    mid = (lo + hi) / 2
    star = int(np.einsum("ij,ij->i", z - mid, z - mid).argmin())
    direction = z - z[star]
    vertex = np.where(direction > 0, hi, lo)  # box vertex extreme in direction z - z*
    to_z, to_star = z - vertex, z[star] - vertex
    farther = np.einsum("ij,ij->i", to_z, to_z) > np.einsum("ij,ij->i", to_star, to_star)
    return cand[~farther]


def filtering_pass(tree: KDTree, x: np.ndarray, centres: np.ndarray):
    """One Lloyd iteration by tree traversal. x (n, d), centres (K, d) float64.

    Returns labels (n,), per-centre sums (K, d) and counts (K,), inertia w.r.t. ``centres``,
    and the number of point-centre distances computed at leaves.
    """
    k = len(centres)
    c_sq = np.einsum("ij,ij->i", centres, centres)
    sums, counts = np.zeros_like(centres), np.zeros(k)
    labels_in_tree_order = np.empty(len(x), dtype=np.int64)
    inertia, n_distances = 0.0, 0
    stack = [(0, np.arange(k))]
    while stack:
        u, cand = stack.pop()
        cand = _prune(tree, u, centres, cand) if len(cand) > 1 else cand
        start, end = tree.start[u], tree.end[u]
        if len(cand) == 1:  # the whole node belongs to one centre: O(d) work
            j = cand[0]
            sums[j] += tree.wsum[u]
            counts[j] += end - start
            labels_in_tree_order[start:end] = j
            inertia += tree.sqsum[u] - 2 * centres[j] @ tree.wsum[u] + (end - start) * c_sq[j]
        elif tree.left[u] >= 0:
            stack += [(tree.right[u], cand), (tree.left[u], cand)]
        else:
            points = x[tree.order[start:end]].astype(np.float64)
            p_sq = np.einsum("ij,ij->i", points, points)
            d2 = p_sq[:, None] - 2 * points @ centres[cand].T + c_sq[cand][None, :]
            nearest = d2.argmin(axis=1)
            onehot = (nearest[:, None] == np.arange(len(cand))).astype(np.float64)
            sums[cand] += onehot.T @ points
            counts[cand] += onehot.sum(axis=0)
            labels_in_tree_order[start:end] = cand[nearest]
            inertia += float(np.maximum(d2[np.arange(len(d2)), nearest], 0).sum())
            n_distances += d2.size
    labels = np.empty_like(labels_in_tree_order)
    labels[tree.order] = labels_in_tree_order
    return labels, sums, counts, inertia, n_distances


def filtering_kmeans(x: np.ndarray, centres: np.ndarray, tree: KDTree, *, max_iter: int,
                     tol: float, y: np.ndarray | None = None) -> KDKMeansFit:
    """Lloyd's k-means of x (n, d) from ``centres`` (K, d), every iteration a ``filtering_pass``."""
    centres = np.asarray(centres, dtype=np.float64).copy()
    if centres.ndim != 2 or centres.shape[1] != x.shape[1]:
        raise ValueError(f"centres must have shape (K, {x.shape[1]}) to match x, "
                         f"got {centres.shape}")
    n, d = x.shape  # mean per-dimension variance from the root's sums: no (n, d) float64 copy
    tol_abs = tol * max(tree.sqsum[0] / n - float((tree.wsum[0] / n) @ (tree.wsum[0] / n)), 0.0) / d
    previous, history, stopped_by, monitor_s = None, [], "max_iter", 0.0
    for iteration in range(1, max_iter + 1):
        labels, sums, counts, inertia, n_dist = filtering_pass(tree, x, centres)
        filled = counts > 0
        new_centres = centres.copy()
        new_centres[filled] = sums[filled] / counts[filled, None]
        shift = float(((new_centres - centres) ** 2).sum())
        centres = new_centres
        tick = time.perf_counter()
        acc, nmi = score_labels(y, labels)
        monitor_s += time.perf_counter() - tick
        history.append({"iteration": iteration, "epoch": float(iteration), "acc": acc, "nmi": nmi,
                        "loss": inertia, "delta_label": None if previous is None
                        else float(np.mean(labels != previous)), "center_shift": shift,
                        "distance_fraction": n_dist / (len(x) * len(centres)),
                        "empty_clusters": int((~filled).sum())})
        if previous is not None and np.array_equal(labels, previous):
            return KDKMeansFit(labels, centres, inertia, iteration, history, "converged", monitor_s)
        if shift <= tol_abs:
            stopped_by = "tol"
            break
        previous = labels
    labels, _, _, inertia, _ = filtering_pass(tree, x, centres)  # labels of the final centres
    return KDKMeansFit(labels, centres, inertia, len(history), history, stopped_by, monitor_s)


def _initial_centres(x: np.ndarray, n_clusters: int, init: str, seed: int) -> np.ndarray:
    if init == "random":
        rng = np.random.default_rng(seed)
        return x[np.sort(rng.choice(len(x), size=n_clusters, replace=False))].astype(np.float64)
    # One BLAS thread, as scikit-learn's KMeans uses around its Lloyd loop: the seeding's skinny
    # (n, d) x (d, 2 + ln K) products oversubscribe a 2-core machine (MNIST-full: 6.6 s with
    # 2 OpenBLAS threads, 1.4 s with 1).
    with threadpool_limits(limits=1, user_api="blas"):
        centres, _ = kmeans_plusplus(x, n_clusters, random_state=seed)
    return centres.astype(np.float64)


class KDKMeans:
    """KDK-means of x (n, ...) flattened to (n, d): tree build, seeding, filtered Lloyd
    (module docstring): ``KDKMeans(n_clusters, config).fit(x, seed=..., y=None)``.

    The result's history has one row per Lloyd iteration (``loss`` = inertia w.r.t. that
    iteration's centres, ``distance_fraction``; acc / nmi only if y is given, monitoring).
    timings: ``tree_s``, ``init_s`` and ``cluster_s`` (tree + seeding + iterations; the
    monitoring scores are excluded). info: ``n_iter``, ``inertia`` (final centres),
    ``stopped_by``, ``n_nodes``, ``mean_distance_fraction``.
    """

    def __init__(self, n_clusters: int, config: KDKMeansConfig | None = None):
        self.n_clusters, self.config = n_clusters, config or KDKMeansConfig()

    def fit(self, x: np.ndarray, *, seed: int, y: np.ndarray | None = None) -> ClusteringResult:
        cfg = self.config
        x = check_inputs(x, self.n_clusters, y)
        x = np.ascontiguousarray(x.reshape(len(x), -1))
        start = time.perf_counter()
        tree = build_kdtree(x, cfg.leaf_size)
        tree_s = time.perf_counter() - start
        centres = _initial_centres(x, self.n_clusters, cfg.init, seed)
        init_s = time.perf_counter() - start - tree_s
        fit = filtering_kmeans(x, centres, tree, max_iter=cfg.max_iter, tol=cfg.tol, y=y)
        seconds = time.perf_counter() - start - fit.monitor_s
        fractions = [row["distance_fraction"] for row in fit.history]
        return ClusteringResult(
            labels=fit.labels, history=fit.history,
            timings={"pretrain_s": 0.0, "tree_s": tree_s, "init_s": init_s, "cluster_s": seconds},
            info={"n_iter": fit.n_iter, "inertia": float(fit.inertia), "stopped_by": fit.stopped_by,
                  "n_nodes": tree.n_nodes, "leaf_size": cfg.leaf_size, "init": cfg.init,
                  "mean_distance_fraction": float(np.mean(fractions)), "seed": seed})
