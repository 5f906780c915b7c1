"""DEC and IDEC end to end on well separated synthetic images (tiny networks, few steps)."""
import keras
import numpy as np
import pytest

from repro.methods.dec import DEC, DECConfig
from repro.methods.idec import IDEC, IDECConfig
from repro.methods.pretrain import PretrainConfig, pretrain_dense_autoencoder
from repro.metrics import cluster_acc

FAST = dict(batch_size=32, update_interval=10, max_iter=100, n_init=5)


@pytest.fixture(scope="module")
def pretrained(blob_images):
    x, _ = blob_images
    return pretrain_dense_autoencoder(x, PretrainConfig(epochs=10, batch_size=32), seed=0,
                                      dims=(64, 32, 4), verbose=0)


def _check_result(result, y):
    n = len(y)
    assert result.labels.shape == (n,) and result.labels.dtype == np.int64
    # the 4 separable blobs give 4 clusters, and final_acc scores the labels returned
    assert len(np.unique(result.labels)) == 4
    assert result.info["final_acc"] == pytest.approx(cluster_acc(y, result.labels))
    assert result.history[-1]["acc"] == pytest.approx(result.info["final_acc"])
    assert set(result.timings) == {"pretrain_s", "cluster_s"} and result.timings["cluster_s"] > 0
    assert result.history[0]["iteration"] == 0
    for row in result.history:
        assert {"iteration", "epoch", "acc", "nmi", "loss", "delta_label"} <= set(row)
    assert result.info["n_updates"] == len(result.history)
    assert result.info["stopped_by"] in ("tol", "max_iter")


def test_dec_reaches_high_accuracy_on_separable_data(blob_images, pretrained):
    x, y = blob_images
    result = DEC(4, DECConfig(tol=0.0, **FAST), pretrained=pretrained, verbose=0).fit(x, seed=0, y=y)
    _check_result(result, y)
    assert result.info["final_acc"] >= 0.95
    assert result.info["stopped_by"] == "max_iter" and result.info["n_iterations"] == 100
    assert [row["iteration"] for row in result.history] == list(range(0, 101, 10))
    losses = [row["loss"] for row in result.history[1:]]
    assert losses[-1] < losses[0]  # self-training sharpens Q towards P


def test_dec_stops_by_tolerance_without_labels(blob_images, pretrained):
    x, _ = blob_images
    result = DEC(4, DECConfig(tol=0.01, **FAST), pretrained=pretrained,
                 verbose=0).fit(x.reshape(len(x), -1), seed=1)
    assert result.info["stopped_by"] == "tol" and result.info["n_iterations"] == 10
    assert result.history[-1]["acc"] is None and result.history[-1]["delta_label"] < 0.01


def test_idec_logs_loss_as_reconstruction_plus_gamma_clustering(blob_images, pretrained):
    x, y = blob_images
    cfg = IDECConfig(tol=0.0, gamma=0.5, **FAST)
    result = IDEC(4, cfg, pretrained=pretrained, verbose=0).fit(x, seed=0, y=y)
    _check_result(result, y)
    assert result.info["final_acc"] >= 0.95
    for row in result.history[1:]:
        assert row["loss"] == pytest.approx(row["reconstruction_loss"] + 0.5 * row["clustering_loss"],
                                            rel=1e-4)


def test_fit_trains_a_copy_and_leaves_the_pretrained_weights_alone(blob_images, pretrained):
    x, _ = blob_images
    flat = x.reshape(len(x), -1)
    embed = lambda encoder: keras.ops.convert_to_numpy(encoder(flat))  # noqa: E731
    before = embed(pretrained.build()[1])
    dec = DEC(4, DECConfig(tol=0.0, **{**FAST, "max_iter": 10}), pretrained=pretrained, verbose=0)
    first = dec.fit(x, seed=0)
    np.testing.assert_allclose(embed(pretrained.build()[1]), before)
    # the same estimator fitted again starts from the pretrained weights again
    np.testing.assert_array_equal(dec.fit(x, seed=0).labels, first.labels)
    assert first.info["pretrain_loss"] == pretrained.loss_history
    assert first.timings["pretrain_s"] == pretrained.seconds


def test_bad_inputs_are_rejected(blob_images, pretrained):
    x, y = blob_images
    with pytest.raises(ValueError, match="n_clusters"):
        DEC(0, pretrained=pretrained).fit(x, seed=0)
    with pytest.raises(ValueError, match="y must have shape"):
        DEC(4, pretrained=pretrained).fit(x, seed=0, y=y[:-1])
    with pytest.raises(ValueError, match="does not fit model input"):
        DEC(4, pretrained=pretrained).fit(x[:, :8], seed=0)
    with pytest.raises(ValueError, match="needs a pretrained autoencoder"):
        IDEC(4).fit(x, seed=0)
    with pytest.raises(ValueError, match="PretrainedAutoencoder"):
        DEC(4, pretrained=pretrained.build()[1])
