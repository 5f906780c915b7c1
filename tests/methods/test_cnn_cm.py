"""CNN-CM (convolutional k-means filters, learned connections) and CNN-CM + k-means."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from repro.methods.cnn_cm import (
    CNNCM,
    CNNCMConfig,
    choose_groups,
    cnn_cm_features,
    convolutional_kmeans,
    fit_whitening,
    layer_responses,
    learn_filters,
    map_similarity,
    max_pool,
)


def _digit_like(n_per_class, n_classes=4, side=28, seed=0):
    """(x (n, side, side, 1) in [0, 1], y): one random blocky prototype per class, plus noise."""
    rng = np.random.default_rng(seed)
    coarse = rng.random((n_classes, side // 4, side // 4)) > 0.6
    prototypes = np.kron(coarse, np.ones((4, 4)))[..., None]
    y = np.tile(np.arange(n_classes), n_per_class)
    noise = rng.normal(0.0, 0.05, (len(y), side, side, 1))
    return np.clip(0.9 * prototypes[y] + noise, 0.0, 1.0).astype(np.float32), y

SMALL = CNNCMConfig(patch_sizes=(3, 3), filters=(8, 16), group_size=3, filters_per_group=4,
                    n_learn_images=200, n_windows=500, kmeans_iter=60, cluster_n_init=3)


def _windows_of(model, layer_index=0):
    """The learning windows of layer 1, cut out again by plain slicing (independent code)."""
    layer = model.layers[layer_index]
    images = model.learn_images
    side = layer.window
    return np.stack([images[i, r:r + side, c:c + side] for i, r, c in layer.windows[0]])


def _recomputed_centroids(windows, layer, weighting):
    """k-means step recomputed from scratch in float64: each window's best (location, filter)
    by d . W (q - m), then each filter's (weighted) mean of the whitened patches it won."""
    p = layer.patch_size
    filters = layer.filters[0].astype(np.float64)
    mean, whitening = layer.mean[0].astype(np.float64), layer.whitening[0].astype(np.float64)
    eps = float(layer.norm_eps[0])
    side = windows.shape[1]
    whitened = []
    for row in range(side - p + 1):          # locations in row-major order, as the network
        for col in range(side - p + 1):
            v = windows[:, row:row + p, col:col + p, :].reshape(len(windows), -1).astype(np.float64)
            q = (v - v.mean(axis=1, keepdims=True)) / np.sqrt(v.var(axis=1, keepdims=True) + eps)
            whitened.append((q - mean) @ whitening)
    whitened = np.stack(whitened, axis=1)                        # (N, L, D)
    responses = whitened @ filters.T                             # (N, L, K)
    flat = responses.reshape(len(windows), -1)
    best = flat.argmax(axis=1)
    location, winner = np.divmod(best, len(filters))
    chosen = whitened[np.arange(len(windows)), location]
    weights = flat[np.arange(len(windows)), best] if weighting == "response" else np.ones(len(best))
    counts = np.bincount(winner, minlength=len(filters))
    sums = np.zeros_like(filters)
    np.add.at(sums, winner, chosen * weights[:, None])
    return sums, counts


@pytest.fixture(scope="module")
def blobs(blob_images):
    return blob_images   # (200, 16, 16, 1) random binary prototypes + noise, 4 classes


@pytest.fixture(scope="module")
def small_model(blobs):
    x, _ = blobs
    model = learn_filters(x, SMALL, 0)
    model.learn_images = x[model.learn_indices]   # for the independent recomputations
    return model


@pytest.mark.parametrize("weighting", ["mean", "response"])
def test_first_layer_filters_are_kmeans_centroids_of_whitened_patches(blobs, weighting):
    x, _ = blobs
    cfg = dataclasses.replace(SMALL, patch_sizes=(3,), filters=(6,), n_windows=400,
                              kmeans_iter=500, kmeans_tol=1e-7, weighting=weighting)
    model = learn_filters(x, cfg, 3)
    model.learn_images = x[model.learn_indices]
    layer = model.layers[0]
    assert layer.converged.all() and layer.n_iter[0] < cfg.kmeans_iter
    assert layer.filters.shape == (1, 6, 3 * 3 * 1)
    np.testing.assert_allclose(np.linalg.norm(layer.filters[0], axis=1), 1.0, rtol=1e-5)

    sums, counts = _recomputed_centroids(_windows_of(model), layer, weighting)
    np.testing.assert_array_equal(counts, layer.counts[0])
    won = counts > 0
    assert won.sum() >= 4
    centroids = sums[won] / np.linalg.norm(sums[won], axis=1, keepdims=True)
    # the fixed point of k-means: every filter is the normalised (weighted) mean of its patches
    tolerance = 1e-4 if weighting == "mean" else 2e-3
    np.testing.assert_allclose(layer.filters[0][won], centroids, atol=tolerance)


def test_fit_whitening_is_zca_of_normalised_patches():
    rng = np.random.default_rng(0)
    patches = rng.normal(size=(4000, 9)) @ rng.normal(size=(9, 9)) + 3.0
    mean, whitening, eps = fit_whitening(patches, 0.05, 1e-6)
    variance = patches.var(axis=1).mean()
    assert eps == pytest.approx(0.05 * variance)
    q = (patches - patches.mean(1, keepdims=True)) / np.sqrt(patches.var(1, keepdims=True) + eps)
    np.testing.assert_allclose(mean, q.mean(axis=0), atol=1e-5)
    np.testing.assert_allclose(whitening, whitening.T, atol=1e-5)             # ZCA: symmetric
    white = (q - mean) @ whitening
    covariance = np.cov(white.T, bias=True)
    eigenvalues = np.linalg.eigvalsh(covariance)
    # per-patch normalisation removes one direction (the patch mean); the rest is white
    assert eigenvalues[0] < 1e-3
    np.testing.assert_allclose(eigenvalues[1:], 1.0, atol=1e-3)


def test_convolutional_kmeans_matches_each_window_where_its_pattern_is():
    """One pattern at a random place in each 6x6 window (twice the 3x3 filter). Started from the
    whitened pattern, every window is matched at the location of its pattern (the maximal
    response) and the filter stays the unblurred pattern: a fixed point. The mean of the
    windows' centre crops -- what k-means on unaligned patches averages -- is a blur of
    shifted copies instead."""
    rng = np.random.default_rng(1)
    pattern = np.array([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
    n = 300
    where = rng.integers(0, 4, (n, 2))
    windows = rng.normal(0.0, 0.01, (n, 6, 6, 1))
    for i, (r, c) in enumerate(where):   # test data construction
        windows[i, r:r + 3, c:c + 3, 0] += pattern
    offsets = rng.integers(0, 4, (n, 2))
    fit_patches = np.stack([windows[i, r:r + 3, c:c + 3, 0].ravel()
                            for i, (r, c) in enumerate(offsets)])
    mean, whitening, eps = fit_whitening(fit_patches, 0.05, 0.1)

    def whiten(v):
        return ((v - v.mean(-1, keepdims=True)) / np.sqrt(v.var(-1, keepdims=True) + eps)
                - mean) @ whitening

    target = whiten(pattern.ravel())
    target /= np.linalg.norm(target)
    fit = convolutional_kmeans(windows.astype(np.float32), 1, 3, mean=mean, whitening=whitening,
                               norm_eps=eps, rng=np.random.default_rng(0), max_iter=10,
                               weighting="mean", init=target[None])
    assert fit.converged and fit.n_iter == 2
    found = np.stack(np.divmod(fit.win_location, 4), axis=1)
    np.testing.assert_array_equal(found, where)
    assert fit.filters[0] @ target > 0.999
    blur = whiten(windows[:, 1:4, 1:4, 0].reshape(n, -1)).mean(axis=0)
    assert blur @ target / np.linalg.norm(blur) < 0.5


def test_second_layer_filters_read_exactly_their_group(small_model, blobs):
    x, _ = blobs
    first, second = small_model.layers
    maps = max_pool(layer_responses(x[:20], first), SMALL.pool)
    assert maps.shape == (20, 7, 7, 8)
    assert second.groups.shape == (4, 3) and second.n_filters == 16
    assert second.kernels().shape == (16, 3, 3, 3)
    base = layer_responses(maps, second)
    rng = np.random.default_rng(0)
    for g, group in enumerate(second.groups):
        assert len(set(group.tolist())) == 3                         # distinct maps
        mine = second.filter_group == g
        outside = np.setdiff1d(np.arange(8), group)
        other = maps.copy()
        other[..., outside] = rng.random(other[..., outside].shape) * 5
        np.testing.assert_array_equal(layer_responses(other, second)[..., mine], base[..., mine])
        inside = maps.copy()
        inside[..., group[-1]] = rng.random(inside[..., group[-1]].shape) * 5
        assert not np.allclose(layer_responses(inside, second)[..., mine], base[..., mine])
        # learned connections: the seed map, then its most similar maps (Coates & Ng 2011)
        similarity = second.similarity[group[0]].copy()
        similarity[group[0]] = -np.inf
        assert set(group[1:].tolist()) == set(np.argsort(-similarity, kind="stable")[:2].tolist())


def test_map_similarity_and_group_rules():
    rng = np.random.default_rng(0)
    base = rng.random((200, 5, 5, 3))
    maps = np.concatenate([base, base[..., :1] * 2.0, np.zeros((200, 5, 5, 1))], axis=-1)
    similarity = map_similarity(maps, rng, n_samples=5000, whiten_epsilon=1e-3)
    assert similarity.shape == (5, 5)
    np.testing.assert_allclose(similarity, similarity.T, atol=1e-10)
    assert similarity[0, 3] > 0.9                       # a map and its copy
    assert abs(similarity[1, 2]) < 0.2                  # independent maps
    assert (similarity[4, :4] == 0).all()               # a dead map is similar to nothing
    groups = choose_groups(similarity, 5, 3, 2, np.random.default_rng(0))
    assert groups.shape == (3, 2) and 4 not in groups[:, 0]   # live seeds first
    random_groups = choose_groups(None, 5, 6, 3, np.random.default_rng(0), "random")
    assert random_groups.shape == (6, 3)
    assert all(len(set(g.tolist())) == 3 for g in random_groups)


def test_features_have_the_documented_shape_and_do_not_depend_on_chunks():
    x, _ = _digit_like(15, seed=2)
    cfg = CNNCMConfig(filters=(8, 16), group_size=2, filters_per_group=4, n_learn_images=60,
                      n_windows=300, kmeans_iter=5)
    assert cfg.map_shapes((28, 28, 1)) == [(12, 12, 8), (4, 4, 16)]
    model = learn_filters(x, cfg, 0)
    assert model.feature_shape == (4, 4, 16) and model.feature_dim == 256
    features = cnn_cm_features(x, model, chunk_size=7)
    assert features.shape == (60, 256) and features.dtype == np.float32
    assert (features >= 0).all() and features.std() > 0
    np.testing.assert_allclose(cnn_cm_features(x[..., 0], model, chunk_size=64), features,
                               rtol=1e-5, atol=1e-6)
    three = dataclasses.replace(cfg, patch_sizes=(5, 5, 3), filters=(8, 16, 8))
    assert three.map_shapes((28, 28, 1))[-1] == (1, 1, 8)
    assert cnn_cm_features(x[:5], learn_filters(x, three, 0)).shape == (5, 8)


def test_learning_is_deterministic_per_seed(blobs, small_model):
    x, _ = blobs
    again = learn_filters(x, SMALL, 0)
    for ours, theirs in zip(small_model.layers, again.layers):
        np.testing.assert_array_equal(ours.filters, theirs.filters)
        np.testing.assert_array_equal(ours.groups, theirs.groups)
    other = learn_filters(x, SMALL, 1)
    assert not np.array_equal(other.layers[0].filters, small_model.layers[0].filters)


def test_cnn_cm_kmeans_clusters_blob_images(blobs):
    x, y = blobs
    result = CNNCM(4, SMALL).fit(x, seed=0, y=y)
    assert result.history[0]["nmi"] > 0.9            # chance is about 0
    assert result.info["feature_dim"] == 2 * 2 * 16 and result.info["implementation"] == "faiss"
    assert set(result.timings) == {"pretrain_s", "cluster_s"}
    unlabelled = CNNCM(4, SMALL).fit(x, seed=0)      # labels only score
    np.testing.assert_array_equal(unlabelled.labels, result.labels)
    assert unlabelled.history[0]["nmi"] is None


@pytest.mark.parametrize("changes, message", [
    ({"filters": (8, 10)}, "multiple of filters_per_group"),
    ({"group_size": 9}, "exceeds the 8 maps"),
    ({"patch_sizes": (3,)}, "one value per layer"),
    ({"patch_sizes": (0, 3)}, "patch_sizes"),
    ({"weighting": "soft"}, "weighting"),
    ({"connections": "full"}, "connections"),
    ({"norm_epsilon": 0.0}, "norm_epsilon"),
    ({"pool": 0}, "pool"),
])
def test_bad_config_is_named(changes, message):
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(SMALL, **changes)


def test_bad_input_is_named(blobs, small_model):
    x, y = blobs
    with pytest.raises(ValueError, match="layer 2 gets 3x3 maps"):
        learn_filters(x[:, :10, :10], dataclasses.replace(SMALL, patch_sizes=(5, 5)), 0)
    with pytest.raises(ValueError, match="NaN"):
        learn_filters(np.full((4, 16, 16, 1), np.nan), SMALL, 0)
    with pytest.raises(ValueError, match="shape"):
        learn_filters(np.zeros((4, 16)), SMALL, 0)
    with pytest.raises(ValueError, match="learned on"):
        cnn_cm_features(np.zeros((2, 20, 20, 1)), small_model)
    with pytest.raises(ValueError, match="cannot train"):
        learn_filters(x, dataclasses.replace(SMALL, n_windows=5), 0)
    with pytest.raises(ValueError, match="n_clusters"):
        CNNCM(4, SMALL).fit(x[:3], seed=0)
    with pytest.raises(ValueError, match="y must have shape"):
        CNNCM(4, SMALL).fit(x, seed=0, y=y[:5])
