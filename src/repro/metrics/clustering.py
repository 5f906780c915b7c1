"""Clustering metrics: ACC (Hungarian), NMI, ARI.

These are the two criteria of the GAPDCEC paper's Table 1 (ACC and NMI, its
ref. [1]) and of the DEC / IDEC / DCEC line it compares against, plus ARI.
All functions take two label vectors of shape ``(n,)``; labels may be any
integers (they need not be ``0..k-1``) and the number of clusters may differ
from the number of classes.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from ._validation import as_label_vector, check_same_length

NMI_AVERAGE_METHODS = ("arithmetic", "geometric", "min", "max")


def _label_pair(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    true = as_label_vector("y_true", y_true)
    pred = as_label_vector("y_pred", y_pred)
    check_same_length("y_true", true, "y_pred", pred)
    return true, pred


def contingency_matrix(y_true, y_pred) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Count matrix ``counts[i, j] = #{n : y_true[n] == classes[i], y_pred[n] == clusters[j]}``.

    Returns ``(counts, classes, clusters)`` with ``counts`` of shape
    ``(n_classes, n_clusters)`` and the sorted distinct labels of each vector.
    """
    true, pred = _label_pair(y_true, y_pred)
    classes, true_index = np.unique(true, return_inverse=True)
    clusters, pred_index = np.unique(pred, return_inverse=True)
    flat = true_index * len(clusters) + pred_index
    counts = np.bincount(flat, minlength=len(classes) * len(clusters))
    return counts.reshape(len(classes), len(clusters)), classes, clusters


def cluster_to_class_mapping(y_true, y_pred) -> dict:
    """Best one-to-one map ``{cluster label: class label}`` (Hungarian algorithm).

    It maximises the number of samples whose cluster maps to their class. With
    more clusters than classes, the clusters left unmatched are absent from the
    dict (their samples count as errors in :func:`cluster_acc`).
    """
    counts, classes, clusters = contingency_matrix(y_true, y_pred)
    rows, cols = linear_sum_assignment(counts, maximize=True)
    return {clusters[c].item(): classes[r].item() for r, c in zip(rows, cols)}


def cluster_acc(y_true, y_pred) -> float:
    """Unsupervised clustering accuracy (ACC).

    ``ACC = max_m sum_n 1{y_true[n] == m(y_pred[n])} / n`` over one-to-one maps
    ``m`` from clusters to classes, found with the Hungarian algorithm
    (``scipy.optimize.linear_sum_assignment``) on the ``(n_classes, n_clusters)``
    contingency matrix, as in the DEC paper's evaluation. The matrix may be
    rectangular: when there are more clusters than classes the surplus clusters
    stay unmatched and their samples count as errors (the same result as the
    DEC code's zero-padded square matrix); with fewer clusters, surplus classes
    are never predicted.

    Args:
        y_true: ``(n,)`` ground-truth class labels (any integers).
        y_pred: ``(n,)`` cluster assignments (any integers).
    Returns:
        Accuracy in ``[0, 1]``.
    """
    counts, _, _ = contingency_matrix(y_true, y_pred)
    rows, cols = linear_sum_assignment(counts, maximize=True)
    return float(counts[rows, cols].sum() / counts.sum())


def nmi(y_true, y_pred, *, average_method: str = "geometric") -> float:
    """Normalized mutual information ``I(T; P) / mean(H(T), H(P))``.

    A checked wrapper of ``sklearn.metrics.normalized_mutual_info_score``. The default
    here is the *geometric* mean ``sqrt(H(T) H(P))``: it is what the DEC / IDEC / DCEC
    reference code (2016-2017), and the papers that reused it (GAPDCEC, PQDEC), computed
    when they called that function with its defaults, because scikit-learn normalised by
    the geometric mean until version 0.22. scikit-learn's default since 0.22 is
    ``"arithmetic"``; pass it to get today's number. The two agree when both labellings
    have equal entropy and differ slightly otherwise.

    Args:
        y_true: ``(n,)`` class labels; y_pred: ``(n,)`` cluster labels.
        average_method: one of ``"arithmetic"``, ``"geometric"``, ``"min"``, ``"max"``.
    """
    if average_method not in NMI_AVERAGE_METHODS:
        raise ValueError(
            f"unknown average_method {average_method!r}; expected one of {NMI_AVERAGE_METHODS}"
        )
    true, pred = _label_pair(y_true, y_pred)
    return float(normalized_mutual_info_score(true, pred, average_method=average_method))


def ari(y_true, y_pred) -> float:
    """Adjusted Rand index (``sklearn.metrics.adjusted_rand_score``) of two ``(n,)`` labellings."""
    true, pred = _label_pair(y_true, y_pred)
    return float(adjusted_rand_score(true, pred))


CLUSTERING_SCORES = ("acc", "nmi", "ari")


def clustering_scores(y_true, y_pred, metrics=CLUSTERING_SCORES) -> dict[str, float]:
    """The clustering scores every stage reports, in one place: {"acc", "nmi", "ari"} (or
    the subset named by ``metrics``) of ``y_pred`` against ``y_true``, as floats."""
    functions = {"acc": cluster_acc, "nmi": nmi, "ari": ari}
    unknown = [m for m in metrics if m not in functions]
    if unknown:
        raise ValueError(f"unknown clustering metric(s) {unknown}; known: {list(functions)}")
    return {m: float(functions[m](y_true, y_pred)) for m in metrics}
