"""Clustering metrics against hand-worked cases, brute force and scikit-learn."""

import itertools

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from repro.metrics import ari, cluster_acc, cluster_to_class_mapping, contingency_matrix, nmi


def brute_force_acc(y_true, y_pred):
    """Max over every one-to-one matching of clusters and classes, written plainly."""
    classes, clusters = sorted(set(y_true)), sorted(set(y_pred))
    best = 0
    if len(clusters) >= len(classes):
        matchings = (dict(zip(chosen, classes)) for chosen in itertools.permutations(clusters, len(classes)))
    else:
        matchings = (dict(zip(clusters, chosen)) for chosen in itertools.permutations(classes, len(clusters)))
    for cluster_to_class in matchings:
        correct = sum(1 for t, p in zip(y_true, y_pred) if cluster_to_class.get(p) == t)
        best = max(best, correct)
    return best / len(y_true)


def test_permuted_labelling_has_accuracy_one():
    y = np.array([0, 0, 1, 1, 2, 2, 3, 3])
    permutation = np.array([2, 3, 1, 0])
    assert cluster_acc(y, permutation[y]) == 1.0
    assert nmi(y, permutation[y]) == pytest.approx(1.0)
    assert ari(y, permutation[y]) == pytest.approx(1.0)


def test_arbitrary_integer_labels():
    y_true = np.array([10, 10, 20, 20, 30, 30])
    y_pred = np.array([-5, -5, 99, 99, 7, 7])
    assert cluster_acc(y_true, y_pred) == 1.0
    assert cluster_to_class_mapping(y_true, y_pred) == {-5: 10, 99: 20, 7: 30}


def test_known_confusion_matrix():
    # rows = classes 0,1,2; columns = clusters 0,1,2
    #   class 0: 5 in cluster 0, 1 in cluster 1
    #   class 1: 4 in cluster 2, 2 in cluster 0
    #   class 2: 3 in cluster 1
    # best matching: 0->0 (5), 2->1 (4), 1->2 (3): 12 of 15 correct = 0.8
    # (the greedy alternative 0->0, 1->0 is not one-to-one)
    pairs = [(0, 0)] * 5 + [(0, 1)] + [(1, 2)] * 4 + [(1, 0)] * 2 + [(2, 1)] * 3
    y_true, y_pred = map(np.array, zip(*pairs))
    counts, classes, clusters = contingency_matrix(y_true, y_pred)
    np.testing.assert_array_equal(counts, [[5, 1, 0], [2, 0, 4], [0, 3, 0]])
    assert cluster_acc(y_true, y_pred) == pytest.approx(12 / 15)


def test_hungarian_beats_greedy_majority_vote():
    # Majority vote would send both clusters 0 and 1 to class 0 (not one-to-one).
    # True contingency: class0: c0=3, c1=2 ; class1: c0=2, c1=0 -> best 2+2 = 4 of 7
    y_true = np.array([0, 0, 0, 0, 0, 1, 1])
    y_pred = np.array([0, 0, 0, 1, 1, 0, 0])
    assert cluster_acc(y_true, y_pred) == pytest.approx(4 / 7)


@pytest.mark.parametrize("n_classes, n_clusters", [(3, 3), (3, 5), (4, 2), (1, 3)])
def test_matches_brute_force_with_unequal_cluster_counts(n_classes, n_clusters):
    rng = np.random.default_rng(n_classes * 10 + n_clusters)
    for _ in range(5):
        y_true = rng.integers(0, n_classes, 40) * 7 - 3
        y_pred = rng.integers(0, n_clusters, 40) + 100
        assert cluster_acc(y_true, y_pred) == pytest.approx(brute_force_acc(y_true, y_pred))


def test_more_clusters_than_classes_counts_surplus_as_errors():
    y_true = np.array([0, 0, 0, 0])
    y_pred = np.array([0, 0, 1, 2])
    assert cluster_acc(y_true, y_pred) == 0.5
    assert cluster_to_class_mapping(y_true, y_pred) == {0: 0}


def test_nmi_and_ari_equal_sklearn():
    rng = np.random.default_rng(0)
    y_true, y_pred = rng.integers(0, 5, 300), rng.integers(0, 7, 300)
    assert nmi(y_true, y_pred) == pytest.approx(
        normalized_mutual_info_score(y_true, y_pred, average_method="geometric")
    )
    assert nmi(y_true, y_pred, average_method="arithmetic") == pytest.approx(
        normalized_mutual_info_score(y_true, y_pred)
    )
    assert ari(y_true, y_pred) == pytest.approx(adjusted_rand_score(y_true, y_pred))


def test_nmi_hand_worked_and_normalisations_differ():
    # T = [0,0,1,1], P = [0,0,0,1]; with natural logs:
    # H(T) = ln 2; H(P) = -(3/4 ln 3/4 + 1/4 ln 1/4)
    # I = sum p(t,p) ln(p(t,p)/(p(t)p(p))) = 1/2 ln(4/3) + 1/4 ln(2/3) + 1/4 ln 2
    y_true, y_pred = [0, 0, 1, 1], [0, 0, 0, 1]
    h_t = np.log(2)
    h_p = -(0.75 * np.log(0.75) + 0.25 * np.log(0.25))
    mi = 0.5 * np.log(4 / 3) + 0.25 * np.log(2 / 3) + 0.25 * np.log(2)
    assert nmi(y_true, y_pred, average_method="arithmetic") == pytest.approx(mi / ((h_t + h_p) / 2))
    assert nmi(y_true, y_pred) == pytest.approx(mi / np.sqrt(h_t * h_p))  # default: geometric
    assert nmi(y_true, y_pred) != pytest.approx(nmi(y_true, y_pred, average_method="arithmetic"))


@pytest.mark.parametrize("metric", [cluster_acc, nmi, ari])
def test_bad_inputs_name_the_argument(metric):
    with pytest.raises(ValueError, match="different lengths.*\\(3,\\).*\\(2,\\)"):
        metric([0, 1, 2], [0, 1])
    with pytest.raises(ValueError, match="y_true must be a 1-D.*\\(2, 2\\)"):
        metric(np.zeros((2, 2)), [0, 1])
    with pytest.raises(ValueError, match="y_pred is empty"):
        metric([0], [])
    with pytest.raises(ValueError, match="y_pred holds non-integer"):
        metric([0, 1], [0.5, 1.0])


def test_unknown_nmi_normalisation():
    with pytest.raises(ValueError, match="average_method"):
        nmi([0, 1], [0, 1], average_method="harmonic")
