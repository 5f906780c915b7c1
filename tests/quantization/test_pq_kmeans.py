"""PQ k-means against brute force and a plain-loop reference, hand-worked updates, bad input."""

import numpy as np
import pytest

from repro.quantization import PQKMeans, ProductQuantizer, pq_kmeans, update_centres


def reference_sdc(codebooks, a, b):
    return sum(float(np.sum((codebooks[m, a[m]] - codebooks[m, b[m]]) ** 2)) for m in range(len(a)))


def reference_assign(codebooks, codes, centres):
    return np.array([int(np.argmin([reference_sdc(codebooks, code, c) for c in centres])) for code in codes])


def reference_update(codebooks, codes, labels, centres):
    """For each cluster and subspace, try every codeword and keep the one of least summed
    squared distance to the members' codewords; empty clusters keep their centre."""
    n_subspaces, n_codewords, _ = codebooks.shape
    new = centres.copy()
    for k in range(len(centres)):
        members = [code for code, label in zip(codes, labels) if label == k]
        for m in range(n_subspaces if members else 0):
            costs = [sum(float(np.sum((codebooks[m, l] - codebooks[m, code[m]]) ** 2)) for code in members)
                     for l in range(n_codewords)]
            new[k, m] = int(np.argmin(costs))
    return new


@pytest.fixture(scope="module")
def codes(fitted_pq, gaussian_data):
    return fitted_pq.encode(gaussian_data)


def test_labels_are_the_brute_force_nearest_centres(fitted_pq, codes):
    model = PQKMeans(fitted_pq, n_clusters=5, n_iter=6, seed=1).fit(codes)
    decoded, decoded_centres = fitted_pq.decode(codes), fitted_pq.decode(model.centres_)
    brute = ((decoded[:, None, :].astype(np.float64) - decoded_centres[None]) ** 2).sum(axis=2)
    tables = fitted_pq.symmetric_distance_tables()
    sdc = pq_kmeans.symmetric_distances_to_centres(tables, codes, model.centres_)
    assert np.allclose(sdc, brute, atol=1e-4)
    np.testing.assert_array_equal(model.labels_, brute.argmin(axis=1))
    np.testing.assert_array_equal(model.predict(codes), model.labels_)
    assert model.centres_.shape == (5, 4) and model.centres_.dtype == np.uint8
    assert model.objective_history_[-1] == pytest.approx(brute.min(axis=1).sum(), rel=1e-5)


def test_one_iteration_equals_a_plain_loop_reference(fitted_pq, codes):
    sample, init = codes[:60], codes[[3, 17, 29, 41]]
    books = fitted_pq.codebooks.astype(np.float64)
    labels = reference_assign(books, sample, init)
    centres = reference_update(books, sample, labels, init)
    model = PQKMeans(fitted_pq, n_clusters=4, n_iter=2).fit(sample, init_centres=init)
    np.testing.assert_array_equal(model.initial_centres_, init)
    np.testing.assert_array_equal(model.centres_, centres)
    np.testing.assert_array_equal(model.labels_, reference_assign(books, sample, centres))


def test_update_picks_the_codeword_of_least_summed_distance_by_hand():
    # subspace 0 codewords at 0, 1, 2, 10; subspace 1 at 5, 0, 7, 6 (1-d sub-vectors)
    pq = ProductQuantizer.from_codebooks(np.array([[[0.0], [1.0], [2.0], [10.0]],
                                                   [[5.0], [0.0], [7.0], [6.0]]]))
    codes = np.array([[0, 1], [0, 1], [3, 2],        # cluster 0: values (0,0,10) and (0,0,7)
                      [3, 0], [3, 3], [1, 2]], dtype=np.uint8)  # cluster 1: (10,10,1) and (5,6,7)
    labels = np.array([0, 0, 0, 1, 1, 1])
    previous = np.array([[1, 1], [1, 1], [2, 3]], dtype=np.uint8)  # cluster 2 is empty
    new = update_centres(pq.symmetric_distance_tables(), codes, labels, previous)
    # cluster 0: costs (100, 83, 72, 200) -> 2 and (54, 49, 98, 73) -> 1
    # cluster 1: costs (201, 162, 129, 81) -> 3 and (5, 110, 5, 2) -> 3; cluster 2 unchanged
    np.testing.assert_array_equal(new, [[2, 1], [3, 3], [2, 3]])


def test_objective_never_increases_and_the_loop_stops_at_a_fixed_point():
    rng = np.random.default_rng(5)
    blobs = rng.normal(size=(4, 8)) * 6
    x = (blobs[rng.integers(0, 4, 800)] + rng.normal(size=(800, 8))).astype(np.float32)
    pq = ProductQuantizer(4, 16).fit(x, seed=0)
    model = PQKMeans(pq, n_clusters=4, n_iter=50, seed=0).fit(pq.encode(x))
    history = np.array(model.objective_history_)
    assert len(history) == model.n_iter_ < 50
    assert np.all(np.diff(history) <= 1e-6 * history[0])
    assert history[-1] == pytest.approx(history[-2])


def test_initial_centres_are_distinct_data_codes_and_seeded(fitted_pq, codes):
    first = PQKMeans(fitted_pq, n_clusters=8, n_iter=1, seed=7).fit(codes)
    again = PQKMeans(fitted_pq, n_clusters=8, n_iter=1, seed=7).fit(codes)
    other = PQKMeans(fitted_pq, n_clusters=8, n_iter=1, seed=8).fit(codes)
    np.testing.assert_array_equal(first.initial_centres_, again.initial_centres_)
    assert not np.array_equal(first.initial_centres_, other.initial_centres_)
    assert len(np.unique(first.initial_centres_, axis=0)) == 8
    data_rows = {tuple(row) for row in codes}
    assert all(tuple(row) in data_rows for row in first.initial_centres_)
    np.testing.assert_array_equal(first.centres_, first.initial_centres_)  # one step: no update


def test_distances_do_not_depend_on_chunking(fitted_pq, codes, monkeypatch):
    tables, centres = fitted_pq.symmetric_distance_tables(), codes[:6]
    whole = pq_kmeans.symmetric_distances_to_centres(tables, codes, centres)
    monkeypatch.setattr(pq_kmeans, "_CHUNK_ELEMENTS", 20)
    np.testing.assert_array_equal(pq_kmeans.symmetric_distances_to_centres(tables, codes, centres), whole)


def test_sixteen_bit_codes_and_raw_codebooks_are_accepted():
    codebooks = np.linspace(0, 1, 600, dtype=np.float32).reshape(2, 300, 1)
    codes = np.random.default_rng(0).integers(0, 300, (200, 2)).astype(np.uint16)
    model = PQKMeans(codebooks, n_clusters=3, n_iter=5).fit(codes)
    assert model.centres_.dtype == np.uint16 and set(np.unique(model.labels_)) <= {0, 1, 2}


def test_bad_input_is_rejected(fitted_pq, codes):
    model = PQKMeans(fitted_pq, n_clusters=3)
    with pytest.raises(ValueError, match="not fitted"):
        model.predict(codes)
    with pytest.raises(ValueError, match="integer codeword indices"):
        model.fit(codes.astype(np.float64))
    with pytest.raises(ValueError, match=r"\(n, M=4\)"):
        model.fit(codes[:, :3])
    with pytest.raises(ValueError, match="init_centres has 2 rows"):
        model.fit(codes, init_centres=codes[:2])
    with pytest.raises(ValueError, match="only 1 distinct values"):
        model.fit(np.zeros((10, 4), dtype=np.uint8))
    with pytest.raises(ValueError, match="n_clusters"):
        PQKMeans(fitted_pq, n_clusters=0)
    with pytest.raises(ValueError, match="not fitted"):
        PQKMeans(ProductQuantizer(4, 16), n_clusters=3)
