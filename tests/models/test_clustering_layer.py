"""ClusteringLayer (DEC Eq. 1), target distribution (Eq. 3) and KL loss (Eq. 2)."""
import keras
import numpy as np
import pytest
from keras import ops

from repro.models.clustering import (
    ClusteringLayer,
    kl_clustering_loss,
    soft_assignment,
    target_distribution,
)


def _layer(centres, alpha=1.0):
    layer = ClusteringLayer(len(centres), alpha=alpha)
    layer.build((None, np.shape(centres)[1]))
    layer.set_centres(centres)
    return layer


def test_soft_assignment_hand_worked():
    # z at the first centre: kernel 1 and (1 + 1)^-1 = 0.5  ->  q = (2/3, 1/3).
    layer = _layer(np.array([[0.0, 0.0], [1.0, 0.0]]))
    q = ops.convert_to_numpy(layer(np.zeros((1, 2), dtype="float32")))
    np.testing.assert_allclose(q, [[2 / 3, 1 / 3]], rtol=1e-6)


def test_soft_assignment_alpha_changes_kernel():
    # alpha = 2, squared distance 2: (1 + 2/2)^(-1.5) = 2^-1.5 against 1 at distance 0.
    layer = _layer(np.array([[0.0, 0.0], [1.0, 1.0]]), alpha=2.0)
    q = ops.convert_to_numpy(layer(np.zeros((1, 2), dtype="float32")))
    k = 2.0**-1.5
    np.testing.assert_allclose(q, [[1 / (1 + k), k / (1 + k)]], rtol=1e-6)


def test_soft_assignment_rows_positive_sum_to_one_and_match_numpy():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(50, 5)).astype("float32")
    centres = rng.normal(size=(7, 5))
    q = ops.convert_to_numpy(_layer(centres)(z))
    assert q.shape == (50, 7)
    assert np.all(q > 0)
    np.testing.assert_allclose(q.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(q, soft_assignment(z, centres), rtol=1e-4, atol=1e-6)


def test_nearest_centre_gets_largest_probability():
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(4, 3)) * 5
    z = (centres[[2, 0, 3]] + 0.01).astype("float32")
    q = ops.convert_to_numpy(_layer(centres)(z))
    np.testing.assert_array_equal(q.argmax(axis=1), [2, 0, 3])


def test_bad_centres_and_arguments_are_rejected():
    layer = _layer(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="shape"):
        layer.set_centres(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="n_clusters"):
        ClusteringLayer(0)
    with pytest.raises(ValueError, match="alpha"):
        ClusteringLayer(3, alpha=0.0)


def test_target_distribution_matches_formula_by_loops():
    q = np.array([[0.6, 0.4], [0.5, 0.5], [0.1, 0.9]])
    f = q.sum(axis=0)
    expected = np.empty_like(q)
    for i in range(3):
        weights = [q[i, j] ** 2 / f[j] for j in range(2)]
        expected[i] = np.array(weights) / sum(weights)
    np.testing.assert_allclose(target_distribution(q), expected, rtol=1e-6)


def test_target_distribution_is_sharper_than_q():
    rng = np.random.default_rng(2)
    logits = rng.normal(size=(200, 10))
    q = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    p = target_distribution(q)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)
    assert np.all(p.max(axis=1) >= q.max(axis=1) - 1e-6)
    entropy = lambda a: -(a * np.log(a)).sum(axis=1)  # noqa: E731
    assert entropy(p).mean() < entropy(q).mean()


def test_target_distribution_rejects_bad_input():
    with pytest.raises(ValueError, match="non-negative"):
        target_distribution(np.array([[1.5, -0.5]]))
    with pytest.raises(ValueError, match="matrix"):
        target_distribution(np.ones(3))


def test_kl_loss_matches_numpy_and_is_zero_for_equal_distributions():
    rng = np.random.default_rng(3)
    q = rng.dirichlet(np.ones(4), size=6).astype("float32")
    p = target_distribution(q)
    expected = np.mean(np.sum(p * np.log(p / q), axis=1))
    got = float(ops.convert_to_numpy(kl_clustering_loss(p, q)))
    assert got == pytest.approx(expected, rel=1e-4)
    assert float(ops.convert_to_numpy(kl_clustering_loss(q, q))) == pytest.approx(0.0, abs=1e-6)
    # Same value as Keras's own "kld" loss averaged over the batch.
    keras_kld = ops.convert_to_numpy(keras.losses.kl_divergence(p, q)).mean()
    assert got == pytest.approx(float(keras_kld), rel=1e-5)
