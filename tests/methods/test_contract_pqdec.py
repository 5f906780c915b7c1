"""The clusterer contract (tests/methods/contract.py) for every clusterer of the PQDEC stage:
K-medoids, KDK-means, PQDEC, BQDEC and the PQ k-means of its accuracy controls.

Easy data: 4 well separated blobs (conftest's ``make_blob_vectors``, 60 per class, 64-d). The
floors sit a little under the ACC measured on 2026-12-07 (in the comments); chance is ~0.3.
The deep methods get a tiny autoencoder pretrained once (5 epochs) and a fresh copy per fit
(they train it in place).
"""
from __future__ import annotations

import pytest
from contract import check_clusterer

from repro.methods.bqdec import BQDEC, BQDECConfig
from repro.methods.kdkmeans import KDKMeans, KDKMeansConfig
from repro.methods.kmedoids import KMedoids, KMedoidsConfig
from repro.methods.pqdec import PQDEC, PQDECConfig, PQKMeansClusterer
from repro.methods.pretrain import PretrainConfig, pretrain_dense_autoencoder

FAST = dict(batch_size=32, n_init=2, max_epochs=1, tol=0.0)


@pytest.fixture(scope="module")
def blobs(make_blob_vectors):
    return make_blob_vectors(n_per_class=60, seed=3)


def _pretrained(x, dims):
    return pretrain_dense_autoencoder(x, PretrainConfig(epochs=5, batch_size=32), seed=0,
                                      dims=dims, verbose=0)


def _fresh(pretrained) -> dict:
    autoencoder, encoder = pretrained.build()
    return {"autoencoder": autoencoder, "encoder": encoder}


def test_kmedoids_contract(blobs):
    x, y = blobs
    result = check_clusterer(lambda k: KMedoids(k, KMedoidsConfig(max_iter=10)), x, y,
                             min_acc=0.95)                      # measured 1.0
    assert result.info["stopped_by"] == "converged"


def test_kdkmeans_contract(blobs):
    x, y = blobs
    check_clusterer(lambda k: KDKMeans(k, KDKMeansConfig(max_iter=10, leaf_size=16)), x, y,
                    min_acc=0.95)                               # measured 1.0


def test_pq_kmeans_control_contract(blobs):
    x, y = blobs
    cfg = PQDECConfig(n_subspaces=4, n_codewords=16, n_init=2)
    check_clusterer(lambda k: PQKMeansClusterer(k, cfg), x, y, min_acc=0.95)  # measured 1.0


def test_pqdec_contract(blobs):
    x, y = blobs
    pretrained = _pretrained(x, (32, 16, 10))
    cfg = PQDECConfig(n_codewords=16, **FAST)
    result = check_clusterer(lambda k: PQDEC(k, cfg, **_fresh(pretrained)), x, y,
                             min_acc=0.95)                       # measured 1.0
    assert result.info["n_epochs"] == 1 and result.info["codes"].shape == (len(x), 4)
    # it trains its autoencoder in place: a second fit would start from the trained weights
    pqdec = PQDEC(4, cfg, **_fresh(pretrained))
    pqdec.fit(x, seed=0)
    with pytest.raises(RuntimeError, match="fresh models"):
        pqdec.fit(x, seed=0)


def test_bqdec_contract(blobs):
    x, y = blobs
    pretrained = _pretrained(x, (32, 64))
    cfg = BQDECConfig(n_bits=64, **FAST)
    result = check_clusterer(lambda k: BQDEC(k, cfg, **_fresh(pretrained)), x, y,
                             min_acc=0.95)                       # measured 1.0
    assert result.info["codes"].shape == (len(x), 8)            # 64 bits packed
