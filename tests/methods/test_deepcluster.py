"""DeepCluster's pieces: PCA whitening, the empty-cluster rule, the uniform sampler, NMI, and a
tiny end-to-end run (labels used only to score)."""

import numpy as np
import pytest

from repro.methods.deepcluster import (DeepCluster, DeepClusterConfig, PCAWhitening,
                                       SupervisedNetwork, TrainConfig, fill_empty_clusters,
                                       uniform_cluster_sample)
from repro.metrics import nmi


def test_pca_whitening_gives_identity_covariance_on_its_fit_data():
    rng = np.random.default_rng(0)
    mixing = rng.normal(size=(20, 20)) * np.linspace(0.1, 5.0, 20)
    x = (rng.normal(size=(4000, 20)) @ mixing + 3.0).astype(np.float32)
    z = PCAWhitening(8).fit(x).transform(x, normalize=False)
    assert z.shape == (4000, 8)
    np.testing.assert_allclose(z.mean(axis=0), 0.0, atol=1e-3)
    np.testing.assert_allclose(np.cov(z, rowvar=False, bias=True), np.eye(8), atol=2e-3)


def test_pca_whitening_l2_normalises_rows_and_checks_its_input():
    x = np.random.default_rng(1).normal(size=(100, 6)).astype(np.float32)
    z = PCAWhitening(4).fit(x).transform(x)
    np.testing.assert_allclose(np.linalg.norm(z, axis=1), 1.0, rtol=1e-5)
    with pytest.raises(ValueError, match="impossible"):
        PCAWhitening(7).fit(x)
    with pytest.raises(ValueError, match="NaN"):
        PCAWhitening(2).fit(np.full((10, 3), np.nan))


def _with_empty_clusters():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(300, 4)).astype(np.float32)
    labels = rng.integers(0, 3, size=300)          # clusters 3..7 empty
    centroids = np.stack([x[labels == c].mean(axis=0) if c < 3 else np.zeros(4)
                          for c in range(8)]).astype(np.float32)
    return x, labels, centroids


def test_empty_cluster_rule_leaves_no_cluster_empty():
    x, labels, centroids = _with_empty_clusters()
    filled, new_centroids, n_empty = fill_empty_clusters(x, labels, centroids,
                                                         rng=np.random.default_rng(0))
    assert n_empty == 5
    assert np.bincount(filled, minlength=8).min() >= 1
    assert new_centroids.shape == centroids.shape
    # points only move from a split cluster into a formerly empty one
    moved = filled != labels
    assert (filled[moved] >= 3).all()


def test_empty_cluster_rule_is_deterministic_per_seed_and_a_no_op_without_empties():
    x, labels, centroids = _with_empty_clusters()
    a = fill_empty_clusters(x, labels, centroids, rng=np.random.default_rng(5))[0]
    b = fill_empty_clusters(x, labels, centroids, rng=np.random.default_rng(5))[0]
    np.testing.assert_array_equal(a, b)
    full = np.arange(300) % 8
    same, _, n_empty = fill_empty_clusters(x, full, centroids, rng=np.random.default_rng(0))
    assert n_empty == 0
    np.testing.assert_array_equal(same, full)


def test_empty_cluster_rule_rejects_too_few_points():
    with pytest.raises(ValueError, match="cannot fill"):
        fill_empty_clusters(np.zeros((3, 2)), np.zeros(3, int), np.zeros((5, 2)),
                            rng=np.random.default_rng(0))


def test_uniform_sampling_draws_every_cluster_equally_often_including_tiny_ones():
    labels = np.concatenate([np.zeros(5000, int), np.ones(3, int), np.full(997, 2)])
    picks = uniform_cluster_sample(labels, 6000, rng=np.random.default_rng(0))
    assert picks.shape == (6000,)
    counts = np.bincount(labels[picks], minlength=3)
    np.testing.assert_array_equal(counts, [2000, 2000, 2000])
    # the tiny cluster's three images are all drawn, with replacement
    assert set(picks[labels[picks] == 1]) == {5000, 5001, 5002}
    # the large cluster gives distinct images (without replacement)
    assert len(set(picks[labels[picks] == 0])) == 2000


def test_uniform_sampling_is_shuffled_and_seeded():
    labels = np.repeat(np.arange(4), 50)
    a = uniform_cluster_sample(labels, 200, rng=np.random.default_rng(3))
    b = uniform_cluster_sample(labels, 200, rng=np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(np.sort(labels[a]), labels[a])   # not grouped by cluster


def test_nmi_of_identical_assignments_is_one():
    labels = np.random.default_rng(0).integers(0, 7, size=500)
    assert nmi(labels, labels) == pytest.approx(1.0)
    assert nmi(labels, (labels + 3) % 7) == pytest.approx(1.0)   # renamed clusters


def _tiny_net():
    from repro.models.deepcluster_net import NetConfig

    return NetConfig(conv_widths=(2, 4, 4, 4, 4), fc_widths=(8, 8))


def _deepcluster(epochs=2):
    return DeepCluster(DeepClusterConfig(k=8, pca_dim=4, kmeans_iter=3),
                       TrainConfig(epochs=epochs, batch_size=32), _tiny_net(), verbose=0,
                       log=lambda _: None)


def test_deepcluster_learns_from_its_clusters_and_records_fig2_history(tiny_digits):
    import keras

    x, y = tiny_digits
    learner = _deepcluster()
    model = learner.fit(x, seed=0, y=y)
    assert isinstance(model, keras.Model) and model.get_layer("top").units == 8
    history, labels = learner.info_["history"], learner.info_["labels"]
    assert [row["epoch"] for row in history] == [0, 1]
    assert np.isnan(history[0]["nmi_epochs"])
    # the last row scores the labels returned. Measured (2026-12-07, fc7 before its ReLU, the
    # code's initialisation): NMI with the classes 0.78, 0.82; between the two epochs' clusters
    # 0.86. Chance (random 8-way labels of these 160
    # images): 0.04 (99th percentile 0.07).
    assert history[-1]["nmi_labels"] == pytest.approx(nmi(y, labels))
    assert all(row["nmi_labels"] >= 0.4 for row in history)
    assert history[1]["nmi_epochs"] >= 0.3
    assert labels.shape == (len(x),) and np.bincount(labels, minlength=8).min() >= 1


@pytest.fixture
def tiny_digits():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(4), 40)
    x = rng.uniform(0, 0.2, size=(160, 12, 12, 1)).astype(np.float32)
    for c in range(4):   # one bright quadrant per class
        r, q = divmod(c, 2)
        x[y == c, 6 * r:6 * r + 6, 6 * q:6 * q + 6, 0] += 0.8
    return x, y


def test_pca_whitening_refuses_a_dimension_above_the_features_rank():
    # a dead unit (constant feature) leaves a 16-dim feature of rank 15: whitening to 16 dims
    # would divide by a zero eigenvalue (NaN rows, faiss k-means stops) -- a clear error instead
    x = np.random.default_rng(0).normal(size=(500, 16)).astype(np.float32)
    x[:, 3] = 0.0
    with pytest.raises(ValueError, match=r"rank 15.*pca_dim <= 15"):
        PCAWhitening(16).fit(x)
    z = PCAWhitening(15).fit(x).transform(x)
    assert np.isfinite(z).all()
    # a linearly dependent column lowers the rank the same way
    x[:, 3] = x[:, 0] + 2 * x[:, 1]
    with pytest.raises(ValueError, match="rank 15"):
        PCAWhitening(16).fit(x)
    assert PCAWhitening(16).fit(np.random.default_rng(1).normal(size=(500, 16))).dim == 16


def test_supervised_early_stop_keeps_the_best_validation_epoch(tiny_digits):
    """The supervised rows' label-free budget: on held-out *training* images whose labels the
    training labels do not predict (shuffled), the validation loss stops improving early; the
    run stops ``patience`` epochs after its best epoch and keeps that epoch's weights."""
    import keras

    x, y = tiny_digits
    y_val = np.random.default_rng(3).permutation(y[:80])
    train = TrainConfig(epochs=40, batch_size=32, validation_images=80, patience=2)
    learner = SupervisedNetwork(train, _tiny_net(), validation=(x[:80], y_val), verbose=0,
                                log=lambda _: None)
    model = learner.fit(x[80:], seed=0, y=y[80:])
    info = learner.info_
    assert info["epochs_run"] < 40
    assert info["epochs_run"] - info["epochs"] == 2
    assert info["epochs"] == int(np.argmin(info["val_loss"])) + 1
    kept = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(
        y_val, model.predict(x[:80], verbose=0))
    assert float(kept) == pytest.approx(min(info["val_loss"]), rel=1e-4)
    # without the rule: exactly ``epochs`` epochs, nothing held out
    fixed = SupervisedNetwork(TrainConfig(epochs=2, batch_size=32), _tiny_net(), verbose=0,
                              log=lambda _: None)
    fixed.fit(x, seed=0, y=y)
    assert fixed.info_["epochs"] == fixed.info_["epochs_run"] == 2
    assert fixed.info_["val_loss"] == []
    with pytest.raises(ValueError, match="set together"):
        TrainConfig(validation_images=80)
    with pytest.raises(ValueError, match="no validation images"):
        SupervisedNetwork(train, _tiny_net())
    with pytest.raises(ValueError, match="y is required"):
        fixed.fit(x, seed=0)
