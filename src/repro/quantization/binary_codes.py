"""Binary codes for BQDEC (the binary-quantized predecessor of PQDEC, its ref. [28]).

* :func:`pack_bits`: ``(n, B)`` bits -> ``(n, ceil(B/8))`` uint8 bytes (``np.packbits``
  order: the first bit is the high bit of byte 0; ``np.unpackbits`` inverts it).
* :func:`packed_hamming_distance`: Hamming distances between packed codes, as XOR + popcount
  on 64-bit words (``np.bitwise_count``).
  :func:`repro.metrics.hamming_distance` is the version for unpacked codes.
* :class:`KMajority`: binary k-means ("k-majority"): assign by Hamming distance, centre =
  per-bit majority vote of the members.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from ._lloyd import random_distinct_rows, run_lloyd
from .product_quantizer import _check_count

_CHUNK_ELEMENTS = 1 << 22


def check_bits(bits, name: str = "bits") -> np.ndarray:
    """Return ``bits`` as an ``(n, B)`` uint8 array of 0/1; ValueError for anything else."""
    array = np.asarray(bits)
    if array.ndim != 2 or 0 in array.shape:
        raise ValueError(f"{name} must be a non-empty 2-D (n, n_bits) array, got shape {array.shape}")
    if array.dtype != bool and array.dtype.kind not in "iuf":
        raise ValueError(f"{name} must hold 0/1 bits, got dtype {array.dtype}")
    if array.dtype != bool and not np.isin(array, (0, 1)).all():
        raise ValueError(f"{name} must hold only 0 and 1 (threshold real-valued features first)")
    return array.astype(np.uint8, copy=False)


def pack_bits(bits) -> np.ndarray:
    """``(n, B)`` bits -> ``(n, ceil(B / 8))`` uint8, zero-padded at the end."""
    return np.packbits(check_bits(bits), axis=1)


def _check_packed(name: str, packed) -> np.ndarray:
    array = np.asarray(packed)
    if array.ndim != 2 or 0 in array.shape or array.dtype != np.uint8:
        raise ValueError(
            f"{name} must be a non-empty (n, n_bytes) uint8 array of packed bits, "
            f"got shape {array.shape}, dtype {array.dtype}"
        )
    return array


def _as_words(packed: np.ndarray) -> np.ndarray:
    """``(n, n_bytes)`` uint8 -> ``(n, ceil(n_bytes / 8))`` uint64, zero-padded (XOR-neutral)."""
    n, n_bytes = packed.shape
    padded = np.zeros((n, -(-n_bytes // 8) * 8), dtype=np.uint8)
    padded[:, :n_bytes] = packed
    return padded.view(np.uint64)


def packed_hamming_distance(query_packed, db_packed) -> np.ndarray:
    """``(n_q, n_db)`` Hamming distances between packed codes ``(n_q, n_bytes)``, ``(n_db, n_bytes)``.

    Integer dtype int16 (int32 beyond 32767 bits), as :func:`repro.metrics.hamming_distance`.
    """
    query = _check_packed("query_packed", query_packed)
    db = _check_packed("db_packed", db_packed)
    if query.shape[1] != db.shape[1]:
        raise ValueError(f"query_packed and db_packed have different code lengths: {query.shape}, {db.shape}")
    out_dtype = np.int16 if 8 * query.shape[1] <= np.iinfo(np.int16).max else np.int32
    query_words, db_words = _as_words(query), _as_words(db)
    out = np.empty((query.shape[0], db.shape[0]), dtype=out_dtype)
    step = max(1, _CHUNK_ELEMENTS // db.shape[0])
    for start in range(0, query.shape[0], step):
        block = out[start:start + step]
        block[...] = 0
        for word in range(query_words.shape[1]):
            block += np.bitwise_count(query_words[start:start + step, word, None] ^ db_words[None, :, word])
    return out


def member_bit_counts(bits: np.ndarray, labels: np.ndarray, n_clusters: int) -> tuple[np.ndarray, np.ndarray]:
    """Per cluster: how many members have each bit set ``(K, B)``, and the cluster sizes ``(K,)``."""
    n = bits.shape[0]
    membership = sparse.csr_matrix(
        (np.ones(n, dtype=np.int32), (labels, np.arange(n))), shape=(n_clusters, n))
    return np.asarray(membership @ bits.astype(np.int32)), np.bincount(labels, minlength=n_clusters)


def majority_centres(bits: np.ndarray, labels: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """k-majority update: each centre bit is the majority bit of the members ``(K, B)`` uint8.

    A tie (exactly half the members set) and an empty cluster keep the previous bit, which
    never increases the summed Hamming distance.
    """
    counts, sizes = member_bit_counts(bits, labels, centres.shape[0])
    twice = 2 * counts
    majority = np.where(twice > sizes[:, None], 1, 0).astype(np.uint8)
    return np.where(twice == sizes[:, None], centres, majority)


def assign_by_hamming(packed: np.ndarray, centres: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest centre ``(K, B)`` bits of each packed code: labels ``(n,)`` and distances ``(n,)``."""
    distances = packed_hamming_distance(packed, np.packbits(centres, axis=1))
    labels = distances.argmin(axis=1)
    return labels, distances[np.arange(packed.shape[0]), labels]


class KMajority:
    """Binary k-means (k-majority) on ``(n, B)`` bit codes; the Lloyd loop of :class:`PQKMeans`.

    Initial centres: K random data codes with distinct values (seeded). ``n_iter`` counts
    assignment steps; stops early when the assignment does not change. Ties in the assignment
    go to the lowest centre index. After :meth:`fit`: ``labels_ (n,)`` int64,
    ``centres_ (K, B)`` uint8 bits, ``n_iter_``, ``objective_history_`` (summed Hamming
    distance to the assigned centres after each assignment).
    """

    def __init__(self, n_clusters: int, *, n_iter: int = 10, seed: int = 0):
        self.n_clusters = _check_count("n_clusters", n_clusters, 1)
        self.n_iter, self.seed = _check_count("n_iter", n_iter, 1), seed

    def fit(self, bits, *, init_centres=None) -> KMajority:
        """Cluster ``bits (n, B)`` in {0, 1}; ``init_centres (K, B)`` replaces the random start."""
        bits = check_bits(bits)
        packed = np.packbits(bits, axis=1)
        if init_centres is None:
            centres = bits[random_distinct_rows(packed, self.n_clusters, self.seed)]
        else:
            centres = check_bits(init_centres, "init_centres")
            if centres.shape != (self.n_clusters, bits.shape[1]):
                expected = (self.n_clusters, bits.shape[1])
                raise ValueError(f"init_centres must have shape {expected}, got {centres.shape}")
        result = run_lloyd(lambda c: assign_by_hamming(packed, c),
                           lambda labels, c: majority_centres(bits, labels, c), centres, self.n_iter)
        self.labels_, self.centres_ = result.labels, result.centres
        self.objective_history_, self.n_iter_ = result.objective_history, result.n_iter
        return self

    def predict(self, bits) -> np.ndarray:
        """Nearest fitted centre (Hamming) of each code ``(n, B)`` -> labels ``(n,)`` int64."""
        if not hasattr(self, "centres_"):
            raise ValueError("this KMajority is not fitted: call fit(bits) first")
        bits = check_bits(bits)
        if bits.shape[1] != self.centres_.shape[1]:
            raise ValueError(f"bits have {bits.shape[1]} bits per code, the centres {self.centres_.shape[1]}")
        return assign_by_hamming(np.packbits(bits, axis=1), self.centres_)[0].astype(np.int64)
