"""Top-1 accuracy from predictions or scores."""

import numpy as np
import pytest

from repro.metrics import top1_accuracy


def test_predictions_and_scores():
    y = np.array([0, 2, 1, 1])
    assert top1_accuracy(y, np.array([0, 2, 0, 1])) == 0.75
    scores = np.array([[0.9, 0.1, 0.0], [0.2, 0.3, 0.5], [0.1, 0.1, 0.8], [0.0, 1.0, 0.0]])
    # argmax per row: 0, 2, 2, 1 -> 3 of 4 correct
    assert top1_accuracy(y, scores) == 0.75


def test_bad_inputs():
    with pytest.raises(ValueError, match="different lengths"):
        top1_accuracy([0, 1], [[0.1, 0.9]])
    with pytest.raises(ValueError, match="at least 2"):
        top1_accuracy([0, 1], [[0.1], [0.9]])
    with pytest.raises(ValueError, match="scores_or_pred must be.*\\(2, 2, 1\\)"):
        top1_accuracy([0, 1], np.zeros((2, 2, 1)))
    with pytest.raises(ValueError, match="y_true is empty"):
        top1_accuracy([], [])
