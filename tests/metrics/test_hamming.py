"""Hamming distance against brute force for {0,1} and {-1,+1} codes."""

import numpy as np
import pytest

from repro.metrics import hamming_distance


def brute_force_hamming(query_bits, db_bits):
    out = np.zeros((len(query_bits), len(db_bits)), dtype=int)
    for i, q in enumerate(query_bits):
        for j, x in enumerate(db_bits):
            out[i, j] = sum(int(a != b) for a, b in zip(q, x))
    return out


@pytest.mark.parametrize("n_bits", [1, 12, 48, 70])
def test_equals_brute_force_for_both_conventions(n_bits):
    rng = np.random.default_rng(n_bits)
    query, db = rng.integers(0, 2, (7, n_bits)), rng.integers(0, 2, (11, n_bits))
    expected = brute_force_hamming(query, db)
    np.testing.assert_array_equal(hamming_distance(query, db), expected)
    np.testing.assert_array_equal(hamming_distance(2 * query - 1, 2 * db - 1), expected)
    np.testing.assert_array_equal(hamming_distance(query, 2.0 * db - 1), expected)  # mixed conventions
    np.testing.assert_array_equal(hamming_distance(query.astype(bool), db), expected)
    assert np.issubdtype(hamming_distance(query, db).dtype, np.integer)


def test_hand_worked():
    query = np.array([[0, 0, 0, 0]])
    db = np.array([[0, 0, 0, 0], [1, 0, 0, 0], [1, 1, 1, 1], [0, 1, 0, 1]])
    np.testing.assert_array_equal(hamming_distance(query, db), [[0, 1, 4, 2]])


def test_bad_codes():
    with pytest.raises(ValueError, match="query_codes .* binary codes"):
        hamming_distance([[0, 2]], [[0, 1]])
    with pytest.raises(ValueError, match="db_codes .* binary codes"):
        hamming_distance([[0, 1]], [[0, -1]])  # mixes 0 and -1
    with pytest.raises(ValueError, match="different code lengths.*\\(1, 2\\).*\\(1, 3\\)"):
        hamming_distance([[0, 1]], [[0, 1, 1]])
    with pytest.raises(ValueError, match="query_codes must be a 2-D"):
        hamming_distance([0, 1], [[0, 1]])
    with pytest.raises(ValueError, match="db_codes is empty"):
        hamming_distance([[0, 1]], np.zeros((0, 2)))
