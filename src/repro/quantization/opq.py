"""Optimized product quantization, non-parametric version (Ge et al., CVPR 2013).

OPQ minimises ``sum_i ||x_i R - c(x_i R)||^2`` over an orthogonal ``R`` (D x D) and PQ
codebooks in the rotated space (row-vector convention: the rotated data is ``x @ R``).
The non-parametric algorithm alternates

(a) R fixed: PQ codebooks and codes of ``x R`` (k-means per subspace), and
(b) codebooks and codes fixed: ``R = argmin ||X R - Y||_F`` over orthogonal R, with
    ``Y`` the decoded codes, i.e. orthogonal Procrustes: ``U S V^T = svd(X^T Y)``,
    ``R = U V^T``.

Readings chosen here (the paper leaves the inner schedule open):

* Initialisation ``init="identity"`` (default): R = I, so the first step (a) is exactly
  plain PQ (``ProductQuantizer.fit`` with the same seed, faiss k-means). Every later step
  lowers or keeps the error, so OPQ's final error is at most plain PQ's for that seed.
  ``init="eigenvalue_allocation"``: R from the paper's parametric solution (PCA
  directions dealt to the M subspaces so that the products of their eigenvalues balance,
  Ge et al. Sec. 4.2), then the same alternation.
* Step (a) after the first outer iteration: ``inner_iter`` Lloyd steps warm-started from
  the previous codebooks (the old codebooks are still valid in the new rotated space), via
  :func:`~repro.quantization.dqn_codes.update_codes` and ``update_codebooks`` (an empty
  codeword keeps its value). The warm start keeps the error monotone.
* A fixed number ``n_iter`` of outer iterations (no convergence test); ``error_history``
  records the mean squared error after each outer iteration.
"""

from __future__ import annotations

import numpy as np

from .dqn_codes import update_codebooks, update_codes
from .product_quantizer import ProductQuantizer, _check_count, _check_matrix

INITS = ("identity", "eigenvalue_allocation")


def procrustes_rotation(x, y) -> np.ndarray:
    """The orthogonal ``R`` (D x D, float64) minimising ``||x R - y||_F``: ``U V^T`` from
    ``svd(x^T y)``."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 2:
        raise ValueError(f"x and y must be (n, D) arrays of the same shape, got {x.shape} and {y.shape}")
    u, _, vt = np.linalg.svd(x.T @ y)
    return u @ vt


def eigenvalue_allocation(x, n_subspaces: int) -> np.ndarray:
    """Parametric OPQ init (Ge et al.): an orthogonal ``R`` (D x D, float64) whose column
    block m holds the principal directions dealt to subspace m.

    Eigenvalues in descending order go one by one to the subspace with the smallest product
    of its eigenvalues so far (sum of logs), among those not yet full (D/M each).
    """
    x = np.asarray(x, dtype=np.float64)
    dim = x.shape[1]
    sub_dim = dim // n_subspaces
    centred = x - x.mean(axis=0)
    eigenvalues, vectors = np.linalg.eigh(centred.T @ centred / max(1, x.shape[0] - 1))
    order = np.argsort(eigenvalues)[::-1]
    floor = max(float(eigenvalues.max()), 1.0) * 1e-12  # log of a zero eigenvalue
    log_products = np.zeros(n_subspaces)
    buckets: list[list[int]] = [[] for _ in range(n_subspaces)]
    for j in order:
        open_ = [m for m in range(n_subspaces) if len(buckets[m]) < sub_dim]
        m = min(open_, key=lambda b: (log_products[b], b))
        buckets[m].append(int(j))
        log_products[m] += np.log(max(float(eigenvalues[j]), floor))
    return vectors[:, [j for bucket in buckets for j in bucket]]


class OPQ:
    """Non-parametric OPQ: an orthogonal rotation + a ProductQuantizer in the rotated space.

    Attributes (after :meth:`fit`):
        rotation: ``(D, D)`` float64 orthogonal R; the quantized vector is ``x @ R``.
        pq: the :class:`ProductQuantizer` fitted on ``x @ R``.
        error_history: mean squared quantization error after each outer iteration
            (index 0: after the initial PQ fit).
    """

    def __init__(self) -> None:
        self.rotation: np.ndarray | None = None
        self.pq: ProductQuantizer | None = None
        self.error_history: list[float] = []

    def fit(self, x, n_subspaces: int, n_codewords: int, seed: int = 0, n_iter: int = 10, *,
            inner_iter: int = 1, init: str = "identity", kmeans_iter: int = 25) -> OPQ:
        """Learn R and the codebooks.

        Args:
            x: ``(n, D)`` training vectors, D divisible by M, n >= K.
            n_subspaces: M.  n_codewords: K.
            seed: seeds the initial k-means (subspace m: ``seed + m``, as ProductQuantizer).
            n_iter: outer iterations, each a Procrustes step then ``inner_iter`` Lloyd steps.
            init: ``"identity"`` or ``"eigenvalue_allocation"``.
            kmeans_iter: Lloyd iterations of the initial faiss k-means.
        """
        x = _check_matrix("x", x)
        n_subspaces = _check_count("n_subspaces", n_subspaces, 1)
        n_codewords = _check_count("n_codewords", n_codewords, 1)
        n_iter = _check_count("n_iter", n_iter, 0)
        inner_iter = _check_count("inner_iter", inner_iter, 1)
        if init not in INITS:
            raise ValueError(f"unknown init={init!r}; expected one of {INITS}")
        n, dim = x.shape
        if dim % n_subspaces:
            raise ValueError(f"x has D={dim} dimensions, not divisible by n_subspaces M={n_subspaces}")
        if n < n_codewords:
            raise ValueError(f"x has {n} vectors, fewer than n_codewords K={n_codewords}")
        data = x.astype(np.float64)
        rotation = np.eye(dim) if init == "identity" else eigenvalue_allocation(data, n_subspaces)
        rotated = (data @ rotation).astype(np.float32)
        pq = ProductQuantizer(n_subspaces, n_codewords).fit(rotated, seed=seed, n_iter=kmeans_iter)
        codes = pq.encode(rotated)
        history = [pq.quantization_error(rotated)]
        for _ in range(n_iter):
            rotation = procrustes_rotation(data, pq.decode(codes))
            rotated = (data @ rotation).astype(np.float32)
            codebooks = pq.codebooks
            for _ in range(inner_iter):
                codes = update_codes(rotated, codebooks)
                codebooks = update_codebooks(rotated, codes, n_codewords, previous=codebooks)
            pq = ProductQuantizer.from_codebooks(codebooks)
            codes = pq.encode(rotated)
            history.append(pq.quantization_error(rotated))
        self.rotation, self.pq, self.error_history = rotation, pq, history
        return self

    def _fitted(self) -> tuple[np.ndarray, ProductQuantizer]:
        if self.rotation is None or self.pq is None:
            raise ValueError("this OPQ is not fitted: call fit(x, n_subspaces, n_codewords)")
        return self.rotation, self.pq

    def rotate(self, x) -> np.ndarray:
        """``(n, D)`` -> ``x @ R`` float32."""
        rotation, _ = self._fitted()
        x = _check_matrix("x", x, rotation.shape[0])
        return (x.astype(np.float64) @ rotation).astype(np.float32)

    def encode(self, x) -> np.ndarray:
        """``(n, D)`` -> ``(n, M)`` codes of the rotated vectors."""
        return self._fitted()[1].encode(self.rotate(x))

    def decode(self, codes) -> np.ndarray:
        """``(n, M)`` codes -> ``(n, D)`` float32 reconstructions in the original space (``Y R^T``)."""
        rotation, pq = self._fitted()
        return (pq.decode(codes).astype(np.float64) @ rotation.T).astype(np.float32)

    def asymmetric_distances(self, queries, codes) -> np.ndarray:
        """``(nq, n)`` float32 squared ADC: the queries are rotated, then PQ look-up tables.
        R is orthogonal, so these are the squared distances to :meth:`decode` as well."""
        return self._fitted()[1].asymmetric_distances(self.rotate(queries), codes)

    def quantization_error(self, x) -> float:
        """Mean over the n vectors of ``||x R - decode_R(encode(x))||^2`` (= the error in the
        original space, R being orthogonal)."""
        return self._fitted()[1].quantization_error(self.rotate(x))

    def __repr__(self) -> str:
        if self.pq is None:
            return "OPQ(not fitted)"
        return f"OPQ(n_subspaces={self.pq.n_subspaces}, n_codewords={self.pq.n_codewords}, fitted)"
