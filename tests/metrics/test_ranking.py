"""Ranking (ties broken by database index) and relevance against brute force."""

import numpy as np
import pytest

from repro.metrics import rank, relevance


def brute_force_rank(distances):
    return np.array([sorted(range(len(row)), key=lambda j: (row[j], j)) for row in distances])


def test_ties_go_to_the_lower_database_index():
    distances = np.array([[1, 0, 1, 0, 1], [2, 2, 2, 2, 2]])
    np.testing.assert_array_equal(rank(distances), [[1, 3, 0, 2, 4], [0, 1, 2, 3, 4]])
    # top=3 cuts through the tie at distance 1: items 0 and 2 are tied, 0 is kept
    np.testing.assert_array_equal(rank(distances, top=3), [[1, 3, 0], [0, 1, 2]])


@pytest.mark.parametrize(
    "make",
    [
        lambda rng: rng.integers(0, 6, (9, 300)).astype(np.int16),  # Hamming-like, many ties
        lambda rng: rng.integers(-5, 5, (9, 300)),  # negative int64
        lambda rng: rng.integers(0, 4, (9, 300)) * 70_000,  # beyond uint16
        lambda rng: rng.integers(0, 2, (9, 300)) * np.int64(2**40),  # beyond 32 bits
        lambda rng: (rng.integers(0, 5, (9, 300)) * 0.5 - 1).astype(np.float32),
        lambda rng: rng.integers(0, 5, (9, 300)) * 0.1 - 0.2,  # float64
        lambda rng: rng.standard_normal((9, 300)),
    ],
)
def test_full_and_top_equal_brute_force(make):
    distances = make(np.random.default_rng(1))
    expected = brute_force_rank(distances)
    np.testing.assert_array_equal(rank(distances), expected)
    for top in (1, 17, 150, 300):
        np.testing.assert_array_equal(rank(distances, top=top), expected[:, :top])


def test_negative_zero_ties_with_zero():
    distances = np.array([[0.0, -0.0, 0.0, -1.0]], dtype=np.float32)
    np.testing.assert_array_equal(rank(distances), [[3, 0, 1, 2]])
    np.testing.assert_array_equal(rank(distances.astype(np.float64)), [[3, 0, 1, 2]])


def test_rank_rejects_bad_input():
    with pytest.raises(ValueError, match="distances must be a 2-D.*\\(3,\\)"):
        rank(np.zeros(3))
    with pytest.raises(ValueError, match="distances is empty"):
        rank(np.zeros((2, 0)))
    with pytest.raises(ValueError, match="NaN"):
        rank(np.array([[0.0, np.nan]]))
    with pytest.raises(ValueError, match="top=5 is outside \\[1, 4\\]"):
        rank(np.zeros((2, 4)), top=5)


def test_single_label_relevance():
    db_labels = np.array([3, 1, 3, 2])
    ranking = np.array([[0, 1, 2, 3], [3, 2, 1, 0]])
    np.testing.assert_array_equal(
        relevance([3, 1], db_labels, ranking),
        [[True, False, True, False], [False, False, True, False]],
    )


def test_multi_label_relevance_shares_at_least_one_label():
    query = np.array([[1, 0, 1]])
    db = np.array([[0, 1, 0], [0, 0, 1], [1, 1, 1], [0, 0, 0]])
    np.testing.assert_array_equal(relevance(query, db, [[0, 1, 2, 3]]), [[False, True, True, False]])


@pytest.mark.parametrize("n_classes", [5, 70])  # 70 needs two 64-bit words per label set
def test_multi_label_relevance_equals_brute_force(n_classes):
    rng = np.random.default_rng(n_classes)
    query = rng.random((6, n_classes)) < 0.05
    db = (rng.random((40, n_classes)) < 0.05).astype(np.int64)
    ranking = np.stack([rng.permutation(40)[:25] for _ in range(6)])
    expected = [[bool(np.any(query[i] & (db[j] == 1))) for j in row] for i, row in enumerate(ranking)]
    np.testing.assert_array_equal(relevance(query, db, ranking), expected)


def test_relevance_rejects_bad_input():
    with pytest.raises(ValueError, match="ranking has 1 rows.*2 queries"):
        relevance([0, 1], [0, 1, 2], [[0, 1]])
    with pytest.raises(ValueError, match="outside \\[0, 3\\)"):
        relevance([0], [0, 1, 2], [[0, 3]])
    with pytest.raises(ValueError, match="both be \\(n,\\) or both be \\(n, C\\)"):
        relevance([0], [[0, 1]], [[0]])
    with pytest.raises(ValueError, match="different numbers of classes"):
        relevance([[0, 1]], [[0, 1, 1]], [[0]])
    with pytest.raises(ValueError, match="db_labels .* multi-hot"):
        relevance([[0, 1]], [[0, 2]], [[0]])
    with pytest.raises(ValueError, match="query_labels is empty"):
        relevance([], [0, 1], np.zeros((0, 1), dtype=int))
    with pytest.raises(ValueError, match="integer database indices"):
        relevance([0], [0, 1], [[0.0, 1.0]])


@pytest.mark.parametrize("dtype", [np.int16, np.float32])
def test_many_chunks_ranked_in_threads_equal_lexsort(dtype):
    """Enough queries for several chunks of 2**22 entries (so rank's threads share them):
    every row equals the (distance, index) lexicographic order, with many ties."""
    distances = np.random.default_rng(4).integers(0, 40, (150, 70_000)).astype(dtype)
    expected = np.stack([np.lexsort((np.arange(row.size), row)) for row in distances])
    np.testing.assert_array_equal(rank(distances), expected)
    np.testing.assert_array_equal(rank(distances, top=500), expected[:, :500])
