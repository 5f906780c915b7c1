"""Ranking a database by distance, and the relevance of ranked items.

Shared by the retrieval metrics (DQN paper: mAP, precision-recall, precision
at top R). Distances can come from any source: Hamming distances of binary
codes (:func:`repro.metrics.hamming_distance`) or asymmetric quantizer
distances from the quantization module.
"""

from __future__ import annotations

import numpy as np

from ._validation import (
    as_cutoff,
    as_distance_matrix,
    as_ranking,
    as_retrieval_labels,
    query_chunks,
)


_LOW_32 = np.uint64(0xFFFFFFFF)


def _small_unsigned(block: np.ndarray) -> np.ndarray | None:
    """The block as uint8/uint16 if it holds small non-negative integers (so a
    stable argsort runs as numpy's radix sort), else None."""
    if block.dtype.kind in "biu" and block.min() >= 0:
        for small in (np.uint8, np.uint16):
            if block.max() <= np.iinfo(small).max:
                return block.astype(small, copy=False)
    return None


def _order_preserving_uint32(block: np.ndarray) -> np.ndarray | None:
    """Map values to uint32 with the same order (equal values -> equal keys),
    or None when that is impossible (float64, integers spanning 2**32)."""
    if block.dtype.kind in "biu":
        shifted = block.astype(np.int64) - block.min()
        return shifted.astype(np.uint32) if shifted.max() <= np.iinfo(np.uint32).max else None
    if block.dtype.itemsize > 4:
        return None
    bits = (block.astype(np.float32) + np.float32(0)).view(np.uint32)  # + 0 turns -0.0 into 0.0
    return np.where(bits >> 31, ~bits, bits | np.uint32(1 << 31))  # IEEE order as unsigned order


def _dense_rank_uint32(block: np.ndarray) -> np.ndarray:
    """Fallback for any real dtype: each value's dense rank within its row
    (equal values share a rank), from one unstable argsort."""
    order = np.argsort(block, axis=1)
    ordered = np.take_along_axis(block, order, axis=1)
    steps = np.zeros(block.shape, dtype=np.uint32)
    steps[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    ranks = np.empty_like(steps)
    np.put_along_axis(ranks, order, np.cumsum(steps, axis=1, dtype=np.uint32), axis=1)
    return ranks


def _rank_block(block: np.ndarray, width: int) -> np.ndarray:
    """First ``width`` indices of each row by (distance, index) ascending.

    Small integers (Hamming distances): stable radix argsort. Otherwise each
    entry becomes the unique uint64 key ``value_key << 32 | index``, so that a
    plain (partition +) sort of the keys gives the stable order exactly.
    """
    small = _small_unsigned(block)
    if small is not None:
        return np.argsort(small, axis=1, kind="stable")[:, :width]
    value_keys = _order_preserving_uint32(block)
    if value_keys is None:
        value_keys = _dense_rank_uint32(block)
    keys = (value_keys.astype(np.uint64) << np.uint64(32)) | np.arange(block.shape[1], dtype=np.uint64)
    if width < block.shape[1]:
        keys = np.partition(keys, width - 1, axis=1)[:, :width]
    return np.sort(keys, axis=1) & _LOW_32


def rank(distances, top: int | None = None) -> np.ndarray:
    """Database indices of each query sorted by ascending distance.

    Ties are broken by database index, lower first (as a stable sort would),
    so the result is deterministic. This matters for Hamming ranking, where
    many items share each distance: mAP@R and precision@R depend on which
    tied items fall inside the top R, and we take the ones stored first. (The
    DeepHash code uses numpy's default, unstable ``argsort``, whose choice
    among ties is arbitrary.)

    Args:
        distances: ``(n_q, n_db)`` real distances (no NaN); ``-0.0 == 0.0``.
        top: keep only the first ``top`` columns (``1 <= top <= n_db``);
            ``None`` ranks the whole database. A partial ranking equals the
            full ranking's first ``top`` columns.
    Returns:
        ``(n_q, top or n_db)`` int32 indices.
    """
    dist = as_distance_matrix(distances)
    n_q, n_db = dist.shape
    if n_db > np.iinfo(np.int32).max:
        raise ValueError(f"distances has {n_db} columns; rank supports databases below 2**31 items")
    width = n_db if top is None else as_cutoff("top", top, n_db)
    ranking = np.empty((n_q, width), dtype=np.int32)
    chunks = list(query_chunks(n_q, n_db))

    def fill(rows):
        ranking[rows] = _rank_block(dist[rows], width)

    if len(chunks) > 1 and _threads() > 1:   # numpy's sorts release the GIL: chunks in threads
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(_threads()) as pool:
            list(pool.map(fill, chunks))   # each chunk writes its own rows: same result
    else:
        for rows in chunks:
            fill(rows)
    return ranking


def _threads() -> int:
    """Threads for :func:`rank`: the CPUs this process may use (at most 8)."""
    import os

    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:   # not on Linux
        available = os.cpu_count() or 1
    return max(1, min(8, available))


def _pack_multi_hot(labels: np.ndarray) -> np.ndarray:
    """``(n, C)`` 0/1 -> ``(n, W)`` uint64 bit sets, ``W = ceil(C / 64)``."""
    n, n_classes = labels.shape
    words = -(-n_classes // 64)
    padded = np.zeros((n, words * 64), dtype=bool)
    padded[:, :n_classes] = labels.astype(bool)
    return np.packbits(padded, axis=1).view(np.uint64)


def _relevance_block(query: np.ndarray, db: np.ndarray, columns: np.ndarray | None) -> np.ndarray:
    """Relevance ``(rows, n_cols)`` of ``db[columns]`` to ``query`` (already checked);
    ``columns=None`` means every database item, in index order.

    Single-label ``query (rows,)``/``db (n_db,)``: equal labels. Multi-label,
    packed as uint64 bit sets ``(rows, W)``/``(n_db, W)``: a shared bit.
    """
    items = db[None] if columns is None else db[columns]
    if query.ndim == 1:
        return items == query[:, None]
    return ((items & query[:, None, :]) != 0).any(axis=2)


def prepare_labels(query_labels, db_labels) -> tuple[np.ndarray, np.ndarray]:
    """Check labels and put them in the form :func:`_relevance_block` expects."""
    query, db = as_retrieval_labels(query_labels, db_labels)
    if query.ndim == 2:
        return _pack_multi_hot(query), _pack_multi_hot(db)
    return query, db


def iter_relevance(query_labels, db_labels, ranking):
    """Yield ``(rows, relevance block)`` over chunks of queries.

    Checks all inputs once; ``rows`` is a slice of query indices and the block
    is the boolean ``(len(rows), n_cols)`` relevance of ``ranking[rows]``.
    """
    query, db = prepare_labels(query_labels, db_labels)
    ranks = as_ranking(ranking, query.shape[0], db.shape[0])
    words = 1 if query.ndim == 1 else query.shape[1]
    for rows in query_chunks(ranks.shape[0], ranks.shape[1] * words):
        yield rows, _relevance_block(query[rows], db, ranks[rows])


def relevance(query_labels, db_labels, ranking) -> np.ndarray:
    """Boolean relevance of each ranked database item to its query.

    An item is relevant when it shares a label with the query: equal class
    for single-label data, at least one common class for multi-label data
    (NUS-WIDE, MIRFlickr), as in the DQN/DeepHash evaluation.

    Args:
        query_labels: ``(n_q,)`` class labels or ``(n_q, C)`` multi-hot 0/1.
        db_labels: ``(n_db,)`` or ``(n_db, C)``, same form as ``query_labels``.
        ranking: ``(n_q, n_cols)`` database indices, e.g. from :func:`rank`.
    Returns:
        ``(n_q, n_cols)`` bool; entry ``[i, k]`` says whether database item
        ``ranking[i, k]`` is relevant to query ``i``.
    """
    blocks = [block for _, block in iter_relevance(query_labels, db_labels, ranking)]
    return np.concatenate(blocks, axis=0)


def relevant_totals(query: np.ndarray, db: np.ndarray) -> np.ndarray:
    """Number of relevant database items per query, ``(n_q,)`` int64.

    Takes labels already passed through :func:`prepare_labels`.
    """
    if query.ndim == 1:
        values, counts = np.unique(db, return_counts=True)
        where = np.clip(np.searchsorted(values, query), 0, len(values) - 1)
        return np.where(values[where] == query, counts[where], 0).astype(np.int64)
    totals = np.empty(query.shape[0], dtype=np.int64)
    for rows in query_chunks(query.shape[0], db.shape[0] * query.shape[1]):
        totals[rows] = _relevance_block(query[rows], db, None).sum(axis=1)
    return totals
