"""DQN's product quantization with block-diagonal codebooks (Cao et al., AAAI 2016).

DQN quantizes the bottleneck representation ``z`` (n, D) with ``C = diag(C_1, ..., C_M)``:
subspace m holds K codewords of D/M dims, and item i is ``C h_i`` where ``h_i`` is one-hot
within each of the M blocks (slides Eq. 4). With C fixed and block-diagonal, both
alternating updates split per subspace and have closed forms:

* :func:`update_codes`: the nearest codeword of each sub-vector (exact argmin; ties go to
  the lowest index, as ``np.argmin``);
* :func:`update_codebooks`: the least-squares codebooks, i.e. the mean of the sub-vectors
  assigned to each codeword.

Codebooks are ``(M, K, D/M)`` float32 and codes ``(n, M)`` uint8 (uint16 for K > 256), the
layout of :class:`~repro.quantization.ProductQuantizer`, so ``ProductQuantizer.from_codebooks``
gives the AQD (slides Eq. 5) through M x K look-up tables.

Retrieval helpers: :func:`eq6_bound_fraction` checks the slides' error bound (Eq. 6) pair by
pair; :func:`faiss_index_pq` builds a ``faiss.IndexPQ`` holding exactly given codebooks and
codes (for search timings); :func:`fast_asymmetric_distances` is a quicker AQD scan (merged
look-up tables, see its docstring).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .product_quantizer import (
    MAX_CODEWORDS,
    ProductQuantizer,
    _check_count,
    _check_matrix,
    _squared_distances,
    check_codebooks,
    check_codes,
    code_dtype,
)

_CHUNK_ELEMENTS = 1 << 22  # bound on the (queries x items) entries of one chunk's temporaries
EQ6_RTOL = 1e-5
_SCAN_ELEMENTS = 1 << 18  # one scan block: 1 MiB of float32 (a few queries), about L2-sized
_MERGED_TABLE_LIMIT = 1 << 12  # at most 4096 entries per merged look-up table (16 KiB float32)


def _check_z(z, n_subspaces: int | None = None, dim: int | None = None, name: str = "z") -> np.ndarray:
    array = _check_matrix(name, z, dim)
    if n_subspaces is not None and array.shape[1] % n_subspaces:
        raise ValueError(f"{name} has D={array.shape[1]} dimensions, not divisible by M={n_subspaces}")
    return array


def _check_rows(z: np.ndarray, codes: np.ndarray) -> None:
    if codes.shape[0] != z.shape[0]:
        raise ValueError(f"z has {z.shape[0]} rows but codes has {codes.shape[0]} (shapes {z.shape}, {codes.shape})")


def _check_pair(z, codebooks, codes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    books = check_codebooks(codebooks)
    n_subspaces, n_codewords, sub_dim = books.shape
    z = _check_z(z, dim=n_subspaces * sub_dim)
    codes = check_codes(codes, n_subspaces, n_codewords)
    _check_rows(z, codes)
    return z, books, codes


def decode(codebooks, codes) -> np.ndarray:
    """``(n, M)`` codes -> ``(n, D)`` float32 ``C h`` (concatenated codewords)."""
    return ProductQuantizer.from_codebooks(codebooks).decode(codes)


def update_codes(z, codebooks) -> np.ndarray:
    """The code step: ``(n, D)`` -> ``(n, M)`` codes, the nearest codeword per subspace.

    With C block-diagonal, ``min_h ||z - C h||^2`` splits into M independent
    ``argmin_k ||z_m - C_m[k]||^2``, so this is the exact minimiser (squared distances in
    float64; ties to the lowest index). Same result as ``ProductQuantizer.encode``.
    """
    books = check_codebooks(codebooks)
    z = _check_z(z, dim=books.shape[0] * books.shape[2])
    return ProductQuantizer.from_codebooks(books).encode(z)


def update_codebooks(z, codes, n_codewords: int, previous=None) -> np.ndarray:
    """The codebook step: least-squares ``C`` for fixed codes, ``(M, K, D/M)`` float32.

    ``min_C sum_i ||z_i - C h_i||^2`` with block-diagonal C and one-hot blocks ``h_im``
    decouples into one problem per (subspace m, codeword k) whose solution is the mean of
    the sub-vectors ``z_im`` with ``codes[i, m] == k`` (computed in float64).

    A codeword no item uses does not enter the loss, so it has no least-squares value: it
    keeps its value in ``previous`` (an ``(M, K, D/M)`` array, e.g. the codebooks before the
    step). With ``previous=None`` an empty codeword is a ValueError.
    """
    n_codewords = _check_count("n_codewords", n_codewords, 1, MAX_CODEWORDS)
    codes = np.asarray(codes)
    if codes.ndim != 2:
        raise ValueError(f"codes must be an (n, M) array of codeword indices, got shape {codes.shape}")
    n_subspaces = codes.shape[1]
    codes = check_codes(codes, n_subspaces, n_codewords)
    z = _check_z(z, n_subspaces=n_subspaces)
    _check_rows(z, codes)
    n, dim = z.shape
    sub_dim = dim // n_subspaces
    if previous is not None:
        previous = check_codebooks(previous, "previous")
        if previous.shape != (n_subspaces, n_codewords, sub_dim):
            raise ValueError(
                f"previous must have shape (M, K, D/M) = {(n_subspaces, n_codewords, sub_dim)}, got {previous.shape}"
            )
    from scipy import sparse

    # slot m*K + codes[i, m] collects sub-vector (i, m): one sparse (M*K, n*M) one-hot product
    slots = (np.arange(n_subspaces) * n_codewords + codes.astype(np.int64)).ravel()
    counts = np.bincount(slots, minlength=n_subspaces * n_codewords)
    assign = sparse.csr_matrix(
        (np.ones(slots.size), (slots, np.arange(slots.size))), shape=(n_subspaces * n_codewords, slots.size)
    )
    sums = assign @ z.reshape(n * n_subspaces, sub_dim).astype(np.float64)
    empty = counts == 0
    if empty.any() and previous is None:
        m, k = divmod(int(np.flatnonzero(empty)[0]), n_codewords)
        raise ValueError(
            f"{int(empty.sum())} codewords have no assigned item (first: subspace {m}, codeword {k}); "
            "pass previous= codebooks to keep their values"
        )
    means = sums / np.maximum(counts, 1)[:, None]
    books = means.reshape(n_subspaces, n_codewords, sub_dim).astype(np.float32)
    if empty.any():
        keep = empty.reshape(n_subspaces, n_codewords)
        books[keep] = previous[keep]
    return books


def quantization_loss(z, codebooks, codes, reduction: str = "sum") -> float:
    """DQN's quantization loss (slides Eq. 4), ``sum_i ||z_i - C h_i||^2`` in float64.

    ``reduction="sum"`` is Eq. 4 as printed; ``"mean"`` divides by n (the value of
    ``ProductQuantizer.quantization_error`` when the codes are the nearest codewords).
    """
    if reduction not in ("sum", "mean"):
        raise ValueError(f"reduction must be 'sum' or 'mean', got {reduction!r}")
    z, books, codes = _check_pair(z, codebooks, codes)
    residual = z.astype(np.float64) - decode(books, codes)
    total = float(np.einsum("nd,nd->", residual, residual))
    return total / z.shape[0] if reduction == "mean" else total


class Eq6Check(NamedTuple):
    """Fractions of (query, item) pairs satisfying the slides' Eq. 6 bound under three readings.

    euclidean:    ``| ||z_q - C h_x|| - ||z_q - z_x|| | <= ||z_x - C h_x|| + eps``
                  (AQD square-rooted; holds by the triangle inequality, so 1.0);
    squared:      ``| ||z_q - C h_x||^2 - ||z_q - z_x|| | <= ||z_x - C h_x|| + eps``
                  (Eq. 5's AQD literally, against Eq. 6's unsquared d; need not hold);
    squared_both: ``| ||z_q - C h_x||^2 - ||z_q - z_x||^2 | <= ||z_x - C h_x|| + eps``
                  (both distances squared; need not hold either).
    max_excess_*: the largest ``lhs - (rhs + eps)`` over the pairs (<= 0 when all hold).
    """

    euclidean: float
    squared: float
    squared_both: float
    n_pairs: int
    max_excess_euclidean: float
    max_excess_squared: float
    max_excess_squared_both: float


def eq6_bound_fraction(zq, z, codebooks, codes, *, rtol: float = EQ6_RTOL) -> Eq6Check:
    """Check the error bound of the DQN slides (Eq. 6) on every (query, item) pair.

    Args:
        zq: ``(nq, D)`` query representations ``z'_q`` (not quantized: the AQD is asymmetric).
        z: ``(n, D)`` item representations ``z'_x``; codes: ``(n, M)`` their codes;
            codebooks ``(M, K, D/M)``.
        rtol: the float-rounding allowance. Per pair
            ``eps = rtol * (||z_q|| + ||z_x|| + ||C h_x||)``: the distances are computed in
            float64 by the expansion ``|a|^2 - 2<a,b> + |b|^2``, whose absolute error after the
            square root is at most about ``1e-8 * (|a| + |b|)``, so 1e-5 is a wide margin.
    Queries are processed in chunks (at most ~4M pairs of float64 temporaries at a time), so
    1000 x 64000 pairs run in modest memory.
    """
    z, books, codes = _check_pair(z, codebooks, codes)
    zq = _check_z(zq, dim=z.shape[1], name="zq")
    if not (isinstance(rtol, (float, int)) and np.isfinite(rtol) and rtol >= 0):
        raise ValueError(f"rtol must be a finite number >= 0, got {rtol!r}")
    items = z.astype(np.float64)
    decoded = decode(books, codes).astype(np.float64)
    error = np.sqrt(np.einsum("nd,nd->n", items - decoded, items - decoded))  # ||z_x - C h_x||
    item_scale = np.linalg.norm(items, axis=1) + np.linalg.norm(decoded, axis=1)
    query_scale = np.linalg.norm(zq.astype(np.float64), axis=1)
    counts = np.zeros(3, dtype=np.int64)
    excess = np.full(3, -np.inf)
    item_sq = np.einsum("nd,nd->n", items, items)
    decoded_sq = np.einsum("nd,nd->n", decoded, decoded)
    step = max(1, _CHUNK_ELEMENTS // z.shape[0])
    for start in range(0, zq.shape[0], step):
        queries = zq[start:start + step].astype(np.float64)
        true = _squared_distances(queries, items, item_sq)      # squared for now
        aqd = _squared_distances(queries, decoded, decoded_sq)  # Eq. 5: sum_m ||z_qm - C_m h_xm||^2
        bound = np.add(query_scale[start:start + step, None], item_scale[None, :])
        bound *= rtol
        bound += error[None, :]
        gap = np.empty_like(bound)
        for j in (2, 1, 0):   # |aqd^2 - d^2|; then d = sqrt: |aqd^2 - d|; then |aqd - d|
            if j == 1:
                np.sqrt(true, out=true)
            elif j == 0:
                np.sqrt(aqd, out=aqd)
            np.subtract(aqd, true, out=gap)
            np.abs(gap, out=gap)
            gap -= bound
            counts[j] += int(np.count_nonzero(gap <= 0))
            excess[j] = max(excess[j], float(gap.max()))
    n_pairs = zq.shape[0] * z.shape[0]
    fractions = counts / n_pairs
    return Eq6Check(float(fractions[0]), float(fractions[1]), float(fractions[2]), n_pairs,
                    float(excess[0]), float(excess[1]), float(excess[2]))


def _nbits_for(n_codewords: int) -> int:
    nbits = int(n_codewords).bit_length() - 1
    if n_codewords < 2 or 1 << nbits != n_codewords or nbits > 16:
        raise ValueError(f"faiss IndexPQ needs K = 2^nbits codewords (2 <= K <= 65536), got K={n_codewords}")
    return nbits


def pack_codes(codes, nbits: int) -> np.ndarray:
    """``(n, M)`` codes -> ``(n, ceil(M * nbits / 8))`` uint8 in faiss' PQ layout: code m
    occupies bits ``[m * nbits, (m + 1) * nbits)`` of the row, least significant bit first."""
    codes = np.asarray(codes)
    if codes.ndim != 2:
        raise ValueError(f"codes must be an (n, M) array, got shape {codes.shape}")
    if not 1 <= nbits <= 16:
        raise ValueError(f"nbits must be in [1, 16], got {nbits}")
    n, n_subspaces = codes.shape
    bit_positions = np.arange(nbits)
    bits = ((codes.astype(np.uint32)[:, :, None] >> bit_positions) & 1).astype(np.uint8)  # (n, M, nbits)
    bits = bits.reshape(n, n_subspaces * nbits)
    return np.packbits(bits, axis=1, bitorder="little")


def faiss_index_pq(codebooks, codes):
    """A ``faiss.IndexPQ`` (L2, plain ADC search) holding exactly these codebooks and codes.

    The ``(M, K, D/M)`` codebooks are copied into ``index.pq.centroids`` (``K = 2^nbits``,
    e.g. K = 16 -> 4 bits) and the decoded vectors ``C h`` are added: each sub-vector equals
    its codeword, so faiss re-encodes it to the same code. Should two codewords of a subspace
    coincide (a tie faiss may break differently), the stored codes are overwritten with the
    given ones, so the index always holds ``codes``. ``index.search(queries, k)`` returns the
    squared AQD (Eq. 5) of the k nearest items.
    """
    import faiss

    books = check_codebooks(codebooks)
    n_subspaces, n_codewords, sub_dim = books.shape
    codes = check_codes(codes, n_subspaces, n_codewords)
    nbits = _nbits_for(n_codewords)
    index = faiss.IndexPQ(n_subspaces * sub_dim, n_subspaces, nbits)
    faiss.copy_array_to_vector(books.ravel(), index.pq.centroids)
    index.is_trained = True
    index.add(np.ascontiguousarray(decode(books, codes)))
    packed = pack_codes(codes, nbits)
    stored = faiss.vector_to_array(index.codes).reshape(codes.shape[0], index.pq.code_size)
    if not np.array_equal(stored, packed):
        faiss.copy_array_to_vector(packed.ravel(), index.codes)
    return index


def merged_tables(tables: np.ndarray, group: int) -> np.ndarray:
    """``(nq, M, K)`` ADC tables -> ``(nq, ceil(M/group), K^group)``: entry ``[q, g, j]`` is the
    sum of the tables of subspaces ``g*group ..`` at the codes whose mixed-radix number
    (first subspace least significant) is j. A missing last subspace contributes 0."""
    nq, n_subspaces, n_codewords = tables.shape
    n_groups = -(-n_subspaces // group)
    padded = np.zeros((nq, n_groups * group, n_codewords), dtype=tables.dtype)
    padded[:, :n_subspaces] = tables
    padded = padded.reshape(nq, n_groups, group, n_codewords)
    out = padded[:, :, 0]
    for j in range(1, group):  # outer sum: new subspace varies slowest (more significant)
        out = (padded[:, :, j, :, None] + out[:, :, None, :]).reshape(nq, n_groups, -1)
    return out


def merged_codes(codes: np.ndarray, n_codewords: int, group: int) -> np.ndarray:
    """``(n, M)`` codes -> ``(n_groups, n)`` indices into :func:`merged_tables` (uint8/uint16)."""
    n, n_subspaces = codes.shape
    n_groups = -(-n_subspaces // group)
    out = np.zeros((n_groups, n), dtype=np.int64)
    for m in range(n_subspaces):
        g, j = divmod(m, group)
        out[g] += codes[:, m].astype(np.int64) * n_codewords**j
    return out.astype(code_dtype(n_codewords**group))


def merge_group(n_subspaces: int, n_codewords: int) -> int:
    """How many subspaces :func:`fast_asymmetric_distances` merges into one table: the most
    whose joint table has at most 4096 entries (K=16 -> 3, K=256 -> 1)."""
    group = 1
    while group < n_subspaces and n_codewords ** (group + 1) <= _MERGED_TABLE_LIMIT:
        group += 1
    return group


def _merged_inputs(quantizer: ProductQuantizer, queries, codes, group, prepared):
    """Checked (queries, codes, group, prepared) of a merged-table scan (see
    :func:`fast_asymmetric_distances`)."""
    n_subspaces, n_codewords, _ = quantizer._fitted_codebooks().shape
    codes = check_codes(codes, n_subspaces, n_codewords)
    queries = _check_matrix("queries", queries, quantizer.dim)
    group = merge_group(n_subspaces, n_codewords) if group is None else int(group)
    if not 1 <= group <= n_subspaces or n_codewords**group > 1 << 16:
        raise ValueError(f"group must be in [1, M={n_subspaces}] with K^group <= 65536, got {group}")
    expected = (-(-n_subspaces // group), codes.shape[0])
    if prepared is None:
        prepared = merged_codes(codes, n_codewords, group)
    elif prepared.shape != expected:
        raise ValueError(f"prepared has shape {prepared.shape}, expected {expected}")
    return queries, codes, group, prepared


def fast_asymmetric_distances(quantizer: ProductQuantizer, queries, codes, *, group: int | None = None,
                              prepared: np.ndarray | None = None) -> np.ndarray:
    """The squared AQD (Eq. 5) ``(nq, n)`` float32, as ``quantizer.asymmetric_distances`` but
    with fewer look-ups.

    ``ProductQuantizer.asymmetric_distances`` does M gathers + adds per (query, item) pair,
    each a pass over an ``(chunk, n)`` float32 block. Here ``group`` subspaces share one
    table of ``K^group`` entries (their sums over every code combination, built per query:
    cheap for small K), so a pair costs ``ceil(M / group)`` look-ups: K = 16, M = 12 ->
    tables of 4096 entries (16 KiB, in L1 cache) and 4 look-ups instead of 12. Sums are
    regrouped, so values can differ from the plain ADC in the last float32 bits. Queries go
    in chunks of about 2^18 (query, item) pairs (4 queries x 64000 items: a 1 MiB block that
    stays in L2 cache across the look-up passes).

    ``prepared``: the output of :func:`merged_codes` for these codes and ``group`` (reuse
    it across calls on the same database).
    """
    queries, codes, group, prepared = _merged_inputs(quantizer, queries, codes, group, prepared)
    n, n_codewords = codes.shape[0], quantizer.codebooks.shape[1]
    out = np.empty((queries.shape[0], n), dtype=np.float32)
    step = max(1, _SCAN_ELEMENTS // max(n, n_codewords**group))
    for start in range(0, queries.shape[0], step):
        _merged_scan(quantizer, queries[start:start + step], prepared, group, out[start:start + step])
    return out


def _merged_scan(quantizer: ProductQuantizer, queries: np.ndarray, prepared: np.ndarray, group: int,
                 out: np.ndarray) -> None:
    """``out[q, i] = sum_g merged_table[q, g, prepared[g, i]]`` for checked inputs."""
    tables = merged_tables(quantizer.distance_tables(queries), group)
    np.take(tables[:, 0], prepared[0], axis=1, out=out)
    for g in range(1, prepared.shape[0]):
        out += np.take(tables[:, g], prepared[g], axis=1)


def _top_k_block(block: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k smallest entries of each row, ascending, ties to the lower index (as ``rank``)."""
    rows, n = block.shape
    if k < n:
        candidates = np.argpartition(block, k - 1, axis=1)[:, :k]
        kth = np.take_along_axis(block, candidates, axis=1).max(axis=1)[:, None]
        if np.count_nonzero(block <= kth) != rows * k:
            # items tied with the k-th value: argpartition keeps arbitrary ones, take the
            # lowest indices among them instead
            tied = block == kth
            need = k - np.count_nonzero(block < kth, axis=1)[:, None]
            chosen = (block < kth) | (tied & (np.cumsum(tied, axis=1) <= need))
            candidates = np.nonzero(chosen)[1].reshape(rows, k)
    else:
        candidates = np.broadcast_to(np.arange(n), block.shape)
    values = np.take_along_axis(block, candidates, axis=1)
    order = np.lexsort((candidates, values), axis=1)
    return np.take_along_axis(values, order, axis=1), np.take_along_axis(candidates, order, axis=1).astype(np.int64)


def aqd_search(quantizer: ProductQuantizer, queries, codes, k: int, *, rows_per_chunk: int = 4,
               n_threads: int = 1, group: int | None = None, prepared: np.ndarray | None = None):
    """Top-k AQD search, the numpy counterpart of ``faiss.IndexPQ.search``.

    Returns ``(distances (nq, k) float32 squared AQD, indices (nq, k) int64)``, ascending,
    ties broken by the lower database index (the order of :func:`repro.metrics.rank`).
    The distances of a chunk of ``rows_per_chunk`` queries are computed with merged
    look-up tables (:func:`fast_asymmetric_distances`), reduced to their top k and dropped,
    so the (nq, n) matrix never exists; small chunks keep the block in cache.
    ``n_threads > 1`` spreads the chunks over a thread pool (numpy's take and partition
    release the GIL).
    """
    queries, codes, group, prepared = _merged_inputs(quantizer, queries, codes, group, prepared)
    n = codes.shape[0]
    k = _check_count("k", k, 1, n)
    distances = np.empty((queries.shape[0], k), dtype=np.float32)
    indices = np.empty((queries.shape[0], k), dtype=np.int64)
    rows_per_chunk = max(1, int(rows_per_chunk))

    def run(start: int) -> None:
        rows = slice(start, start + rows_per_chunk)
        chunk = queries[rows]
        block = np.empty((chunk.shape[0], n), dtype=np.float32)
        _merged_scan(quantizer, chunk, prepared, group, block)
        distances[rows], indices[rows] = _top_k_block(block, k)

    starts = range(0, queries.shape[0], rows_per_chunk)
    if n_threads > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=int(n_threads)) as pool:
            list(pool.map(run, starts))
    else:
        for start in starts:
            run(start)
    return distances, indices
