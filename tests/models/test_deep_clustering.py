"""DeepClusteringModel: loss composition (IDEC/DCEC: L_r + gamma L_c; DEC: L_c) and target lookup."""
import keras
import numpy as np
import pytest
from keras import ops

from repro.models.autoencoders import dense_autoencoder
from repro.models.deep_clustering import DeepClusteringModel


def _model(reconstruct: bool, gamma: float = 0.1, n: int = 6, k: int = 3):
    keras.utils.set_random_seed(0)
    autoencoder, encoder = dense_autoencoder(5, (4, 2), seed=0)
    model = DeepClusteringModel(encoder, k, n, autoencoder=autoencoder if reconstruct else None,
                                gamma=gamma)
    model.set_centres(np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]))
    rng = np.random.default_rng(0)
    targets = rng.dirichlet(np.ones(k), size=n).astype("float32")
    model.set_targets(targets)
    return model, targets, rng.random((n, 5)).astype("float32")


def _kl(p, q):
    return np.mean(np.sum(p * np.log(p / q), axis=1))


@pytest.mark.parametrize("gamma", [0.1, 2.5])
def test_idec_loss_is_reconstruction_plus_gamma_times_kl(gamma):
    model, targets, x = _model(reconstruct=True, gamma=gamma)
    index = np.array([4, 1, 5])  # any subset, in any order
    q, x_hat = (ops.convert_to_numpy(t) for t in model(x[index]))
    loss = float(ops.convert_to_numpy(model.compute_loss(x[index], index, model(x[index]))))
    expected = np.mean((x[index] - x_hat) ** 2) + gamma * _kl(targets[index], q)
    assert loss == pytest.approx(expected, rel=1e-5)


def test_dec_loss_is_kl_only_and_uses_the_indexed_targets():
    model, targets, x = _model(reconstruct=False)
    index = np.array([2, 0])
    q = ops.convert_to_numpy(model(x[index]))
    assert q.shape == (2, 3)
    loss = float(ops.convert_to_numpy(model.compute_loss(x[index], index, model(x[index]))))
    assert loss == pytest.approx(_kl(targets[index], q), rel=1e-5)
    wrong = float(ops.convert_to_numpy(model.compute_loss(x[index], index[::-1], model(x[index]))))
    assert wrong != pytest.approx(loss, rel=1e-3)


def test_fit_on_sample_indices_lowers_the_loss_and_logs_components():
    model, _, x = _model(reconstruct=True)
    model.compile(optimizer=keras.optimizers.Adam(0.01))
    history = model.fit(x, np.arange(6), batch_size=3, epochs=15, shuffle=False, verbose=0).history
    assert {"loss", "clustering_loss", "reconstruction_loss"} <= set(history)
    assert history["loss"][-1] < history["loss"][0]
    np.testing.assert_allclose(history["loss"], np.array(history["reconstruction_loss"])
                               + 0.1 * np.array(history["clustering_loss"]), rtol=1e-4)


def test_errors_name_the_problem():
    model, _, x = _model(reconstruct=False)
    with pytest.raises(ValueError, match="targets must have shape"):
        model.set_targets(np.ones((5, 3)))
    with pytest.raises(ValueError, match="index"):
        model.compute_loss(x, None, model(x))
    _, other_encoder = dense_autoencoder(5, (4, 2))
    other_autoencoder, _ = dense_autoencoder(5, (4, 2))
    with pytest.raises(ValueError, match="autoencoder's graph"):
        DeepClusteringModel(other_encoder, 3, 6, autoencoder=other_autoencoder)
