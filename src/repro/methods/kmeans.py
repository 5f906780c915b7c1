"""k-means: the raw-pixel baseline of the deep clustering papers, and the centre initialiser
of DEC / IDEC / DCEC / GAPDCEC (k-means with 20 restarts on the embedded points, DEC Sec. 3.2).

Two implementations, same contract (best of ``n_init`` restarts by inertia, seeded):

* ``"sklearn"`` -- :class:`sklearn.cluster.KMeans` (k-means++ seeding, Lloyd, ``tol`` on centre
  shift), what the DEC / IDEC / DCEC reference code calls.
* ``"faiss"`` -- :class:`faiss.Kmeans` with ``nredo = n_init`` (faiss keeps the restart with the
  lowest objective) and ``max_points_per_centroid`` large enough that every point is used
  (faiss subsamples to 256 points per centroid by default); random seeding, ``max_iter`` Lloyd
  iterations without early stop. Much faster on large raw-pixel data.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .base import ClusteringResult, check_inputs, score_labels

IMPLEMENTATIONS = ("sklearn", "faiss")


@dataclass
class KMeansConfig:
    """k-means hyperparameters. n_init=20 restarts as in the DEC, IDEC, DCEC and GAPDCEC papers."""

    n_init: int = 20
    max_iter: int = 300
    tol: float = 1e-4
    implementation: str = "sklearn"


@dataclass
class KMeansFit:
    """labels (n,), centres (K, d), inertia (sum of squared distances to the nearest centre)."""

    labels: np.ndarray
    centres: np.ndarray
    inertia: float
    n_iter: int


def kmeans(features: np.ndarray, n_clusters: int, *, seed: int, n_init: int = 20,
           max_iter: int = 300, tol: float = 1e-4, implementation: str = "sklearn") -> KMeansFit:
    """Best of ``n_init`` k-means runs on ``features`` (n, d)."""
    features = np.ascontiguousarray(np.asarray(features, dtype=np.float32).reshape(len(features), -1))
    if implementation not in IMPLEMENTATIONS:
        raise ValueError(f"unknown k-means implementation {implementation!r}; expected one of {IMPLEMENTATIONS}")
    if n_init < 1:
        raise ValueError(f"n_init must be >= 1, got {n_init}")
    if implementation == "faiss":
        return _faiss_kmeans(features, n_clusters, seed=seed, n_init=n_init, max_iter=max_iter)
    from sklearn.cluster import KMeans as SKLearnKMeans

    km = SKLearnKMeans(n_clusters=n_clusters, n_init=n_init, max_iter=max_iter, tol=tol, random_state=seed)
    labels = km.fit_predict(features)
    return KMeansFit(labels.astype(np.int64), km.cluster_centers_.astype(np.float32),
                     float(km.inertia_), int(km.n_iter_))


def _faiss_kmeans(features: np.ndarray, n_clusters: int, *, seed: int, n_init: int,
                  max_iter: int) -> KMeansFit:
    import faiss

    n, d = features.shape
    km = faiss.Kmeans(d, n_clusters, niter=max_iter, nredo=n_init, seed=int(seed) % (2**31),
                      max_points_per_centroid=n // n_clusters + 1, min_points_per_centroid=1,
                      verbose=False)
    km.train(features)
    squared_distance, nearest = km.index.search(features, 1)
    return KMeansFit(nearest[:, 0].astype(np.int64), km.centroids.copy(),
                     float(squared_distance.sum()), max_iter)


class KMeans:
    """k-means baseline on raw pixels (x (n, ...) flattened to (n, d)), a :class:`Clusterer`.

    history holds a single row (k-means has no epochs); loss is the inertia.
    """

    def __init__(self, n_clusters: int, cfg: KMeansConfig | None = None, *, verbose: int = 0):
        self.n_clusters, self.cfg, self.verbose = n_clusters, cfg or KMeansConfig(), verbose

    def fit(self, x: np.ndarray, *, seed: int, y: np.ndarray | None = None) -> ClusteringResult:
        cfg = self.cfg
        x = check_inputs(x, self.n_clusters, y)
        start = time.perf_counter()
        fit = kmeans(x.reshape(len(x), -1), self.n_clusters, seed=seed, n_init=cfg.n_init,
                     max_iter=cfg.max_iter, tol=cfg.tol, implementation=cfg.implementation)
        seconds = time.perf_counter() - start
        acc, nmi = score_labels(y, fit.labels)
        if self.verbose:
            print(f"k-means ({cfg.implementation}, n_init={cfg.n_init}): inertia {fit.inertia:.4g}, "
                  f"acc {acc}, nmi {nmi}, {seconds:.1f}s")
        row = {"iteration": fit.n_iter, "epoch": None, "acc": acc, "nmi": nmi,
               "loss": fit.inertia, "delta_label": None}
        return ClusteringResult(
            labels=fit.labels, history=[row], timings={"pretrain_s": 0.0, "cluster_s": seconds},
            info={"inertia": fit.inertia, "n_iter": fit.n_iter,
                  "implementation": cfg.implementation, "n_init": cfg.n_init, "seed": seed})
