"""Retrieval metrics of the DQN paper: mAP@R, precision-recall, precision at top R.

The DQN slides evaluate with "MAPs, Precision-Recall Curve, Precision Top-R
Curve"; the definitions follow the authors' DeepHash code (thulab/DeepHash),
with the one difference, about queries without relevant results, made
explicit by ``queries_without_relevant``. Relevance: a database item is
relevant to a query when they share a label (see :func:`relevance`).
Queries are processed in chunks so memory stays bounded for 1000 x 64000.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._validation import as_cutoff, as_cutoffs, as_distance_matrix, query_chunks
from .ranking import _relevance_block, iter_relevance, prepare_labels, relevant_totals

QUERY_CONVENTIONS = ("zero", "drop")


class PrecisionRecall(NamedTuple):
    """A curve: ``precision[j]`` and ``recall[j]`` (means over queries) at ``thresholds[j]``."""

    thresholds: np.ndarray
    precision: np.ndarray
    recall: np.ndarray


def _ranking_width(ranking) -> int:
    shape = np.shape(ranking)
    if len(shape) != 2:
        raise ValueError(f"ranking must be a 2-D (n_queries, n_cols) index array, got shape {shape}")
    return shape[1]


def _average_precision_block(rel: np.ndarray) -> np.ndarray:
    """AP of each row of a ``(rows, R)`` relevance block; NaN for rows without a hit.

    Only the hits are visited: the k-th hit of a row at 0-based column c
    contributes precision ``k / (c + 1)``.
    """
    rows, cols = np.nonzero(rel)
    hits = rel.sum(axis=1)
    first_hit = np.cumsum(hits) - hits  # position in `rows` of each row's first hit
    ordinal = np.arange(1, rows.size + 1) - first_hit[rows]
    sums = np.bincount(rows, weights=ordinal / (cols + 1.0), minlength=rel.shape[0])
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(hits > 0, sums / hits, np.nan)


def average_precisions(query_labels, db_labels, ranking, *, R: int | None = None) -> np.ndarray:
    """AP@R of each query: ``sum_{k<=R} P(k) rel(k) / sum_{k<=R} rel(k)``.

    ``P(k)`` is the precision of the first k ranked items and ``rel(k)`` the
    relevance of the k-th. Args as in :func:`mean_average_precision`.
    Returns ``(n_q,)`` floats, NaN where the top R holds no relevant item.
    """
    width = _ranking_width(ranking)
    cut = width if R is None else as_cutoff("R", R, width)
    ranks = np.asarray(ranking)[:, :cut]
    result = np.empty(ranks.shape[0])
    for rows, rel in iter_relevance(query_labels, db_labels, ranks):
        result[rows] = _average_precision_block(rel)
    return result


def mean_average_precision(
    query_labels, db_labels, ranking, *, R: int | None = None, queries_without_relevant: str = "zero"
) -> float:
    """mAP@R, the DQN paper's retrieval criterion (DQN/DeepHash definition).

    For each query ``AP@R = sum_{k<=R} P(k) rel(k) / (number of relevant
    items in the top R)``, averaged over queries. A query whose top R holds no
    relevant item has no defined AP:

    * ``"zero"`` (default) counts it as AP 0, the honest mean over all queries;
    * ``"drop"`` leaves it out of the mean, as the thulab/DeepHash code does
      (``if rel != 0: APx.append(...)``); this can only raise the result and
      inflates it when R is small or labels are rare. Returns NaN if every
      query is dropped.

    Args:
        query_labels: ``(n_q,)`` class labels or ``(n_q, C)`` multi-hot.
        db_labels: ``(n_db,)`` or ``(n_db, C)``, same form.
        ranking: ``(n_q, n_cols)`` database indices by ascending distance
            (:func:`rank`); only the first R columns are read.
        R: cutoff, ``1 <= R <= n_cols``; ``None`` uses all ``n_cols`` columns
            (the full ranking if ``n_cols == n_db``).
        queries_without_relevant: ``"zero"`` or ``"drop"``, see above.
    """
    if queries_without_relevant not in QUERY_CONVENTIONS:
        raise ValueError(
            f"unknown queries_without_relevant={queries_without_relevant!r}; "
            f"expected one of {QUERY_CONVENTIONS}"
        )
    ap = average_precisions(query_labels, db_labels, ranking, R=R)
    if queries_without_relevant == "zero":
        return float(np.nan_to_num(ap, nan=0.0).mean())
    kept = ap[~np.isnan(ap)]
    return float(kept.mean()) if kept.size else float("nan")


def _hits_at_cutoffs(query_labels, db_labels, ranking, Rs) -> tuple[np.ndarray, np.ndarray]:
    """``(cutoffs (m,), hits (n_q, m))``: relevant items among the first R, per cutoff."""
    cutoffs = as_cutoffs("Rs", Rs, _ranking_width(ranking))
    ranks = np.asarray(ranking)[:, : cutoffs.max()]
    hits = np.empty((ranks.shape[0], cutoffs.size), dtype=np.int64)
    for rows, rel in iter_relevance(query_labels, db_labels, ranks):
        hits[rows] = np.cumsum(rel, axis=1, dtype=np.int64)[:, cutoffs - 1]
    return cutoffs, hits


def precision_at_top(query_labels, db_labels, ranking, Rs) -> np.ndarray:
    """Precision at top R (the DQN "Precision Top-R Curve").

    Mean over queries of ``#relevant among the first R / R`` for each R in
    ``Rs`` (1-D, each ``1 <= R <= n_cols``), returned as ``(len(Rs),)`` in
    the order given. Labels and ranking as in :func:`mean_average_precision`.
    """
    cutoffs, hits = _hits_at_cutoffs(query_labels, db_labels, ranking, Rs)
    return (hits / cutoffs).mean(axis=0)


def precision_recall_at_top(query_labels, db_labels, ranking, Rs) -> PrecisionRecall:
    """Rank-based precision-recall curve: precision and recall of the first R items.

    Recall at R is ``#relevant among the first R / #relevant in the database``
    (0 for a query with no relevant item in the database). Means over queries;
    ``thresholds`` holds the cutoffs ``Rs``.
    """
    cutoffs, hits = _hits_at_cutoffs(query_labels, db_labels, ranking, Rs)
    query, db = prepare_labels(query_labels, db_labels)
    totals = relevant_totals(query, db)[:, None]
    recall = np.divide(hits, totals, out=np.zeros(hits.shape), where=totals > 0)
    return PrecisionRecall(cutoffs, (hits / cutoffs).mean(axis=0), recall.mean(axis=0))


def _as_radii(radii, dist: np.ndarray) -> np.ndarray:
    if radii is None:
        if dist.dtype.kind not in "biu":
            raise ValueError(
                f"distances have dtype {dist.dtype}: pass radii explicitly for non-integer distances"
            )
        return np.arange(max(int(dist.max()), 0) + 1)
    array = np.atleast_1d(np.asarray(radii))
    if array.ndim != 1 or array.size == 0 or array.dtype.kind not in "biuf":
        raise ValueError(f"radii must be a non-empty 1-D array of numbers, got shape {array.shape}")
    if not np.all(np.isfinite(array)) or np.any(np.diff(array) <= 0):
        raise ValueError("radii must be finite and strictly increasing")
    return array


def _first_radius_index(dist: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """Index of the first radius ``>= distance`` for each entry (``len(radii)`` if none).

    Integer distances over a modest range go through a lookup table, which is
    an order of magnitude faster than ``np.searchsorted`` on every entry.
    """
    if dist.dtype.kind in "biu":
        low, high = int(dist.min()), int(dist.max())
        if high - low < 1 << 20:
            table = np.searchsorted(radii, np.arange(low, high + 1))
            return table[dist.astype(np.intp) - low]
    return np.searchsorted(radii, dist)


def _within_radii_block(dist: np.ndarray, rel: np.ndarray, radii: np.ndarray):
    """``(retrieved, relevant retrieved)``, each ``(rows, n_radii)``: items with
    ``distance <= radii[j]``, counted by one histogram per row."""
    rows, n_radii = dist.shape[0], radii.size
    first_radius = _first_radius_index(dist, radii)  # item retrieved from radii[first_radius] on
    flat = (np.arange(rows)[:, None] * (n_radii + 1) + first_radius).ravel()
    size = rows * (n_radii + 1)
    retrieved = np.bincount(flat, minlength=size).reshape(rows, n_radii + 1)
    relevant = np.bincount(flat[rel.ravel()], minlength=size).reshape(rows, n_radii + 1)
    return retrieved.cumsum(axis=1)[:, :n_radii], relevant.cumsum(axis=1)[:, :n_radii]


def precision_recall_curve(query_labels, db_labels, distances, *, radii=None) -> PrecisionRecall:
    """Precision-recall by distance radius (the DQN "Precision-Recall Curve").

    At radius r a query retrieves every database item with ``distance <= r``
    (Hamming ball lookup). Per query, precision = relevant retrieved /
    retrieved, recall = relevant retrieved / relevant in the database; both
    are averaged over queries. Conventions (those of DeepHash's
    ``get_precision_recall_by_Hamming_Radius``): a query that retrieves
    nothing at radius r has precision 0 and recall 0 there (not skipped), so
    precision at small radii is pulled down by empty Hamming balls; a query
    with no relevant item in the database has recall 0.

    Args:
        query_labels, db_labels: as in :func:`mean_average_precision`.
        distances: ``(n_q, n_db)``, e.g. :func:`hamming_distance`.
        radii: strictly increasing radii; ``None`` (integer distances only)
            uses ``0..max distance``. Pass ``np.arange(n_bits + 1)`` for the
            full Hamming range 0..n_bits (recall is 1 at ``n_bits``).
    Returns:
        :class:`PrecisionRecall` with ``thresholds = radii``.
    """
    query, db = prepare_labels(query_labels, db_labels)
    dist = as_distance_matrix(distances)
    if dist.shape != (query.shape[0], db.shape[0]):
        raise ValueError(
            f"distances has shape {dist.shape} but there are {query.shape[0]} queries "
            f"and {db.shape[0]} database items"
        )
    radii = _as_radii(radii, dist)
    totals = relevant_totals(query, db)[:, None]
    precision, recall = np.zeros(radii.size), np.zeros(radii.size)
    for rows in query_chunks(dist.shape[0], dist.shape[1] * (1 if query.ndim == 1 else query.shape[1])):
        retrieved, hits = _within_radii_block(dist[rows], _relevance_block(query[rows], db, None), radii)
        precision += np.divide(hits, retrieved, out=np.zeros(hits.shape), where=retrieved > 0).sum(axis=0)
        recall += np.divide(hits, totals[rows], out=np.zeros(hits.shape), where=totals[rows] > 0).sum(axis=0)
    return PrecisionRecall(radii, precision / dist.shape[0], recall / dist.shape[0])
