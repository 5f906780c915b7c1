"""Binary codes: packing, packed Hamming distances, k-majority against brute force."""

import numpy as np
import pytest

from repro.metrics import hamming_distance
from repro.quantization import (
    KMajority,
    majority_centres,
    pack_bits,
    packed_hamming_distance,
)
from repro.quantization import binary_codes


@pytest.mark.parametrize("n_bits", [1, 7, 8, 13, 64, 65, 256])
def test_pack_bits_round_trips_through_numpy_unpackbits(n_bits):
    bits = np.random.default_rng(n_bits).integers(0, 2, (9, n_bits))
    packed = pack_bits(bits)
    assert packed.shape == (9, -(-n_bits // 8)) and packed.dtype == np.uint8
    np.testing.assert_array_equal(np.unpackbits(packed, axis=1, count=n_bits), bits)


@pytest.mark.parametrize("n_bits", [3, 32, 64, 100, 256])
def test_packed_hamming_equals_the_unpacked_metric(n_bits):
    rng = np.random.default_rng(n_bits)
    query, db = rng.integers(0, 2, (11, n_bits)), rng.integers(0, 2, (23, n_bits))
    distances = packed_hamming_distance(pack_bits(query), pack_bits(db))
    np.testing.assert_array_equal(distances, hamming_distance(query, db))
    assert distances.dtype == np.int16


def test_hamming_chunking(monkeypatch):
    rng = np.random.default_rng(0)
    query, db = pack_bits(rng.integers(0, 2, (13, 70))), pack_bits(rng.integers(0, 2, (5, 70)))
    whole = packed_hamming_distance(query, db)
    monkeypatch.setattr(binary_codes, "_CHUNK_ELEMENTS", 7)
    np.testing.assert_array_equal(packed_hamming_distance(query, db), whole)


def test_majority_centres_by_hand():
    bits = np.array([[1, 0, 1, 1], [1, 1, 0, 1], [0, 0, 1, 1],   # cluster 0: majority 1 0 1 1
                     [1, 0, 0, 0], [0, 1, 0, 1]], dtype=np.uint8)  # cluster 1: ties except bit 2
    labels = np.array([0, 0, 0, 1, 1])
    previous = np.array([[0, 0, 0, 0], [1, 1, 1, 0], [0, 1, 0, 1]], dtype=np.uint8)  # cluster 2 empty
    np.testing.assert_array_equal(majority_centres(bits, labels, previous),
                                  [[1, 0, 1, 1], [1, 1, 0, 0], [0, 1, 0, 1]])


def noisy_prototype_bits(seed, n=400, n_bits=48, n_clusters=4, flip=0.15):
    rng = np.random.default_rng(seed)
    prototypes = rng.integers(0, 2, (n_clusters, n_bits))
    return (prototypes[rng.integers(0, n_clusters, n)] ^ (rng.random((n, n_bits)) < flip)).astype(np.uint8)


def test_k_majority_assignments_and_centres_equal_brute_force():
    bits = noisy_prototype_bits(1)
    model = KMajority(n_clusters=4, n_iter=30, seed=0).fit(bits)
    brute = (bits[:, None, :] != model.centres_[None]).sum(axis=2)
    np.testing.assert_array_equal(model.labels_, brute.argmin(axis=1))
    np.testing.assert_array_equal(model.predict(bits), model.labels_)
    assert model.n_iter_ < 30  # converged
    for k in range(4):
        members = bits[model.labels_ == k]
        ones = members.sum(axis=0)
        decided = 2 * ones != len(members)
        np.testing.assert_array_equal(model.centres_[k][decided], (2 * ones > len(members))[decided])
    history = np.array(model.objective_history_)
    assert np.all(np.diff(history) <= 0) and history[-1] == brute.min(axis=1).sum()


def test_k_majority_one_iteration_from_given_centres():
    bits = noisy_prototype_bits(2, n=60, n_bits=20)
    init = bits[:3]
    model = KMajority(n_clusters=3, n_iter=2).fit(bits, init_centres=init)
    labels = (bits[:, None, :] != init[None]).sum(axis=2).argmin(axis=1)
    np.testing.assert_array_equal(model.centres_, majority_centres(bits, labels, init))


def test_bad_binary_input_is_rejected():
    with pytest.raises(ValueError, match="only 0 and 1"):
        pack_bits(np.array([[0, 2, 1]]))
    with pytest.raises(ValueError, match="uint8 array of packed bits"):
        packed_hamming_distance(np.zeros((2, 3), dtype=np.int64), np.zeros((2, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match="different code lengths"):
        packed_hamming_distance(np.zeros((2, 3), dtype=np.uint8), np.zeros((2, 4), dtype=np.uint8))
    with pytest.raises(ValueError, match="distinct values"):
        KMajority(n_clusters=3).fit(np.ones((10, 8), dtype=np.uint8))
    with pytest.raises(ValueError, match="not fitted"):
        KMajority(n_clusters=3).predict(np.ones((10, 8), dtype=np.uint8))
    with pytest.raises(ValueError, match="init_centres must have shape"):
        KMajority(n_clusters=2).fit(noisy_prototype_bits(0), init_centres=np.zeros((2, 5)))
