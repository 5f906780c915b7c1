"""PQ k-means (Matsui et al., ACM MM 2017; ref. [22] of the PQDEC paper, its Sec. III-C).

k-means run directly on PQ codes, with the product-code constraint on the centres: every
centre is itself a PQ code ``(M,)``, and the objective (PQDEC Eq. 6) is the summed
symmetric distance (SDC) between each code and its centre,
``SDC(a, b) = sum_m T_m[a_m, b_m]`` with ``T = ProductQuantizer.symmetric_distance_tables()``.

* Assignment: nearest centre by SDC, computed as M gathers of an ``(L, K)`` table per chunk
  of codes (no loop over points). Ties go to the lowest centre index.
* Update ("sparse voting" of the paper): for cluster k and subspace m, with ``h`` the
  histogram ``(L,)`` of the members' codewords, the new codeword is
  ``argmin_l sum_l' h[l'] T_m[l', l]``, the codeword of least summed squared distance to the
  members' codewords: one ``(K, L) @ (L, L)`` product per subspace.
* Empty clusters keep their previous centre (as the reference implementation does).
* Initialisation: K random data codes with distinct values (seeded), as pqkmeans picks K
  random data codes; unlike pqkmeans (fixed seed 0, duplicates possible) the seed is ours and
  duplicates are skipped.
* ``n_iter`` counts assignment steps; an update runs between two of them (so 10 iterations
  = 10 assignments, 9 updates, as in pqkmeans); the loop stops early when the assignment
  does not change.
"""

from __future__ import annotations

import numpy as np

from ._lloyd import random_distinct_rows, run_lloyd
from .product_quantizer import ProductQuantizer, _check_count, check_codes

_CHUNK_ELEMENTS = 1 << 22


def symmetric_distances_to_centres(tables: np.ndarray, codes: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """``(n, K)`` float32 SDC between codes ``(n, M)`` and centres ``(K, M)``.

    ``tables``: ``(M, L, L)`` codeword-to-codeword squared distances.
    """
    n_subspaces = tables.shape[0]
    per_subspace = [tables[m][:, centres[:, m]] for m in range(n_subspaces)]  # each (L, K)
    out = np.empty((codes.shape[0], centres.shape[0]), dtype=np.float32)
    step = max(1, _CHUNK_ELEMENTS // centres.shape[0])
    for start in range(0, codes.shape[0], step):
        block = out[start:start + step]
        np.take(per_subspace[0], codes[start:start + step, 0], axis=0, out=block)
        for m in range(1, n_subspaces):
            block += per_subspace[m][codes[start:start + step, m]]
    return out


def assign_to_centres(tables: np.ndarray, codes: np.ndarray,
                      centres: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest centre of every code by SDC: labels ``(n,)`` int64 and their distances ``(n,)``."""
    distances = symmetric_distances_to_centres(tables, codes, centres)
    labels = distances.argmin(axis=1)
    return labels, distances[np.arange(codes.shape[0]), labels]


def update_centres(tables: np.ndarray, codes: np.ndarray, labels: np.ndarray,
                   centres: np.ndarray) -> np.ndarray:
    """Sparse-voting update: new centres ``(K, M)`` from the members of each cluster.

    Per subspace m: ``hist (K, L)`` counts the members' codewords, ``votes = hist @ T_m`` is the
    summed squared distance of each candidate codeword to the members' codewords, and the new
    codeword is its argmin (lowest index on ties). Empty clusters keep their centre.
    """
    n_clusters = centres.shape[0]
    n_subspaces, n_codewords, _ = tables.shape
    empty = np.bincount(labels, minlength=n_clusters) == 0
    new_centres = np.empty_like(centres)
    for m in range(n_subspaces):
        flat = labels * n_codewords + codes[:, m]
        hist = np.bincount(flat, minlength=n_clusters * n_codewords).reshape(n_clusters, n_codewords)
        votes = hist.astype(np.float64) @ tables[m].astype(np.float64)
        new_centres[:, m] = votes.argmin(axis=1)
    new_centres[empty] = centres[empty]
    return new_centres


class PQKMeans:
    """k-means on PQ codes with PQ-code centres (see the module docstring).

    Args:
        quantizer: a fitted :class:`ProductQuantizer`, or its ``(M, L, D/M)`` codebooks.
        n_clusters: K.
        n_iter: at most this many assignment steps (pqkmeans' ``iteration``).
        seed: seed of the random initial centres.

    After :meth:`fit`: ``labels_ (n,)`` int64, ``centres_ (K, M)`` codes (dtype of the input
    codes), ``initial_centres_ (K, M)``, ``n_iter_`` assignment steps run, and
    ``objective_history_`` (summed SDC to the assigned centres after each assignment).
    """

    def __init__(self, quantizer, n_clusters: int, *, n_iter: int = 10, seed: int = 0):
        if not isinstance(quantizer, ProductQuantizer):
            quantizer = ProductQuantizer.from_codebooks(quantizer)
        self.quantizer = quantizer
        self.tables = quantizer.symmetric_distance_tables()  # (M, L, L); raises if not fitted
        self.n_clusters = _check_count("n_clusters", n_clusters, 1)
        self.n_iter, self.seed = _check_count("n_iter", n_iter, 1), seed

    def _check(self, codes, name: str = "codes") -> np.ndarray:
        return check_codes(codes, self.quantizer.n_subspaces, self.quantizer.n_codewords, name)

    def fit(self, codes, *, init_centres=None) -> PQKMeans:
        """Cluster ``codes (n, M)``; ``init_centres (K, M)`` replaces the random initialisation."""
        codes = self._check(codes)
        if init_centres is None:
            centres = codes[random_distinct_rows(codes, self.n_clusters, self.seed)]
        else:
            centres = self._check(init_centres, "init_centres").astype(codes.dtype)
            if centres.shape[0] != self.n_clusters:
                raise ValueError(
                    f"init_centres has {centres.shape[0]} rows, expected n_clusters={self.n_clusters}"
                )
        self.initial_centres_ = centres.copy()
        result = run_lloyd(
            lambda c: assign_to_centres(self.tables, codes, c),
            lambda labels, c: update_centres(self.tables, codes, labels, c),
            centres, self.n_iter,
        )
        self.labels_, self.centres_ = result.labels, result.centres
        self.objective_history_, self.n_iter_ = result.objective_history, result.n_iter
        return self

    def predict(self, codes) -> np.ndarray:
        """Nearest fitted centre (SDC) of each code ``(n, M)`` -> labels ``(n,)`` int64."""
        if not hasattr(self, "centres_"):
            raise ValueError("this PQKMeans is not fitted: call fit(codes) first")
        return assign_to_centres(self.tables, self._check(codes), self.centres_)[0].astype(np.int64)
