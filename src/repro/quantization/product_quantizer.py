"""Product quantization (Jegou et al. 2011, ref. [20] of the PQDEC paper).

A vector ``x`` in R^D is cut into M sub-vectors of ``D / M`` dimensions; sub-vector m is
replaced by the index of its nearest codeword among the L codewords of subspace m, so
``x`` becomes the code ``z = h(x)`` in {0..L-1}^M (PQDEC Eq. 1 and 3, 0-based here).
The PQDEC paper uses M = 4 parts of 8 bits (L = 256): 32-bit codes.

Codebooks are one array ``(M, L, D/M)`` float32. Codes are ``(n, M)`` uint8 (uint16 when
L > 256). Distances are squared Euclidean: the asymmetric distance (ADC) between a raw
query and a code, and the symmetric distance (SDC) between two codes, are sums over the
M subspaces of per-subspace table look-ups. Distance tables are computed in float64 and
stored as float32.
"""

from __future__ import annotations

import numpy as np

MAX_CODEWORDS = 1 << 16  # codes are stored as uint16 at most
_CHUNK_ELEMENTS = 1 << 22  # bound on the temporaries of one chunk (about 32 MB of float64)
_MAX_SYMMETRIC_TABLE = 1 << 28  # M * L * L float32 entries (1 GiB)


def code_dtype(n_codewords: int) -> np.dtype:
    """uint8 for L <= 256 codewords, else uint16 (L <= 65536)."""
    return np.dtype(np.uint8 if n_codewords <= 256 else np.uint16)


def check_codes(codes, n_subspaces: int, n_codewords: int, name: str = "codes") -> np.ndarray:
    """Return ``codes`` as an ``(n, M)`` integer array of indices in ``[0, L)``; else ValueError."""
    array = np.asarray(codes)
    if array.ndim != 2 or array.shape[1] != n_subspaces:
        raise ValueError(f"{name} must be an (n, M={n_subspaces}) array of PQ codes, got shape {array.shape}")
    if array.shape[0] == 0:
        raise ValueError(f"{name} is empty (shape {array.shape})")
    if array.dtype.kind not in "ui":
        raise ValueError(
            f"{name} must hold integer codeword indices (uint8 / uint16), got dtype {array.dtype}"
        )
    low, high = int(array.min()), int(array.max())
    if low < 0 or high >= n_codewords:
        raise ValueError(
            f"{name} holds codeword indices in [{low}, {high}], outside [0, L={n_codewords})"
        )
    return array


def check_codebooks(codebooks, name: str = "codebooks") -> np.ndarray:
    """``codebooks`` as a non-empty, finite ``(M, L, D/M)`` float32 array; else ValueError."""
    array = np.asarray(codebooks)
    if array.ndim != 3 or 0 in array.shape:
        raise ValueError(f"{name} must be a non-empty (M, L, D/M) array, got shape {array.shape}")
    if array.dtype.kind not in "iuf" or not np.isfinite(array).all():
        raise ValueError(f"{name} must hold finite real numbers (dtype {array.dtype})")
    if array.shape[1] > MAX_CODEWORDS:
        raise ValueError(f"{name} has L={array.shape[1]} codewords per subspace, more than {MAX_CODEWORDS}")
    return np.ascontiguousarray(array, dtype=np.float32)


def _check_count(name: str, value, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < low or (high is not None and value > high):
        bound = f"in [{low}, {high}]" if high is not None else f">= {low}"
        raise ValueError(f"{name} must be {bound}, got {value}")
    return int(value)


def _check_matrix(name: str, x, dim: int | None = None, fitted: str = "the quantizer") -> np.ndarray:
    """x as a non-empty, finite, real (n, d) array; d = ``dim`` (what ``fitted`` was fitted on)."""
    array = np.asarray(x)
    if array.ndim != 2 or 0 in array.shape:
        raise ValueError(f"{name} must be a non-empty 2-D (n, d) array (flatten images first), "
                         f"got shape {array.shape}")
    if array.dtype.kind not in "iuf":
        raise ValueError(f"{name} must hold real numbers, got dtype {array.dtype}")
    if dim is not None and array.shape[1] != dim:
        raise ValueError(f"{name} has {array.shape[1]} dimensions, {fitted} was fitted on D={dim}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} holds NaN or infinite values")
    return array


def _squared_distances(a: np.ndarray, b: np.ndarray, b_sq: np.ndarray | None = None) -> np.ndarray:
    """``(..., n, d)`` x ``(..., k, d)`` -> ``(..., n, k)`` squared distances, float64, >= 0.
    ``b_sq``: the rows' squared norms of ``b`` when the caller has them (a loop over chunks of
    ``a`` against one ``b``), else computed here."""
    a = a.astype(np.float64, copy=False)
    b = b.astype(np.float64, copy=False)
    out = a @ np.swapaxes(b, -1, -2)
    out *= -2.0
    out += np.einsum("...nd,...nd->...n", a, a)[..., :, None]
    out += (np.einsum("...kd,...kd->...k", b, b) if b_sq is None else b_sq)[..., None, :]
    return np.maximum(out, 0.0, out=out)


def _rows_per_chunk(row_cost: int) -> int:
    return max(1, _CHUNK_ELEMENTS // max(1, row_cost))


class ProductQuantizer:
    """M codebooks of L codewords each, learned by k-means on the D/M-dim sub-vectors.

    Attributes:
        n_subspaces: M.  n_codewords: L.
        codebooks: ``(M, L, D/M)`` float32, ``None`` before :meth:`fit`.
    """

    def __init__(self, n_subspaces: int = 4, n_codewords: int = 256):
        self.n_subspaces = _check_count("n_subspaces", n_subspaces, 1)
        self.n_codewords = _check_count("n_codewords", n_codewords, 1, MAX_CODEWORDS)
        self.codebooks: np.ndarray | None = None
        self._symmetric_tables: np.ndarray | None = None

    @classmethod
    def from_codebooks(cls, codebooks) -> ProductQuantizer:
        """A fitted quantizer from an ``(M, L, D/M)`` array of codewords."""
        array = check_codebooks(codebooks)
        quantizer = cls(array.shape[0], array.shape[1])
        quantizer.codebooks = array
        return quantizer

    @property
    def dim(self) -> int:
        """D, the dimension of the vectors the codes stand for."""
        codebooks = self._fitted_codebooks()
        return codebooks.shape[0] * codebooks.shape[2]

    @property
    def code_dtype(self) -> np.dtype:
        return code_dtype(self.n_codewords)

    def _fitted_codebooks(self) -> np.ndarray:
        if self.codebooks is None:
            raise ValueError("this ProductQuantizer is not fitted: call fit(x) or use from_codebooks()")
        return self.codebooks

    def _split(self, x: np.ndarray) -> np.ndarray:
        """``(n, D)`` -> ``(n, M, D/M)`` sub-vectors (a view)."""
        return x.reshape(x.shape[0], self.n_subspaces, -1)

    def fit(self, x, *, seed: int = 0, n_iter: int = 25) -> ProductQuantizer:
        """Learn the codebooks: k-means (faiss, all points, random seeding) per subspace.

        Args:
            x: ``(n, D)`` training vectors, D divisible by M, n >= L.
            seed: subspace m uses seed ``seed + m``.
            n_iter: Lloyd iterations of each k-means.

        faiss sums in parallel, so the codebooks are reproducible for a seed and a thread count
        (OMP_NUM_THREADS), not across thread counts.
        """
        x = _check_matrix("x", x)
        n_iter = _check_count("n_iter", n_iter, 1)
        n, dim = x.shape
        if dim % self.n_subspaces:
            raise ValueError(
                f"x has D={dim} dimensions, not divisible by n_subspaces M={self.n_subspaces}"
            )
        if n < self.n_codewords:
            raise ValueError(f"x has {n} vectors, fewer than n_codewords L={self.n_codewords}")
        subvectors = self._split(np.asarray(x, dtype=np.float32))
        self.codebooks = np.stack([
            _kmeans_codebook(subvectors[:, m], self.n_codewords, seed=seed + m, n_iter=n_iter)
            for m in range(self.n_subspaces)
        ])
        self._symmetric_tables = None
        return self

    def encode(self, x) -> np.ndarray:
        """``(n, D)`` vectors -> ``(n, M)`` codes: nearest codeword per subspace (PQDEC Eq. 3)."""
        codebooks = self._fitted_codebooks()
        x = _check_matrix("x", x, self.dim)
        codes = np.empty((x.shape[0], self.n_subspaces), dtype=self.code_dtype)
        step = _rows_per_chunk(self.n_subspaces * self.n_codewords)
        for start in range(0, x.shape[0], step):
            rows = self._split(x[start:start + step]).transpose(1, 0, 2)  # (M, c, D/M)
            codes[start:start + step] = _squared_distances(rows, codebooks).argmin(axis=2).T
        return codes

    def decode(self, codes) -> np.ndarray:
        """``(n, M)`` codes -> ``(n, D)`` float32 reconstructions (concatenated codewords)."""
        codebooks = self._fitted_codebooks()
        codes = check_codes(codes, self.n_subspaces, self.n_codewords)
        return codebooks[np.arange(self.n_subspaces), codes].reshape(codes.shape[0], -1)

    def quantization_error(self, x) -> float:
        """Mean over the n vectors of ``||x - decode(encode(x))||^2`` (PQDEC Eq. 4 divided by n)."""
        x = _check_matrix("x", x, self.dim)
        residual = x.astype(np.float64) - self.decode(self.encode(x))
        return float(np.einsum("nd,nd->", residual, residual) / x.shape[0])

    def distance_tables(self, queries) -> np.ndarray:
        """``(nq, D)`` -> ``(nq, M, L)`` float32: squared distance from each query sub-vector
        to each codeword of its subspace (the ADC look-up tables)."""
        codebooks = self._fitted_codebooks()
        queries = _check_matrix("queries", queries, self.dim)
        tables = _squared_distances(self._split(queries).transpose(1, 0, 2), codebooks)
        return tables.transpose(1, 0, 2).astype(np.float32)

    def asymmetric_distances(self, queries, codes) -> np.ndarray:
        """ADC: ``(nq, n)`` float32 approximate squared distances between raw queries ``(nq, D)``
        and coded vectors ``(n, M)``: ``sum_m table[q, m, codes[i, m]]`` (exact squared
        distances to the decoded vectors), in chunks of queries."""
        codes = check_codes(codes, self.n_subspaces, self.n_codewords)
        queries = _check_matrix("queries", queries, self.dim)
        out = np.empty((queries.shape[0], codes.shape[0]), dtype=np.float32)
        step = _rows_per_chunk(max(codes.shape[0], self.n_subspaces * self.n_codewords))
        for start in range(0, queries.shape[0], step):
            tables = self.distance_tables(queries[start:start + step])
            block = out[start:start + step]
            np.take(tables[:, 0], codes[:, 0], axis=1, out=block)
            for m in range(1, self.n_subspaces):
                block += np.take(tables[:, m], codes[:, m], axis=1)
        return out

    def symmetric_distance_tables(self) -> np.ndarray:
        """SDC tables ``(M, L, L)`` float32: squared distances between the codewords of each
        subspace (zero diagonal). Computed once and cached."""
        codebooks = self._fitted_codebooks()
        if self._symmetric_tables is None:
            entries = self.n_subspaces * self.n_codewords**2
            if entries > _MAX_SYMMETRIC_TABLE:
                raise ValueError(
                    f"symmetric tables of M={self.n_subspaces} x L={self.n_codewords}^2 = {entries} "
                    f"entries exceed the limit of {_MAX_SYMMETRIC_TABLE}"
                )
            tables = _squared_distances(codebooks, codebooks)
            tables[:, np.arange(self.n_codewords), np.arange(self.n_codewords)] = 0.0
            self._symmetric_tables = tables.astype(np.float32)
        return self._symmetric_tables

    def __repr__(self) -> str:
        state = "fitted" if self.codebooks is not None else "not fitted"
        return f"ProductQuantizer(n_subspaces={self.n_subspaces}, n_codewords={self.n_codewords}, {state})"


def _kmeans_codebook(subvectors: np.ndarray, n_codewords: int, *, seed: int, n_iter: int) -> np.ndarray:
    """``(n, d)`` float32 -> ``(L, d)`` k-means centroids (faiss; every point used, no subsampling)."""
    import faiss

    n, dim = subvectors.shape
    kmeans = faiss.Kmeans(dim, n_codewords, niter=int(n_iter), nredo=1, seed=int(seed) % (2**31),
                          max_points_per_centroid=n // n_codewords + 1, min_points_per_centroid=1,
                          verbose=False)
    kmeans.train(np.ascontiguousarray(subvectors))
    return kmeans.centroids.copy()
