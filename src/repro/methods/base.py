"""The method contract (issue 21) and the value every clustering method returns.

Every method the papers run is an estimator of one of three kinds. Its settings, the number
of clusters and any shared input (a pretrained autoencoder, a trunk) come through the
constructor; ``fit`` takes the data and the seed only:

- :class:`Clusterer`: ``fit(x, *, seed, y=None) -> ClusteringResult``; ``y`` only scores the
  history (monitoring), it never changes the labels.
- :class:`Retriever`: ``fit(x, y, *, seed) -> Index`` (``y``: the training labels the
  supervised hashing methods learn from); the index encodes items and ranks a database.
- :class:`FeatureLearner`: ``fit(x, *, seed, y=None) -> keras.Model`` whose layers a probe
  reads.

A paper module lists its methods as a table ``ESTIMATORS = {name: factory(cell) -> estimator}``
and the runner's one cell function (:func:`repro.papers.runner.fit_cell`) does fit -> record.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np


@dataclass
class ClusteringResult:
    """Outcome of one clustering run.

    Attributes:
        labels: (n,) int cluster index per sample.
        history: one row per target-distribution update (or per epoch for methods
            without one): ``{"iteration": int, "epoch": float, "acc": float | None,
            "nmi": float | None, "loss": float, "delta_label": float | None}``;
            methods may add keys (e.g. ``"clustering_loss"``, ``"reconstruction_loss"``).
            acc / nmi are computed with true labels only for monitoring, never for training.
        timings: seconds, ``{"pretrain_s": ..., "cluster_s": ...}``.
        info: free-form facts, e.g. ``{"n_updates": ..., "stopped_by": "tol" | "max_iter",
            "initial_acc": ...}``.
    """

    labels: np.ndarray
    history: list[dict] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    info: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        labels = np.asarray(self.labels)
        if labels.ndim != 1:
            raise ValueError(f"labels must be 1-D (n,), got shape {labels.shape}")
        if labels.size and not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(f"labels must be integers, got dtype {labels.dtype}")
        self.labels = labels.astype(np.int64, copy=False)

    @property
    def n_clusters_found(self) -> int:
        """Number of distinct cluster indices actually used."""
        return int(np.unique(self.labels).size)


def score_labels(y_true: np.ndarray | None, labels: np.ndarray) -> tuple[float | None, float | None]:
    """(ACC, NMI) of ``labels`` against ``y_true`` for monitoring; (None, None) without labels.

    True labels are only ever used to report progress, never to train.
    """
    if y_true is None:
        return None, None
    from repro.metrics import clustering_scores  # local: keeps this module importable on its own

    scores = clustering_scores(y_true, labels, metrics=("acc", "nmi"))
    return scores["acc"], scores["nmi"]


def check_inputs(x: np.ndarray, n_clusters: int, y: np.ndarray | None = None) -> np.ndarray:
    """Validate (n, ...) float data, K and optional (n,) labels; return x as float32."""
    x = np.asarray(x)
    if x.ndim < 2 or x.shape[0] < 1:
        raise ValueError(f"x must hold samples along axis 0 with shape (n, ...), got {x.shape}")
    if not np.issubdtype(x.dtype, np.number):
        raise ValueError(f"x must be numeric, got dtype {x.dtype}")
    if not np.isfinite(x).all():
        raise ValueError(f"x holds {int(np.size(x) - np.isfinite(x).sum())} NaN or infinite "
                         f"values; every value must be finite")
    if int(n_clusters) != n_clusters or not 1 <= n_clusters <= x.shape[0]:
        raise ValueError(f"n_clusters must be an integer in [1, n={x.shape[0]}], got {n_clusters!r}")
    if y is not None and np.asarray(y).shape != (x.shape[0],):
        raise ValueError(f"y must have shape ({x.shape[0]},) to match x, got {np.asarray(y).shape}")
    return x.astype(np.float32, copy=False)


@runtime_checkable
class Clusterer(Protocol):
    """Constructed with its settings, ``n_clusters`` and shared inputs; deterministic given
    ``seed``; ``y`` scores the history only."""

    def fit(self, x: np.ndarray, *, seed: int, y: np.ndarray | None = None) -> ClusteringResult:
        ...


@runtime_checkable
class Index(Protocol):
    """What a retrieval method's ``fit`` returns: codes for items, a ranking of a database."""

    def encode(self, x: np.ndarray) -> Any:
        ...

    def rank(self, queries: Any, database: Any) -> np.ndarray:
        """(n_queries, n_database) database indices, best first."""
        ...


@runtime_checkable
class Retriever(Protocol):
    def fit(self, x: np.ndarray, y: np.ndarray, *, seed: int) -> Index:
        ...


@runtime_checkable
class FeatureLearner(Protocol):
    def fit(self, x: np.ndarray, *, seed: int, y: np.ndarray | None = None) -> Any:
        ...
