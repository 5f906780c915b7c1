"""Hamming distance between binary codes (hash codes of the DQN comparison: KSH, CNNH, DNNH...)."""

from __future__ import annotations

import numpy as np

from ._validation import query_chunks

# float32 sums of +-1 products are exact while n_bits < 2**24.
_MAX_BITS = 1 << 24


def _as_signed_codes(name: str, codes) -> np.ndarray:
    """Map a ``(n, n_bits)`` code array in {0,1} or {-1,+1} (or bool) to +-1 float32.

    Each array is read on its own: one that holds a -1 is taken as +-1 codes,
    otherwise as bits, where 0 -> -1 and 1 -> +1. Mixing 0 and -1 is an error.
    """
    array = np.asarray(codes)
    if array.ndim != 2:
        raise ValueError(f"{name} must be a 2-D (n, n_bits) code array, got shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"{name} is empty (shape {array.shape})")
    if array.dtype == bool:
        return np.where(array, np.float32(1), np.float32(-1))
    if array.dtype.kind not in "iuf":
        raise ValueError(f"{name} must hold numbers 0/1 or -1/+1, got dtype {array.dtype}")
    has_zero, has_minus = (array == 0).any(), (array == -1).any()
    if not np.isin(array, (-1, 0, 1)).all() or (has_zero and has_minus):
        raise ValueError(
            f"{name} (shape {array.shape}) must hold binary codes, either all in {{0, 1}} "
            "or all in {-1, +1}"
        )
    signed = array.astype(np.float32)
    if not has_minus:
        signed = signed * 2 - 1
    return signed


def hamming_distance(query_codes, db_codes) -> np.ndarray:
    """Hamming distances between every query code and every database code.

    Uses ``d(q, x) = (n_bits - <q, x>) / 2`` for +-1 codes: one float32 matrix
    product per chunk of queries (exact, since the inner products are small
    integers).

    Args:
        query_codes: ``(n_q, n_bits)`` codes in {0,1} or {-1,+1} (or bool).
        db_codes: ``(n_db, n_bits)`` codes, same convention or the other one.
    Returns:
        ``(n_q, n_db)`` integer distances in ``[0, n_bits]``; dtype int16
        (int32 beyond 32767 bits), which keeps 1000 x 64000 matrices small and
        lets :func:`rank` use numpy's radix sort.
    """
    query = _as_signed_codes("query_codes", query_codes)
    db = _as_signed_codes("db_codes", db_codes)
    if query.shape[1] != db.shape[1]:
        raise ValueError(
            f"query_codes and db_codes have different code lengths: shapes {query.shape} and {db.shape}"
        )
    n_bits = query.shape[1]
    if n_bits >= _MAX_BITS:
        raise ValueError(f"codes of {n_bits} bits are too long (at most {_MAX_BITS - 1})")
    out_dtype = np.int16 if n_bits <= np.iinfo(np.int16).max else np.int32
    distances = np.empty((query.shape[0], db.shape[0]), dtype=out_dtype)
    db_t = np.ascontiguousarray(db.T)
    for rows in query_chunks(query.shape[0], db.shape[0]):
        inner = query[rows] @ db_t
        inner *= -0.5
        inner += n_bits / 2
        distances[rows] = inner  # exact integers, the cast truncates nothing
    return distances
