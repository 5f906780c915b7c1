"""Agreement with the C++ reference implementation of PQ k-means (package ``pqkmeans``,
Matsui et al. 2017). Skipped where it is not installed; the library does not need it.

pqkmeans always starts from K codes picked by a shuffle with a fixed seed and accepts no
initial centres in ``fit``; with ``iteration=1`` it runs one assignment and no update, so its
``cluster_centers_`` are then exactly its initial centres, which we pass to our fit.
"""

import numpy as np
import pytest

from repro.quantization import PQKMeans, ProductQuantizer

pqkmeans = pytest.importorskip("pqkmeans")


class _Codewords:
    """What pqkmeans.clustering.PQKMeans reads from an encoder: ``codewords (M, L, D/M)``."""

    def __init__(self, codebooks):
        self.codewords = codebooks.astype(np.float64)


@pytest.fixture(scope="module")
def pq_and_codes():
    rng = np.random.default_rng(11)
    blobs = rng.normal(size=(6, 8)) * 3
    x = (blobs[rng.integers(0, 6, 3000)] + rng.normal(size=(3000, 8))).astype(np.float32)
    pq = ProductQuantizer(4, 256).fit(x, seed=0, n_iter=10)
    return pq, pq.encode(x)


def reference_fit(pq, codes, n_clusters, iteration):
    model = pqkmeans.clustering.PQKMeans(_Codewords(pq.codebooks), k=n_clusters, iteration=iteration)
    model.fit(codes)
    return np.asarray(model.labels_), np.asarray(model.cluster_centers_, dtype=np.uint8)


@pytest.mark.parametrize("n_iter", [1, 2, 10])
def test_same_start_gives_the_same_clustering(pq_and_codes, n_iter):
    pq, codes = pq_and_codes
    _, initial = reference_fit(pq, codes, 6, iteration=1)
    labels, centres = reference_fit(pq, codes, 6, iteration=n_iter)
    ours = PQKMeans(pq, n_clusters=6, n_iter=n_iter).fit(codes, init_centres=initial)
    np.testing.assert_array_equal(ours.labels_, labels)
    np.testing.assert_array_equal(ours.centres_, centres)


def test_own_start_reaches_a_comparable_objective(pq_and_codes):
    """Random starts differ (ours is seeded, theirs fixed), so single runs land in different local
    minima; the best of five of our seeds must be at least as good as theirs, up to 10 %."""
    pq, codes = pq_and_codes
    tables = pq.symmetric_distance_tables()

    def objective(labels, centres):
        return sum(tables[m][codes[:, m], centres[labels, m]].sum(dtype=np.float64) for m in range(4))

    labels, centres = reference_fit(pq, codes, 6, iteration=20)
    ours = [PQKMeans(pq, n_clusters=6, n_iter=20, seed=seed).fit(codes) for seed in range(5)]
    for model in ours:
        expected = objective(model.labels_, model.centres_)
        assert model.objective_history_[-1] == pytest.approx(expected, rel=1e-5)
    assert min(model.objective_history_[-1] for model in ours) <= 1.1 * objective(labels, centres)
