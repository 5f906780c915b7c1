"""DCN (Yang et al., ICML 2017): centre update, network step, full method on tiny data."""
from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from repro.methods.dcn import (  # noqa: E402
    DCN,
    DCNConfig,
    build_dcn_network,
    kmeans_term,
    nearest_centres,
    update_centres,
)
from repro.methods.pretrain import PretrainedAutoencoder  # noqa: E402
from repro.models.autoencoders import dense_autoencoder  # noqa: E402

DIMS = (32, 16, 3)
N_CLUSTERS, N_PER, N_FEATURES = 4, 60, 20


def _sequential_update(centres, counts, z, labels):
    """Algorithm 1's centroid update, one sample at a time: c_k += 1; m_k -= (m_k - z_i) / c_k."""
    centres, counts = centres.astype(float).copy(), counts.astype(float).copy()
    for zi, k in zip(z, labels):
        counts[k] += 1
        centres[k] -= (centres[k] - zi) / counts[k]
    return centres, counts


def test_update_centres_hand_worked():
    centres, counts = np.array([[0.0, 0.0], [10.0, 10.0]]), np.array([1.0, 5.0])
    z = np.array([[2.0, 0.0], [4.0, 0.0]])
    new_c, new_n = update_centres(centres, counts, z, np.array([0, 0]))
    # sequential: c=2 -> m=(1,0); c=3 -> m=1-(1-4)/3=2
    np.testing.assert_allclose(new_c, [[2.0, 0.0], [10.0, 10.0]])
    np.testing.assert_allclose(new_n, [3.0, 5.0])
    np.testing.assert_allclose(centres, [[0.0, 0.0], [10.0, 10.0]])  # inputs untouched


def test_update_centres_equals_sequential_rule():
    rng = np.random.default_rng(1)
    centres, counts = rng.normal(size=(5, 3)), rng.integers(1, 50, size=5).astype(float)
    z = rng.normal(size=(40, 3))
    labels = rng.choice([0, 1, 3], size=40)  # clusters 2 and 4 receive nothing
    got_c, got_n = update_centres(centres, counts, z, labels)
    want_c, want_n = _sequential_update(centres, counts, z, labels)
    np.testing.assert_allclose(got_c, want_c, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got_n, want_n)
    # order within the batch does not matter
    perm = rng.permutation(40)
    np.testing.assert_allclose(update_centres(centres, counts, z[perm], labels[perm])[0], want_c)


def test_nearest_centres_matches_brute_force():
    rng = np.random.default_rng(2)
    z, centres = rng.normal(size=(50, 4)), rng.normal(size=(6, 4))
    brute = np.array([np.argmin([np.sum((zi - m) ** 2) for m in centres]) for zi in z])
    np.testing.assert_array_equal(nearest_centres(z, centres), brute)
    assert kmeans_term(z, centres, brute) == pytest.approx(
        np.mean([np.sum((zi - centres[k]) ** 2) for zi, k in zip(z, brute)]))


def _blobs(seed=0):
    """Four well separated Gaussian blobs in [0, 1]^20, shuffled; (x (240, 20), y (240,))."""
    rng = np.random.default_rng(seed)
    means = rng.normal(size=(N_CLUSTERS, N_FEATURES))
    y = rng.permutation(np.repeat(np.arange(N_CLUSTERS), N_PER))
    x = means[y] + 0.25 * rng.normal(size=(y.size, N_FEATURES))
    x = (x - x.min()) / (x.max() - x.min())
    return x.astype("float32"), y


@pytest.fixture(scope="module")
def pretrained():
    """(x, y, weights) of a small dense autoencoder pretrained on the blobs."""
    keras.utils.set_random_seed(0)
    x, y = _blobs()
    autoencoder, _ = dense_autoencoder(N_FEATURES, DIMS, seed=0)
    autoencoder.compile(optimizer="adam", loss="mse")
    autoencoder.fit(x, x, epochs=20, batch_size=32, verbose=0)
    return x, y, autoencoder.get_weights()


def _fresh(weights):
    autoencoder, encoder = dense_autoencoder(N_FEATURES, DIMS, seed=0)
    autoencoder.set_weights(weights)
    return autoencoder, encoder


def _dcn(weights, n_clusters, cfg=None, **kwargs):
    pretrained = PretrainedAutoencoder("dense", {"input_dim": N_FEATURES, "dims": DIMS, "seed": 0},
                                       weights)
    return DCN(n_clusters, cfg, pretrained=pretrained, verbose=0, **kwargs)


def test_network_step_loss_is_reconstruction_plus_half_lambda_kmeans(pretrained):
    x, _, weights = pretrained
    autoencoder, encoder = _fresh(weights)
    cfg = DCNConfig(lam=40.0, learning_rate=1e-3)
    network = build_dcn_network(autoencoder, encoder, cfg)
    targets = np.zeros((x.shape[0], DIMS[-1]), "float32") + 0.5
    x_hat, z = (np.asarray(a) for a in network.predict_on_batch(x))
    before = kmeans_term(z, targets.astype(float), np.arange(x.shape[0]))
    want = np.mean(np.sum((x - x_hat) ** 2, 1)) + cfg.lam / 2 * before
    logs = network.train_on_batch(x, [x, targets], return_dict=True)
    assert logs["loss"] == pytest.approx(want, rel=1e-4)
    for _ in range(20):
        network.train_on_batch(x, [x, targets])
    after = kmeans_term(np.asarray(encoder.predict_on_batch(x)), targets.astype(float),
                        np.arange(x.shape[0]))
    assert after < 0.5 * before  # the k-means term pulls f(x) towards the fixed targets


def test_dcn_separable_blobs(pretrained):
    x, y, weights = pretrained
    images = x.reshape(-1, 4, 5, 1)  # image-shaped input is flattened internally
    cfg = DCNConfig(epochs=4, batch_size=32, learning_rate=1e-3, tol=0.0, n_init=5)
    dcn = _dcn(weights, N_CLUSTERS, cfg)
    res = dcn.fit(images, seed=0, y=y)
    from repro.metrics import cluster_acc, nmi

    assert cluster_acc(y, res.labels) > 0.95
    assert res.labels.shape == (x.shape[0],) and res.labels.dtype == np.int64
    assert [r["epoch"] for r in res.history] == [0.0, 1.0, 2.0, 3.0, 4.0]
    steps = int(np.ceil(x.shape[0] / cfg.batch_size))
    assert [r["iteration"] for r in res.history] == [steps * e for e in range(5)]
    assert res.history[0]["delta_label"] is None and res.history[-1]["acc"] > 0.95
    assert all(np.isfinite(r["loss"]) for r in res.history)
    # every row scores high on these separable blobs (measured: NMI 1.0 at every epoch;
    # random labels score ~0), and the last row scores the labels returned
    assert all(r["nmi"] >= 0.85 for r in res.history)
    assert res.history[-1]["nmi"] == pytest.approx(nmi(y, res.labels))
    assert res.info["stopped_by"] == "max_epochs" and res.info["n_updates"] == 4 * steps
    assert res.info["counts"].sum() == pytest.approx(N_CLUSTERS * cfg.initial_count + 4 * x.shape[0])
    assert set(res.timings) >= {"pretrain_s", "cluster_s"} and res.timings["cluster_s"] > 0
    # labels are the nearest centres of the final embedding (of the copy fit trained)
    z = np.asarray(dcn.encoder_.predict(x, verbose=0))
    np.testing.assert_array_equal(res.labels, nearest_centres(z, res.info["centers"]))
    last = res.history[-1]
    assert last["loss"] == pytest.approx(
        last["reconstruction_loss"] + cfg.lam / 2 * last["clustering_loss"])


def test_dcn_stops_on_tol_without_labels(pretrained):
    x, _, weights = pretrained
    cfg = DCNConfig(epochs=10, batch_size=64, learning_rate=1e-4, tol=0.5, n_init=2)
    res = _dcn(weights, N_CLUSTERS, cfg).fit(x, seed=1)
    assert res.info["stopped_by"] == "tol" and res.info["epochs_run"] == 1
    assert len(res.history) == 2 and res.history[1]["acc"] is None and res.history[1]["nmi"] is None


@pytest.mark.parametrize("n_clusters", [1, 0, 241, 2.5, True])
def test_bad_n_clusters(pretrained, n_clusters):
    x, _, weights = pretrained
    with pytest.raises(ValueError, match="n_clusters"):
        _dcn(weights, n_clusters).fit(x, seed=0)


def test_bad_shapes(pretrained):
    x, y, weights = pretrained
    dcn = _dcn(weights, 4)
    with pytest.raises(ValueError, match="features"):
        dcn.fit(x[:, :-1], seed=0)
    with pytest.raises(ValueError, match="y must have shape"):
        dcn.fit(x, seed=0, y=y[:-1])
    with pytest.raises(ValueError, match="x must"):
        dcn.fit(x[0], seed=0)
    bad = x.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        dcn.fit(bad, seed=0)
    with pytest.raises(ValueError, match="pretrained autoencoder"):
        DCN(4)


@pytest.mark.parametrize("field,value", [("batch_size", 0), ("learning_rate", 0.0),
                                         ("momentum", 1.0), ("lam", -1.0), ("n_init", 0)])
def test_bad_config(field, value):
    with pytest.raises(ValueError, match=field):
        DCNConfig(**{field: value})


def test_network_shares_weights_with_separately_built_encoder(pretrained):
    x, _, weights = pretrained
    autoencoder, encoder = _fresh(weights)
    inputs = keras.Input(shape=(N_FEATURES,))
    wrapped = keras.Model(inputs, encoder(inputs))  # another input tensor: fallback path
    network = build_dcn_network(autoencoder, wrapped, DCNConfig())
    x_hat, z = network.predict_on_batch(x[:8])
    np.testing.assert_allclose(x_hat, autoencoder.predict_on_batch(x[:8]), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(z, encoder.predict_on_batch(x[:8]), rtol=1e-5, atol=1e-6)
    assert len(network.trainable_weights) == len(autoencoder.trainable_weights)
