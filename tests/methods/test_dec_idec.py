"""DEC and IDEC end to end on well separated synthetic images (tiny networks, few steps)."""
import keras
import numpy as np
import pytest

from repro.methods.dec import DECConfig, cluster_dec
from repro.methods.idec import IDECConfig, cluster_idec
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
    _, encoder = pretrained.build()
    result = cluster_dec(encoder, x, 4, DECConfig(tol=0.0, **FAST), seed=0, y=y, verbose=0)
    _check_result(result, y)
    assert result.info["final_acc"] >= 0.95
    assert result.info["stopped_by"] == "max_iter" and result.info["n_iterations"] == 100
    assert [row["iteration"] for row in result.history] == list(range(0, 101, 10))
    losses = [row["loss"] for row in result.history[1:]]
    assert losses[-1] < losses[0]  # self-training sharpens Q towards P


def test_dec_stops_by_tolerance_without_labels(blob_images, pretrained):
    x, _ = blob_images
    _, encoder = pretrained.build()
    result = cluster_dec(encoder, x.reshape(len(x), -1), 4, DECConfig(tol=0.01, **FAST), seed=1,
                         verbose=0)
    assert result.info["stopped_by"] == "tol" and result.info["n_iterations"] == 10
    assert result.history[-1]["acc"] is None and result.history[-1]["delta_label"] < 0.01


def test_idec_logs_loss_as_reconstruction_plus_gamma_clustering(blob_images, pretrained):
    x, y = blob_images
    autoencoder, encoder = pretrained.build()
    cfg = IDECConfig(tol=0.0, gamma=0.5, **FAST)
    result = cluster_idec(autoencoder, encoder, x, 4, cfg, seed=0, y=y, verbose=0)
    _check_result(result, y)
    assert result.info["final_acc"] >= 0.95
    for row in result.history[1:]:
        assert row["loss"] == pytest.approx(row["reconstruction_loss"] + 0.5 * row["clustering_loss"],
                                            rel=1e-4)


def test_pretrained_copies_are_independent(blob_images, pretrained):
    x, _ = blob_images
    _, first = pretrained.build()
    _, second = pretrained.build()
    cluster_dec(first, x, 4, DECConfig(tol=0.0, **{**FAST, "max_iter": 10}), seed=0, verbose=0)
    flat = x.reshape(len(x), -1)
    _, fresh = pretrained.build()
    embed = lambda encoder: keras.ops.convert_to_numpy(encoder(flat))  # noqa: E731
    np.testing.assert_allclose(embed(second), embed(fresh))
    assert not np.allclose(embed(first), embed(fresh))


def test_bad_inputs_are_rejected(blob_images, pretrained):
    x, y = blob_images
    _, encoder = pretrained.build()
    with pytest.raises(ValueError, match="n_clusters"):
        cluster_dec(encoder, x, 0, seed=0)
    with pytest.raises(ValueError, match="y must have shape"):
        cluster_dec(encoder, x, 4, seed=0, y=y[:-1])
    with pytest.raises(ValueError, match="does not fit model input"):
        cluster_dec(encoder, x[:, :8], 4, seed=0)
