"""k-means baseline / initialiser, autoencoder pretraining, ClusteringResult."""
import numpy as np
import pytest

from repro.methods.base import ClusteringResult, score_labels
from repro.methods.kmeans import KMeans, KMeansConfig, kmeans
from repro.methods.pretrain import (
    PretrainConfig,
    as_model_input,
    make_optimizer,
    pretrain_autoencoder,
    pretrain_dense_autoencoder,
)
from repro.models.autoencoders import dense_autoencoder


@pytest.mark.parametrize("implementation", ["sklearn", "faiss"])
def test_kmeans_baseline_recovers_separated_clusters(blob_images, implementation):
    x, y = blob_images
    result = KMeans(4, KMeansConfig(n_init=3, implementation=implementation)).fit(x, seed=0, y=y)
    assert result.info["implementation"] == implementation
    assert result.history[0]["acc"] == 1.0 and result.history[0]["nmi"] == pytest.approx(1.0)
    assert result.timings["cluster_s"] > 0


@pytest.mark.parametrize("implementation", ["sklearn", "faiss"])
def test_kmeans_fit_is_consistent_and_seeded(implementation):
    rng = np.random.default_rng(0)
    features = rng.normal(size=(300, 3)).astype("float32")
    fit = kmeans(features, 5, seed=3, n_init=4, implementation=implementation)
    squared = ((features[:, None, :] - fit.centres[None]) ** 2).sum(axis=2)
    np.testing.assert_array_equal(fit.labels, squared.argmin(axis=1))  # labels = nearest centre
    assert fit.inertia == pytest.approx(squared.min(axis=1).sum(), rel=1e-3)
    again = kmeans(features, 5, seed=3, n_init=4, implementation=implementation)
    np.testing.assert_array_equal(fit.labels, again.labels)
    single = min(kmeans(features, 5, seed=s, n_init=1, implementation=implementation).inertia
                 for s in range(2))
    assert fit.inertia <= single * 1.05  # best of several restarts is not worse than single runs


def test_kmeans_rejects_unknown_implementation():
    with pytest.raises(ValueError, match="implementation"):
        kmeans(np.zeros((10, 2)), 2, seed=0, implementation="scipy")


def test_pretraining_lowers_reconstruction_error(blob_images):
    x, _ = blob_images
    autoencoder, _ = dense_autoencoder(256, (32, 4), seed=0)
    result = pretrain_autoencoder(autoencoder, x, PretrainConfig(epochs=5, batch_size=32), seed=0,
                                  verbose=0)
    assert len(result["loss"]) == 5 and result["loss"][-1] < result["loss"][0]
    assert result["seconds"] > 0


def test_pretrained_autoencoder_rebuilds_with_same_weights(blob_images):
    x, _ = blob_images
    pre = pretrain_dense_autoencoder(x, PretrainConfig(epochs=1, batch_size=64), seed=0,
                                     dims=(16, 3), verbose=0)
    assert pre.architecture == "dense" and pre.build_kwargs["input_dim"] == 256
    a, _ = pre.build()
    b, _ = pre.build()
    flat = x.reshape(len(x), -1)
    np.testing.assert_allclose(a.predict(flat, verbose=0), b.predict(flat, verbose=0))


def test_input_reshaping_and_optimizer_errors():
    autoencoder, _ = dense_autoencoder(12, (4, 2))
    assert as_model_input(autoencoder, np.zeros((3, 2, 6, 1))).shape == (3, 12)
    with pytest.raises(ValueError, match="does not fit"):
        as_model_input(autoencoder, np.zeros((3, 13)))
    with pytest.raises(ValueError, match="unknown optimizer"):
        make_optimizer("rmsprop", 0.1)


def test_clustering_result_validates_labels():
    result = ClusteringResult(labels=np.array([0, 2, 2]))
    assert result.labels.dtype == np.int64 and result.n_clusters_found == 2
    with pytest.raises(ValueError, match="1-D"):
        ClusteringResult(labels=np.zeros((2, 2), dtype=int))
    with pytest.raises(ValueError, match="integers"):
        ClusteringResult(labels=np.array([0.5, 1.0]))
    assert score_labels(None, np.array([0, 1])) == (None, None)


def test_loss_plateau_stops_pretraining_once_the_loss_flattens(blob_images):
    x, _ = blob_images
    long = PretrainConfig(epochs=40, batch_size=32)
    autoencoder, _ = dense_autoencoder(256, (32, 4), seed=0)
    full = pretrain_autoencoder(autoencoder, x, long, seed=0, verbose=0)
    autoencoder, _ = dense_autoencoder(256, (32, 4), seed=0)
    rule = PretrainConfig(epochs=40, batch_size=32, plateau_window=2, plateau_rel_tol=0.05)
    stopped = pretrain_autoencoder(autoencoder, x, rule, seed=0, verbose=0)
    assert full["epochs"] == 40 and 2 < stopped["epochs"] < 40
    losses = stopped["loss"]
    # it stopped at the first epoch whose loss fell < 5% over the last 2 epochs, and not before
    drops = [(losses[e - 2] - losses[e]) / losses[e - 2] for e in range(2, len(losses))]
    assert drops[-1] < 0.05 and all(d >= 0.05 for d in drops[:-1])
    np.testing.assert_allclose(losses, full["loss"][:len(losses)], rtol=1e-5)  # same path until then
    with pytest.raises(ValueError, match="plateau"):
        PretrainConfig(plateau_window=-1)


def test_dense_initialisers_follow_dec_keras():
    import keras

    glorot, _ = dense_autoencoder(784, (500, 10), seed=0)
    fan_in, _ = dense_autoencoder(784, (500, 10), seed=0, init="fan_in_uniform")
    w_glorot = keras.ops.convert_to_numpy(glorot.get_layer("encoder_0").kernel.value)
    w_fan_in = keras.ops.convert_to_numpy(fan_in.get_layer("encoder_0").kernel.value)
    # VarianceScaling(1/3, fan_in, uniform): U(-sqrt(1/fan_in), sqrt(1/fan_in)), fan_in = 784
    limit = np.sqrt(1 / 784)
    assert np.abs(w_fan_in).max() <= limit and np.abs(w_fan_in).max() > 0.95 * limit
    glorot_limit = np.sqrt(6 / (784 + 500))
    assert np.abs(w_glorot).max() > 0.95 * glorot_limit > limit
    with pytest.raises(ValueError, match="initialiser"):
        dense_autoencoder(784, (500, 10), init="he_normal")
    pre = pretrain_dense_autoencoder(np.zeros((8, 784), "float32"), PretrainConfig(epochs=0),
                                     seed=0, dims=(8, 2), init="fan_in_uniform", verbose=0)
    assert pre.build_kwargs["init"] == "fan_in_uniform"  # a rebuilt copy keeps the initialiser
