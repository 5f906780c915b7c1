"""KSH (Liu et al. 2012): retrieval quality on separable data, balanced bits, determinism, bad input."""

import numpy as np
import pytest

from repro.methods.ksh import KSH, KSHConfig, _label_groups, _Residual
from repro.metrics import hamming_distance, mean_average_precision, rank

SMALL = KSHConfig(n_anchors=40, n_train=240, n_iter=100)


def blobs(n_per_class, seed, dim=24, n_classes=4, spread=4.0):
    """Well separated Gaussian blobs (fixed centres, fresh noise per seed)."""
    centres = np.random.default_rng(123).normal(size=(n_classes, dim)) * spread
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(n_classes), n_per_class)
    return (centres[y] + rng.normal(size=(len(y), dim))).astype(np.float32), y


@pytest.fixture(scope="module")
def data():
    x, y = blobs(80, seed=0)
    xq, yq = blobs(20, seed=1)
    return x, y, xq, yq


@pytest.fixture(scope="module")
def fitted(data):
    x, y, _, _ = data
    return KSH(16, SMALL).fit(x, y, seed=0)


def test_hamming_ranking_map_is_high_on_separable_data(data, fitted):
    x, y, xq, yq = data
    db, queries = fitted.encode(x), fitted.encode(xq)
    assert db.shape == (320, 16) and db.dtype == np.int8
    assert set(np.unique(db)) <= {-1, 1}
    ranking = fitted.rank(queries, db)
    np.testing.assert_array_equal(ranking, rank(hamming_distance(queries, db)))
    assert mean_average_precision(yq, y, ranking) > 0.9


def test_bits_are_balanced(data, fitted):
    codes = fitted.encode(data[0])
    bit_means = np.abs(codes.mean(axis=0))
    assert bit_means.mean() < 0.5
    assert bit_means.max() < 1.0  # no constant bit


def test_fit_is_deterministic_per_seed(data, fitted):
    x, y, xq, _ = data
    again = KSH(16, SMALL).fit(x, y, seed=0)
    np.testing.assert_array_equal(again.projections, fitted.projections)
    np.testing.assert_array_equal(again.encode(xq), fitted.encode(xq))
    other = KSH(16, SMALL).fit(x, y, seed=1)
    assert not np.array_equal(other.anchor_index, fitted.anchor_index)


def test_kernel_follows_the_authors_definitions(data, fitted):
    x = data[0].astype(np.float64)
    anchors = x[fitted.anchor_index]
    sq = ((x[:, None, :] - anchors[None]) ** 2).sum(axis=2)
    assert fitted.sigma == pytest.approx(sq.mean(), rel=1e-9)
    kernel = np.exp(-sq / (2 * fitted.sigma))
    np.testing.assert_allclose(fitted.mean, kernel.mean(axis=0), rtol=1e-9)
    expected = np.where((kernel - kernel.mean(axis=0)) @ fitted.projections > 0, 1, -1)
    np.testing.assert_array_equal(fitted.encode(data[0]), expected)
    assert len(set(fitted.train_index)) == SMALL.n_train


def test_multi_hot_labels_share_a_label_relevance():
    labels = np.array([[1, 0, 0], [1, 1, 0], [0, 0, 1], [0, 1, 0], [1, 0, 0]])
    group, table = _label_groups(labels, 5)
    similarity = table[np.ix_(group, group)]
    expected = np.where(labels @ labels.T > 0, 1.0, -1.0)
    np.testing.assert_array_equal(similarity, expected)
    residual = _Residual(group, table, n_bits=3)
    v = np.random.default_rng(0).normal(size=5)
    y = np.array([1.0, -1, 1, 1, -1])
    residual.add_bit(y)
    np.testing.assert_allclose(residual.matvec(v), (3 * expected - np.outer(y, y)) @ v)


def test_multi_label_fit_runs_and_class_vector_equals_one_hot(data):
    x, y, xq, _ = data
    one_hot = np.eye(4, dtype=np.int64)[y]
    by_vector = KSH(8, SMALL).fit(x, y, seed=2)
    by_matrix = KSH(8, SMALL).fit(x, one_hot, seed=2)
    np.testing.assert_allclose(by_matrix.projections, by_vector.projections, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda x, y: KSH(8, SMALL).fit(x.reshape(len(x), 4, -1), y, seed=0), "2-D"),
        (lambda x, y: KSH(8, SMALL).fit(x, y[:-1], seed=0), "labels"),
        (lambda x, y: KSH(0, SMALL), "bits"),
        (lambda x, y: KSH(8, SMALL).fit(x[:100], y[:100], seed=0), "n_train"),
        (lambda x, y: KSH(8, SMALL).fit(x, np.full((len(y), 3), 2), seed=0), "multi-hot"),
        (lambda x, y: KSH(8, SMALL).encode(x), "not fitted"),
    ],
)
def test_bad_input_raises_a_clear_error(data, call, message):
    x, y, _, _ = data
    with pytest.raises(ValueError, match=message):
        call(x, y)


def test_encode_checks_the_feature_dimension(data, fitted):
    with pytest.raises(ValueError, match="fitted on D=24"):
        fitted.encode(data[0][:, :10])
    with pytest.raises(ValueError, match="n_anchors"):
        KSHConfig(n_anchors=0)
