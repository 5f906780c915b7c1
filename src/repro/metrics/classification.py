"""Classification accuracy, used for the linear probes of the DeepCluster stage."""

from __future__ import annotations

import numpy as np

from ._validation import as_label_vector, check_same_length


def top1_accuracy(y_true, scores_or_pred) -> float:
    """Fraction of samples whose predicted class equals the true class.

    Args:
        y_true: ``(n,)`` true class labels.
        scores_or_pred: either ``(n,)`` predicted labels, or ``(n, C)`` class
            scores (logits or probabilities) whose row-wise argmax is the
            prediction, so that column ``c`` must score class ``c``. Ties in a
            score row go to the lowest class index (``np.argmax``).
    Returns:
        Accuracy in ``[0, 1]``.
    """
    true = as_label_vector("y_true", y_true)
    given = np.asarray(scores_or_pred)
    if given.ndim == 2:
        if given.shape[1] < 2:
            raise ValueError(
                f"scores_or_pred has shape {given.shape}: a score matrix needs at least 2 "
                "class columns; pass predictions as a 1-D (n,) vector"
            )
        if given.dtype.kind not in "biuf":
            raise ValueError(f"scores_or_pred scores must be numbers, got dtype {given.dtype}")
        pred = np.argmax(given, axis=1)
    elif given.ndim == 1:
        pred = as_label_vector("scores_or_pred", given)
    else:
        raise ValueError(
            f"scores_or_pred must be (n,) predictions or (n, C) scores, got shape {given.shape}"
        )
    check_same_length("y_true", true, "scores_or_pred", given)
    return float(np.mean(true == pred))
