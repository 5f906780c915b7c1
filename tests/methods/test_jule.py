"""JULE's pieces on hand-made examples (sample graph, degree-linkage affinity, merge criterion,
nearest-neighbour linking, triplet loss), the incremental agglomeration against a from-scratch
recomputation, blob recovery, a tiny end-to-end run, and input checks."""

import math

import numpy as np
import pytest
from scipy import sparse

from repro.methods.jule import (JULE, JULEConfig, agglomerate, build_jule_network, cluster_affinity,
                                directed_cluster_affinity, initial_clusters, knn_affinity,
                                merge_candidates, nearest_neighbours, nn_link_clusters,
                                select_merge, triplet_loss)
from repro.metrics import cluster_acc, nmi


def same_partition(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return bool(np.array_equal(a[:, None] == a[None, :], b[:, None] == b[None, :]))


def separated_blobs(n_per=30, n_blobs=4, dim=6, spread=0.3, seed=0):
    rng = np.random.default_rng(seed)
    centres = np.eye(n_blobs, dim) * 10.0
    y = np.repeat(np.arange(n_blobs), n_per)
    return (centres[y] + rng.normal(0.0, spread, (len(y), dim))).astype(np.float32), y


# --- sample graph -------------------------------------------------------------------------------

def test_knn_affinity_matches_its_formula_on_a_hand_example():
    x = np.array([[0.0], [1.0], [3.0], [7.0]])
    W = knn_affinity(x, K_s=1, a=1.0)
    # nearest neighbours 0->1, 1->0, 2->1, 3->2 with squared distances 1, 1, 4, 16
    sigma2 = (1 + 1 + 4 + 16) / 4
    expected = np.zeros((4, 4))
    expected[0, 1] = expected[1, 0] = math.exp(-1 / sigma2)
    expected[2, 1] = math.exp(-4 / sigma2)
    expected[3, 2] = math.exp(-16 / sigma2)
    assert sparse.issparse(W)
    np.testing.assert_allclose(W.toarray(), expected, rtol=1e-6)
    W2 = knn_affinity(x, K_s=1, a=2.0)                      # sigma^2 scales with a
    np.testing.assert_allclose(W2[3, 2], math.exp(-16 / (2 * sigma2)), rtol=1e-6)


def test_knn_graph_has_k_neighbours_per_row_and_never_the_point_itself():
    x = np.random.default_rng(0).normal(size=(50, 3))
    W = knn_affinity(x, K_s=7)
    assert W.shape == (50, 50)
    np.testing.assert_array_equal(np.diff(W.indptr), 7)
    assert W.diagonal().max() == 0
    np.testing.assert_allclose(W.toarray(), _brute_graph(x, 7), rtol=1e-5, atol=1e-12)
    idx, sq = nearest_neighbours(x, 7)
    brute = ((x[:, None] - x[None]) ** 2).sum(-1)
    np.fill_diagonal(brute, np.inf)
    np.testing.assert_allclose(sq, np.sort(brute, axis=1)[:, :7], rtol=1e-4, atol=1e-5)
    # duplicate points: the copy is a neighbour at distance 0, the point itself is not
    dup = np.array([[0.0, 0.0], [0.0, 0.0], [5.0, 5.0]])
    idx, sq = nearest_neighbours(dup, 1)
    np.testing.assert_array_equal(idx[:2, 0], [1, 0])
    assert sq[0, 0] == 0


# --- degree-linkage affinity ----------------------------------------------------------------------

def test_degree_linkage_affinity_equals_its_formula_by_hand():
    W = np.array([[0.0, 1.0, 0.5, 0.6],
                  [1.0, 0.0, 0.0, 0.2],
                  [0.4, 0.0, 0.0, 1.0],
                  [0.0, 0.3, 1.0, 0.0]])
    labels = np.array([0, 0, 1, 1])
    # W_{C1,C2} = [[.5, .6], [0, .2]], W_{C2,C1} = [[.4, 0], [0, .3]]
    # 1' W12 W21 1 = sum [[.2, .18], [0, .06]] = .44 -> / |C1|^2 = .11
    # 1' W21 W12 1 = sum [[.2, .24], [0, .06]] = .50 -> / |C2|^2 = .125
    D = directed_cluster_affinity(sparse.csr_matrix(W), labels)
    np.testing.assert_allclose(D, [[0.0, 0.11], [0.125, 0.0]], atol=1e-12)
    np.testing.assert_allclose(cluster_affinity(W, labels), [[0.0, 0.235], [0.235, 0.0]],
                               atol=1e-12)


def test_degree_linkage_affinity_equals_the_matrix_formula_with_unequal_clusters():
    rng = np.random.default_rng(3)
    W = rng.random((12, 12)) * (rng.random((12, 12)) < 0.4)
    np.fill_diagonal(W, 0)
    labels = np.array([5, 5, 5, 9, 9, 2, 2, 2, 2, 7, 5, 9])     # any integers, sizes 4/3/4/1
    ids = np.unique(labels)
    expected = np.zeros((4, 4))
    for i, ci in enumerate(ids):
        for j, cj in enumerate(ids):
            if i == j:
                continue
            a, b = np.flatnonzero(labels == ci), np.flatnonzero(labels == cj)
            Wab, Wba = W[np.ix_(a, b)], W[np.ix_(b, a)]
            expected[i, j] = (np.ones(len(a)) @ Wab @ Wba @ np.ones(len(a)) / len(a) ** 2
                              + np.ones(len(b)) @ Wba @ Wab @ np.ones(len(b)) / len(b) ** 2)
    np.testing.assert_allclose(cluster_affinity(sparse.csr_matrix(W), labels), expected,
                               atol=1e-12)


# --- merge criterion ------------------------------------------------------------------------------

def _hand_affinity():
    A = np.zeros((5, 5))
    for (i, j), v in {(0, 1): 0.90, (0, 2): 0.85, (0, 3): 0.80, (1, 2): 0.88,
                      (3, 4): 0.70}.items():
        A[i, j] = A[j, i] = v
    return A


def test_merge_criterion_prefers_a_confident_pair_over_the_largest_affinity():
    A = _hand_affinity()
    # K_c = 3, lambda = 1: score_i = A1 + 1/2 ((A1 - A2) + (A1 - A3))
    expected = {0: 0.90 + 0.5 * ((0.90 - 0.85) + (0.90 - 0.80)),   # 0.975
                1: 0.90 + 0.5 * ((0.90 - 0.88) + (0.90 - 0.00)),   # 1.36
                2: 0.88 + 0.5 * ((0.88 - 0.85) + (0.88 - 0.00)),   # 1.335
                3: 0.80 + 0.5 * ((0.80 - 0.70) + (0.80 - 0.00)),   # 1.25
                4: 0.70 + 0.5 * ((0.70 - 0.00) + (0.70 - 0.00))}   # 1.40
    scores, nearest = merge_candidates(A, K_c=3, lam=1.0)
    np.testing.assert_allclose(scores, [expected[i] for i in range(5)])
    np.testing.assert_array_equal(nearest, [1, 0, 1, 0, 3])
    assert select_merge(A, K_c=3, lam=1.0) == (4, 3)       # not the largest affinity (0, 1)
    # without the local-structure term (lambda = 0, or the code's switch) it is the largest
    assert select_merge(A, K_c=3, lam=0.0) == (0, 1)
    assert select_merge(A, K_c=3, lam=1.0, local_structure=False) == (0, 1)
    with pytest.raises(ValueError, match="positive affinity"):
        select_merge(np.zeros((3, 3)))


def _brute_graph(x, K_s, a=1.0):
    d2 = ((x[:, None] - x[None]) ** 2).sum(-1)
    np.fill_diagonal(d2, np.inf)
    nn = np.argsort(d2, axis=1, kind="stable")[:, :K_s]
    rows = np.arange(len(x))[:, None]
    sigma2 = a * d2[rows, nn].mean()
    W = np.zeros_like(d2)
    W[rows, nn] = np.exp(-d2[rows, nn] / sigma2)
    return W


def _brute_affinity(W, labels):
    ids = np.unique(labels)
    A = np.zeros((len(ids), len(ids)))
    for i, ci in enumerate(ids):
        for j, cj in enumerate(ids):
            if i != j:
                a, b = labels == ci, labels == cj
                A[i, j] = (W[a][:, b].sum(0) @ W[b][:, a].sum(1) / a.sum() ** 2
                           + W[b][:, a].sum(0) @ W[a][:, b].sum(1) / b.sum() ** 2)
    return ids, A


def _brute_pair(A, K_c, lam):
    scores, nearest = [], []
    for i in range(len(A)):
        others = np.sort(np.delete(A[i], i))[::-1]
        others = np.concatenate([others, np.zeros(K_c)])[:K_c]
        scores.append(others[0] + lam / (K_c - 1) * np.sum(others[0] - others[1:]))
        row = A[i].copy()
        row[i] = -1
        nearest.append(int(np.argmax(row)))
    i = int(np.argmax(scores))
    return i, nearest[i]


def test_one_merge_on_points_merges_the_pair_the_criterion_names():
    x = np.array([[0.0, 0.0], [0.0, 1.0], [1.2, 0.0], [1.2, 1.0],
                  [4.0, 4.0], [4.0, 5.0], [5.5, 4.5], [6.0, 5.5]])
    start = np.array([0, 0, 1, 1, 2, 2, 3, 3])
    cfg = JULEConfig(K_s=3, K_c=3, local_structure_above=0)
    ids, A = _brute_affinity(_brute_graph(x, 3), start)
    i, j = _brute_pair(A, 3, 1.0)
    merged = agglomerate(x, 3, cfg, initial_labels=start, max_merges=1)
    expected = start.copy()
    expected[expected == ids[j]] = ids[i]
    assert same_partition(merged, expected)
    assert len(np.unique(merged)) == 3


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_incremental_agglomeration_equals_recomputing_everything_each_merge(seed):
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.normal(c, 1.0, (14, 3)) for c in (0.0, 3.0, 6.0)])
    cfg = JULEConfig(K_s=5, K_c=3, local_structure_above=0, initial_clustering="singletons")
    n_merges = 24
    labels, info = agglomerate(x, 3, cfg, max_merges=n_merges, return_info=True)
    assert info["n_centroid_merges"] == 0 and info["n_merges"] == n_merges
    W = _brute_graph(x, 5)
    reference = np.arange(len(x))
    for _ in range(n_merges):
        ids, A = _brute_affinity(W, reference)
        i, j = _brute_pair(A, 3, 1.0)
        reference[reference == ids[j]] = ids[i]
    assert same_partition(labels, reference)


# --- initial clusters and the forward pass ------------------------------------------------------

def test_nearest_neighbour_linking_on_a_hand_example():
    x = np.array([[0.0], [1.0], [1.5], [10.0], [10.2], [20.0]])
    # nearest neighbours 0->1, 1->2, 2->1, 3->4, 4->3, 5->4
    np.testing.assert_array_equal(nn_link_clusters([1, 2, 1, 4, 3, 4]), [0, 0, 0, 1, 1, 1])
    np.testing.assert_array_equal(initial_clusters(x), [0, 0, 0, 1, 1, 1])
    # fewer linked clusters than the target: one cluster per sample
    np.testing.assert_array_equal(initial_clusters(x, 3), np.arange(6))
    np.testing.assert_array_equal(initial_clusters(x, method="singletons"), np.arange(6))


@pytest.mark.parametrize("update", ["exact", "fast"])
def test_agglomerate_recovers_separated_blobs(update):
    x, y = separated_blobs()
    labels, info = agglomerate(x, 4, JULEConfig(K_s=10, affinity_update=update),
                               return_info=True)
    assert labels.shape == y.shape and len(np.unique(labels)) == 4
    assert nmi(y, labels) == pytest.approx(1.0)
    assert info["n_start"] > 4 and info["n_end"] == 4
    assert info["cluster_matrix_bytes"] == 4 * info["n_start"] ** 2


def test_agglomerate_on_blob_vectors_and_in_periods(make_blob_vectors):
    x, y = make_blob_vectors(n_per_class=40, n_classes=4, dim=32, seed=2)
    cfg = JULEConfig(K_s=10, local_structure_above=0)
    assert nmi(y, agglomerate(x, 4, cfg)) == pytest.approx(1.0)
    # partial unrolling: one period merges ceil(eta * C) times
    one, info = agglomerate(x, 4, cfg, merge_fraction=0.5, return_info=True)
    c0 = info["n_start"]
    assert c0 > 8 and len(np.unique(one)) == info["n_end"] == c0 - math.ceil(0.5 * c0)


def test_disconnected_graph_still_reaches_the_target_by_nearest_centroids():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 0.1, (10, 2)), rng.normal(50, 0.1, (10, 2))])
    labels, info = agglomerate(x, 1, JULEConfig(K_s=3), return_info=True)
    assert np.all(labels == 0) and info["n_centroid_merges"] >= 1


# --- backward pass --------------------------------------------------------------------------------

def test_triplet_loss_matches_a_brute_force_computation():
    from keras import ops

    rng = np.random.default_rng(0)
    f = rng.normal(size=(7, 3)).astype(np.float32)
    y = np.array([0, 0, 1, 1, 1, 2, 0])
    gamma, margin = 2.0, 0.2
    terms = []
    for a in range(7):
        for p in range(7):
            if a != p and y[a] == y[p]:
                negatives = [max(0.0, gamma * np.sum((f[a] - f[p]) ** 2)
                                 - np.sum((f[a] - f[k]) ** 2) + margin)
                             for k in range(7) if y[k] != y[a]]
                terms.append(np.mean(negatives))
    loss = triplet_loss(gamma, margin)
    value = float(ops.convert_to_numpy(loss(y.astype(np.float32), f)))
    assert value == pytest.approx(np.mean(terms), rel=1e-5)
    assert float(ops.convert_to_numpy(loss(np.arange(7.0), f))) == 0.0   # no positive pair
    assert float(ops.convert_to_numpy(loss(np.zeros(7), f))) == 0.0      # no negative


def test_default_networks_follow_the_jule_code():
    mnist = build_jule_network((28, 28, 1), seed=0)
    usps = build_jule_network((16, 16, 1), seed=0)
    assert mnist.get_layer("flatten").output.shape[-1] == 3200
    assert usps.get_layer("flatten").output.shape[-1] == 1800
    assert mnist.output.shape[-1] == usps.output.shape[-1] == 160
    out = usps.predict(np.random.default_rng(0).random((3, 16, 16, 1), dtype=np.float32),
                       verbose=0)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-5)
    with pytest.raises(ValueError, match="height, width, channels"):
        build_jule_network((64,), seed=0)


def _tiny_network(input_shape, seed):
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape=input_shape)
    h = layers.Conv2D(4, 3, activation="relu")(inputs)
    h = layers.MaxPooling2D(2)(h)
    h = layers.Dense(16)(layers.Flatten()(h))
    return keras.Model(inputs, layers.UnitNormalization()(h))


def test_jule_runs_end_to_end_and_returns_the_requested_clusters(blob_images):
    x, y = blob_images
    x, y = x[:64], y[:64]
    cfg = JULEConfig(K_s=5, epochs_per_period=1, batch_size=16, eta=0.5)
    result = JULE(4, cfg, build_network=_tiny_network).fit(x, seed=0, y=y)
    assert result.labels.shape == (64,) and result.n_clusters_found == 4
    # Quality on easy data (4 well separated blobs). Measured (2026-12-07, seeds 0-2): final
    # ACC 1.0, NMI 1.0. Chance on these 64 points: ACC 0.36 (99th percentile 0.42), NMI ~0.05.
    assert cluster_acc(y, result.labels) >= 0.8 and nmi(y, result.labels) >= 0.7
    assert len(np.unique(result.labels)) == 4
    assert result.history[-1]["nmi"] == pytest.approx(nmi(y, result.labels))
    stages = [row["stage"] for row in result.history]
    assert stages[0] == "initial" and stages[-1] == "final" and "period" in stages
    counts = [row["n_clusters"] for row in result.history[:-1]]
    assert counts == sorted(counts, reverse=True) and counts[0] > 4
    assert all(row["nmi"] is not None for row in result.history)
    assert result.history[-1]["nmi"] > result.history[0]["nmi"]   # measured 0.81 -> 1.0
    assert result.history[0]["loss"] is None and isinstance(result.history[1]["loss"], float)
    assert result.info["epochs"] == len(stages) - 2 and result.info["stopped_by"] == "n_clusters"
    assert {"forward_s", "backward_s", "cluster_s", "total_s"} <= set(result.timings)


def test_jule_with_the_default_network_caps_epochs_and_scores_only_with_labels(
        blob_images):
    x, y = blob_images
    cfg = JULEConfig(K_s=5, epochs_per_period=1, max_epochs=1, batch_size=32, eta=0.2,
                     final_recluster=False)
    result = JULE(4, cfg).fit(x[:48], seed=1)
    assert result.n_clusters_found == 4 and result.info["epochs"] == 1
    # labels never used, yet the blobs are found: measured ACC 1.0 (seeds 1-3); chance ~0.38
    assert cluster_acc(y[:48], result.labels) >= 0.8
    assert result.info["stopped_by"] == "max_epochs"
    assert all(row["nmi"] is None for row in result.history)


# --- bad input ------------------------------------------------------------------------------------

def test_bad_inputs_raise_clear_errors():
    x = np.random.default_rng(0).normal(size=(10, 2))
    with pytest.raises(ValueError, match="2-D"):
        knn_affinity(np.zeros(10), K_s=2)
    with pytest.raises(ValueError, match="K_s"):
        knn_affinity(x, K_s=10)
    with pytest.raises(ValueError, match="NaN"):
        knn_affinity(np.full((4, 2), np.nan), K_s=1)
    with pytest.raises(ValueError, match="n_clusters"):
        agglomerate(x, 11, JULEConfig(K_s=3))
    with pytest.raises(ValueError, match="K_s"):
        agglomerate(x, 2, JULEConfig(K_s=10))
    with pytest.raises(ValueError, match="initial_labels"):
        agglomerate(x, 2, JULEConfig(K_s=3), initial_labels=np.zeros(9, int))
    with pytest.raises(ValueError, match="fewer than n_clusters"):
        agglomerate(x, 3, JULEConfig(K_s=3), initial_labels=np.arange(10) % 2)
    with pytest.raises(ValueError, match="labels hold"):
        cluster_affinity(np.zeros((4, 4)), np.zeros(5, int))
    images = np.random.default_rng(0).random((12, 16, 16, 1), dtype=np.float32)
    with pytest.raises(ValueError, match="n_clusters"):
        JULE(13, JULEConfig(K_s=3), build_network=_tiny_network).fit(images, seed=0)
    with pytest.raises(ValueError, match="K_s"):
        JULE(2, JULEConfig(K_s=12), build_network=_tiny_network).fit(images, seed=0)
    with pytest.raises(ValueError, match="height, width, channels"):
        JULE(2, JULEConfig(K_s=3)).fit(images.reshape(12, -1), seed=0)
    with pytest.raises(ValueError, match="shape"):
        JULE(2, JULEConfig(K_s=3), build_network=_tiny_network).fit(images, seed=0,
                                                                       y=np.zeros(5))


@pytest.mark.parametrize("field, value", [("K_s", 0), ("K_c", 0), ("eta", 0.0), ("eta", 1.5),
                                          ("batch_size", 1), ("affinity_update", "slow"),
                                          ("initial_clustering", "kmeans"), ("gamma", 0.0),
                                          ("margin", -1.0), ("epochs_per_period", 0)])
def test_config_rejects_bad_values(field, value):
    with pytest.raises(ValueError, match=field):
        JULEConfig(**{field: value})
