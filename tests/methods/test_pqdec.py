"""PQDEC end to end on well separated synthetic data (tiny network, 1-3 epochs), and its errors."""
import numpy as np
import pytest

from repro.methods.pqdec import PQDEC, PQCodeClustering, PQDECConfig, best_of_restarts
from repro.methods.pretrain import PretrainConfig, pretrain_dense_autoencoder
from repro.metrics import cluster_acc
from repro.models.quantization_layers import ProductQuantization
from repro.quantization import PQKMeans, ProductQuantizer, symmetric_distances_to_centres

FAST = dict(batch_size=32, n_init=3)
HISTORY_KEYS = {"iteration", "epoch", "acc", "nmi", "loss", "reconstruction_loss", "quantization_loss",
                "delta_label"}


@pytest.fixture(scope="module")
def blobs(make_blob_vectors):
    return make_blob_vectors(n_per_class=80, seed=0)


@pytest.fixture(scope="module")
def pretrained(blobs):
    x, _ = blobs
    return pretrain_dense_autoencoder(x, PretrainConfig(epochs=10, batch_size=32), seed=0,
                                      dims=(32, 16, 10), verbose=0)


def test_pqdec_clusters_separable_data_with_32_bit_codes(blobs, pretrained):
    x, y = blobs
    autoencoder, encoder = pretrained.build()
    cfg = PQDECConfig(max_epochs=2, tol=0.0, **FAST)
    result = PQDEC(4, cfg, autoencoder=autoencoder, encoder=encoder).fit(x, seed=0, y=y)
    assert result.labels.shape == (len(x),) and len(np.unique(result.labels)) == 4
    assert result.info["final_acc"] == pytest.approx(cluster_acc(y, result.labels))
    assert result.timings["cluster_s"] > 0
    assert result.info["final_acc"] >= 0.95 and result.info["method"] == "PQDEC"
    assert result.info["stopped_by"] == "max_epochs" and result.info["n_epochs"] == 2
    steps = int(np.ceil(len(x) / 32))
    epochs = [(row["epoch"], row["iteration"]) for row in result.history]
    assert epochs == [(0, 0), (1, steps), (2, 2 * steps)]
    assert result.history[0]["delta_label"] is None and np.isnan(result.history[0]["loss"])
    for row in result.history[1:]:
        assert HISTORY_KEYS <= set(row) and 0 <= row["delta_label"] <= 0.05  # warm start keeps identities
        expected = row["reconstruction_loss"] + 0.1 * row["quantization_loss"]
        assert row["loss"] == pytest.approx(expected, rel=1e-4)
    codes, centres = result.info["codes"], result.info["centres"]
    assert codes.shape == (len(x), 4) and codes.dtype == np.uint8
    assert centres.shape == (4, 4) and centres.dtype == np.uint8
    assert (result.info["code_bits"], result.info["code_bytes"]) == (32, 4)
    assert result.info["codes_nbytes"] == 4 * len(x) and result.info["codebooks_nbytes"] == 4 * 256 * 3 * 4
    assert result.timings["cluster_s"] >= result.timings["init_s"] > 0


def test_large_tolerance_stops_after_the_first_check_and_labels_are_nearest_centres(blobs, pretrained):
    x, _ = blobs
    autoencoder, encoder = pretrained.build()
    result = PQDEC(4, PQDECConfig(max_epochs=3, tol=0.9, **FAST), autoencoder=autoencoder,
                   encoder=encoder).fit(x, seed=1)
    assert result.info["stopped_by"] == "tol" and result.info["n_epochs"] == 1
    assert len(result.history) == 2 and result.history[-1]["delta_label"] < 0.9
    assert result.history[-1]["acc"] is None and result.info["final_acc"] is None  # no y, no monitoring
    info = result.info
    assert info["codebooks"].shape == (4, 256, 3) and info["codebooks"].dtype == np.float32
    np.testing.assert_array_equal(info["codebooks"][2:, :, 2], 0.0)  # padded coordinates
    # the labels are the nearest centres (SDC) of the final codes under the final codebooks
    tables = ProductQuantizer.from_codebooks(info["codebooks"]).symmetric_distance_tables()
    distances = symmetric_distances_to_centres(tables, info["codes"], info["centres"])
    np.testing.assert_array_equal(result.labels, distances.argmin(axis=1))


def test_restarts_keep_the_fit_of_lowest_objective():
    rng = np.random.default_rng(0)
    codebooks = rng.normal(size=(2, 16, 2)).astype(np.float32)
    codes = rng.integers(0, 16, size=(200, 2)).astype(np.uint8)
    best = best_of_restarts(lambda s: PQKMeans(codebooks, 5, n_iter=5, seed=s), codes, 6, 10)
    objectives = [PQKMeans(codebooks, 5, n_iter=5, seed=s).fit(codes).objective_history_[-1]
                  for s in range(10, 16)]
    assert len(set(objectives)) > 1  # the restarts differ, so choosing matters
    assert best.objective_history_[-1] == min(objectives)


def test_refine_is_warm_started_from_the_previous_centres():
    """Permuting the kept centres permutes the refined labels: cluster identities carry over."""
    rng = np.random.default_rng(1)
    layer = ProductQuantization(2, 16)
    layer.build((None, 4))
    layer.set_codebooks(rng.normal(size=(2, 16, 2)).astype(np.float32))
    codes = rng.integers(0, 16, size=(300, 2)).astype(np.int32)
    clustering = PQCodeClustering(layer.get_codebooks, 5, PQDECConfig(n_subspaces=2, n_codewords=16, n_init=2), seed=0)
    labels = clustering.initial(codes)
    assert clustering.code_bits == 8 and clustering.centres.dtype == np.uint8
    permutation = np.array([3, 0, 4, 1, 2])
    centres = clustering.centres.copy()
    clustering.centres = centres[permutation]
    refined = clustering.refine(codes)
    np.testing.assert_array_equal(permutation[refined], labels)  # at a fixed point already
    np.testing.assert_array_equal(clustering.centres, centres[permutation])


@pytest.mark.parametrize("kwargs, match", [
    ({"max_epochs": 0}, "max_epochs"), ({"tol": 1.0}, "tol"), ({"optimizer": "adamw"}, "optimizer"),
    ({"gamma": -0.1}, "gamma"), ({"n_codewords": 0}, "n_codewords"), ({"momentum": 1.0}, "momentum"),
    ({"init": "kmeans"}, "init"),
])
def test_bad_config_raises(kwargs, match):
    with pytest.raises(ValueError, match=match):
        PQDECConfig(**kwargs)


def test_bad_input_raises_clear_errors(blobs, pretrained):
    x, y = blobs
    autoencoder, encoder = pretrained.build()
    make = lambda k, **kw: PQDEC(k, PQDECConfig(**{**FAST, **kw}), autoencoder=autoencoder,  # noqa: E731
                                 encoder=encoder)
    with pytest.raises(ValueError, match="y must have shape"):
        make(4).fit(x, seed=0, y=y[:-1])
    with pytest.raises(ValueError, match="n_clusters"):
        make(0).fit(x, seed=0)
    with pytest.raises(ValueError, match="fewer than n_codewords"):
        make(4).fit(x[:100], seed=0)
    with pytest.raises(ValueError, match="sub-vectors"):
        make(4, n_subspaces=11).fit(x, seed=0)


def test_shuffled_batches_cover_every_point_once_per_epoch_and_reshuffle():
    from repro.methods.pqdec import ShuffledBatches

    x = np.arange(10, dtype=np.float32).reshape(10, 1)
    feed = ShuffledBatches(x, 4, seed=0)
    assert feed.num_batches == 3
    first = np.concatenate([feed[i][:, 0] for i in range(3)])
    feed.on_epoch_end()
    second = np.concatenate([feed[i][:, 0] for i in range(3)])
    assert sorted(first) == sorted(second) == list(range(10)) and first.tolist() != second.tolist()
    ordered = ShuffledBatches(x, 4, shuffle=False)
    assert ordered[2][:, 0].tolist() == [8, 9]


def test_warm_up_restores_weights_and_optimizer_and_keeps_the_traced_step(blobs, pretrained):
    from repro.methods.pqdec import first_batches, warm_up
    from repro.methods.pretrain import make_optimizer

    from repro.models.quantization_layers import QuantizedAutoencoder

    x, _ = blobs
    autoencoder, encoder = pretrained.build()
    model = QuantizedAutoencoder(autoencoder, encoder, ProductQuantization(4, 16), gamma=0.1)
    before = [w.copy() for w in model.get_weights()]
    optimizer = make_optimizer("sgd", 0.5, 0.9)
    batches = first_batches(x, 96)
    assert len(x) % 96 and [len(b) for b in batches] == [96, len(x) % 96]
    seconds = warm_up(model, optimizer, batches, [lambda: model.predict_codes(x)])
    assert seconds > 0 and model.train_function is not None
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert int(optimizer.iterations.numpy()) == 0
    assert all(not np.any(np.asarray(v)) for v in optimizer.variables if "momentum" in v.path)


def test_pqdec_reports_its_phases_and_kmeanspp_start(blobs, pretrained):
    x, y = blobs
    cfg = PQDECConfig(max_epochs=2, tol=0.0, init="k-means++", **FAST)
    autoencoder, encoder = pretrained.build()
    result = PQDEC(4, cfg, autoencoder=autoencoder, encoder=encoder).fit(x, seed=0, y=y)
    t = result.timings
    assert t["warmup_s"] > 0 and result.info["init"] == "k-means++" and result.info["restarts"] == 3
    parts = sum(t[k] for k in ("codebook_s", "init_s", "network_s", "encode_s", "assign_s"))
    assert all(t[k] > 0 for k in ("codebook_s", "init_s", "network_s", "encode_s", "assign_s"))
    assert parts <= t["cluster_s"]
    assert result.info["initial_acc"] >= 0.95   # k-means++ start on separable blobs


def test_kmeans_plus_plus_codes_are_valid_centre_codes(blobs, pretrained):
    from repro.methods.pqdec import kmeans_plus_plus_codes

    rng = np.random.default_rng(0)
    pq = ProductQuantizer(2, 8).fit(rng.normal(size=(200, 4)).astype(np.float32), seed=0)
    codes = pq.encode(rng.normal(size=(200, 4)).astype(np.float32))
    start = kmeans_plus_plus_codes(pq.codebooks, codes, 5, seed=1)
    assert start.shape == (5, 2) and start.dtype == codes.dtype and start.max() < 8
    np.testing.assert_array_equal(start, kmeans_plus_plus_codes(pq.codebooks, codes, 5, seed=1))


def test_pretraining_stops_when_the_loss_plateaus():
    from repro.methods.pretrain import LossPlateau

    stop = LossPlateau(1, 0.1)

    class _Model:
        stop_training = False
    stop.set_model(_Model())
    for epoch, loss in enumerate([1.0, 0.5, 0.46]):   # improvements 50 %, 8 %
        stop.on_epoch_end(epoch, {"loss": loss})
        assert stop.model.stop_training == (epoch == 2)


def test_dec_after_the_untimed_warm_up_gives_dec_s_labels_and_its_phases(make_blob_vectors):
    # the warm-up must leave no trace in the result: same labels as repro.methods.dec itself
    from repro.methods.dec import DEC, DECConfig
    from repro.methods.pretrain import PretrainConfig, pretrain_dense_autoencoder
    from repro.papers.pqdec import WarmDEC, phases

    x, y = make_blob_vectors(n_per_class=60, seed=1)
    pre = pretrain_dense_autoencoder(x, PretrainConfig(epochs=3, batch_size=32), seed=0,
                                     dims=(16, 8), verbose=0)
    cfg = DECConfig(batch_size=32, update_interval=5, max_iter=20, tol=0.0, n_init=2)
    plain = DEC(4, cfg, pretrained=pre, verbose=0).fit(x, seed=0, y=y)
    warm = WarmDEC(4, cfg, pretrained=pre, verbose=0).fit(x, seed=0, y=y)
    np.testing.assert_array_equal(plain.labels, warm.labels)
    assert [r["iteration"] for r in plain.history] == [r["iteration"] for r in warm.history]
    t = warm.timings
    assert t["warmup_s"] > 0 and t["network_s"] > 0 and t["encode_s"] > 0 and t["init_s"] > 0
    out = phases("dec", warm)
    assert out["restarts"] == 2 and out["epochs_done"] == pytest.approx(20 * 32 / len(x))
    assert out["other_s"] >= -1e-9


@pytest.mark.parametrize("init", ["random", "k-means++"])
def test_pq_kmeans_control_clusters_the_pretrained_embedding(blobs, pretrained, init):
    from repro.methods.pqdec import PQKMeansClusterer

    x, y = blobs
    embedding = pretrained.build()[1].predict(x, verbose=0)
    cfg = PQDECConfig(n_codewords=16, n_init=3, init=init)
    result = PQKMeansClusterer(4, cfg).fit(embedding, seed=0)
    assert cluster_acc(y, result.labels) >= 0.9
    # the labels are the nearest centres (SDC) of the codes, as PQDEC's
    tables = ProductQuantizer.from_codebooks(result.info["codebooks"]).symmetric_distance_tables()
    distances = symmetric_distances_to_centres(tables, result.info["codes"], result.info["centres"])
    np.testing.assert_array_equal(result.labels, distances.argmin(axis=1))
