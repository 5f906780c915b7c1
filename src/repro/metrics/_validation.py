"""Input checks shared by the metric functions.

Every check raises ``ValueError`` with a message that names the offending
argument and its shape, so a caller sees at once which array is wrong.
"""

from __future__ import annotations

import numbers

import numpy as np


def as_label_vector(name: str, labels) -> np.ndarray:
    """Return ``labels`` as a non-empty 1-D array of integer-like labels.

    Integer, boolean, string and object arrays pass as they are; float arrays
    must hold whole numbers (no NaN), since a label such as 0.5 is a mistake.
    """
    array = np.asarray(labels)
    if array.ndim != 1:
        raise ValueError(f"{name} must be a 1-D label vector, got shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"{name} is empty (shape {array.shape})")
    if array.dtype.kind == "f" and not np.all(np.mod(array, 1) == 0):
        raise ValueError(f"{name} holds non-integer or NaN values; labels must be whole numbers")
    if array.dtype.kind == "c":
        raise ValueError(f"{name} has complex dtype {array.dtype}; labels must be integers")
    return array


def check_same_length(name_a: str, a: np.ndarray, name_b: str, b: np.ndarray) -> None:
    """Raise unless ``a`` and ``b`` have the same number of rows."""
    if a.shape[0] != b.shape[0]:
        raise ValueError(
            f"{name_a} and {name_b} have different lengths: shapes {a.shape} and {b.shape}"
        )


def as_retrieval_labels(query_labels, db_labels) -> tuple[np.ndarray, np.ndarray]:
    """Check a pair of retrieval label arrays and return them as arrays.

    Both must be single-label vectors ``(n,)`` or both multi-hot matrices
    ``(n, C)`` with the same ``C`` and only 0/1 entries (bools are fine).
    """
    query = np.asarray(query_labels)
    db = np.asarray(db_labels)
    for name, array in (("query_labels", query), ("db_labels", db)):
        if array.ndim not in (1, 2):
            raise ValueError(
                f"{name} must be (n,) class labels or (n, C) multi-hot labels, got shape {array.shape}"
            )
        if array.shape[0] == 0 or array.size == 0:
            raise ValueError(f"{name} is empty (shape {array.shape})")
    if query.ndim != db.ndim:
        raise ValueError(
            "query_labels and db_labels must both be (n,) or both be (n, C): "
            f"got shapes {query.shape} and {db.shape}"
        )
    if query.ndim == 2:
        if query.shape[1] != db.shape[1]:
            raise ValueError(
                f"query_labels and db_labels have different numbers of classes: "
                f"shapes {query.shape} and {db.shape}"
            )
        for name, array in (("query_labels", query), ("db_labels", db)):
            if not np.isin(array, (0, 1)).all():
                raise ValueError(f"{name} (shape {array.shape}) must be multi-hot: only 0/1 entries")
    else:
        as_label_vector("query_labels", query)
        as_label_vector("db_labels", db)
    return query, db


def as_ranking(ranking, n_queries: int, n_db: int) -> np.ndarray:
    """Check a ranking ``(n_queries, n_cols)`` of database indices in ``[0, n_db)``."""
    array = np.asarray(ranking)
    if array.ndim != 2:
        raise ValueError(f"ranking must be a 2-D (n_queries, n_cols) index array, got shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"ranking is empty (shape {array.shape})")
    if array.dtype.kind not in "iu":
        raise ValueError(f"ranking must hold integer database indices, got dtype {array.dtype}")
    if array.shape[0] != n_queries:
        raise ValueError(
            f"ranking has {array.shape[0]} rows (shape {array.shape}) but there are {n_queries} queries"
        )
    if array.min() < 0 or array.max() >= n_db:
        raise ValueError(
            f"ranking (shape {array.shape}) holds indices outside [0, {n_db}) for a database of {n_db} items"
        )
    return array


def as_distance_matrix(distances) -> np.ndarray:
    """Check a non-empty 2-D ``(n_queries, n_db)`` real distance matrix without NaN."""
    array = np.asarray(distances)
    if array.ndim != 2:
        raise ValueError(f"distances must be a 2-D (n_queries, n_db) matrix, got shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"distances is empty (shape {array.shape})")
    if array.dtype.kind not in "biuf":
        raise ValueError(f"distances must be real numbers, got dtype {array.dtype}")
    if array.dtype.kind == "f" and np.isnan(array).any():
        raise ValueError(f"distances (shape {array.shape}) contains NaN; its ranking is undefined")
    return array


def as_cutoff(name: str, value, upper: int) -> int:
    """Check one positive integer cutoff no larger than ``upper``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if not 1 <= value <= upper:
        raise ValueError(f"{name}={value} is outside [1, {upper}]")
    return int(value)


def as_cutoffs(name: str, values, upper: int) -> np.ndarray:
    """Check a non-empty 1-D array of positive integer cutoffs no larger than ``upper``."""
    array = np.atleast_1d(np.asarray(values))
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D list of cutoffs, got shape {array.shape}")
    if array.dtype.kind not in "iu":
        raise ValueError(f"{name} must hold integers, got dtype {array.dtype}")
    if array.min() < 1 or array.max() > upper:
        raise ValueError(f"{name} holds values outside [1, {upper}]: min {array.min()}, max {array.max()}")
    return array.astype(np.int64)


def query_chunks(n_queries: int, n_cols: int, max_elements: int = 1 << 22):
    """Yield row slices so that one chunk of an ``(n_queries, n_cols)`` array
    holds at most ``max_elements`` entries (at least one row per chunk)."""
    rows = max(1, max_elements // max(1, n_cols))
    for start in range(0, n_queries, rows):
        yield slice(start, min(start + rows, n_queries))
