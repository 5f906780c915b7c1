"""The clusterer contract (tests/methods/contract.py) for the six methods of the GAPDCEC stage:
K-means, DEC, IDEC, DCN, DCEC and GAPDCEC, on 4 well separated blob images (200 of 16x16x1,
tests/methods/conftest.py) with tiny networks, so that the file stays fast.

Each floor is set a little under the ACC measured with these settings (2026-12-07, this CPU:
1.0 for every method at seeds 0, 1 and 2; NMI 1.0 too) and far above chance: a random
labelling of these 200 points scores ACC 0.31 (99th percentile 0.355).
"""
import pytest
from contract import check_clusterer

from repro.methods.dcec import DCEC, DCECConfig
from repro.methods.dcn import DCN, DCNConfig
from repro.methods.dec import DEC, DECConfig
from repro.methods.gapdcec import GAPDCEC, GAPDCECConfig
from repro.methods.idec import IDEC, IDECConfig
from repro.methods.kmeans import KMeans, KMeansConfig
from repro.methods.pretrain import PretrainConfig, pretrain_conv_autoencoder, pretrain_dense_autoencoder

SELF_TRAINING = dict(batch_size=32, update_interval=10, max_iter=20, n_init=2, tol=0.0)
CAE = dict(filters=(4, 8, 8), embedding_dim=4)


@pytest.fixture(scope="module")
def dense(blob_images):
    x, _ = blob_images
    return pretrain_dense_autoencoder(x, PretrainConfig(epochs=10, batch_size=32), seed=0,
                                      dims=(64, 32, 4), verbose=0)


@pytest.fixture(scope="module")
def cae(blob_images):
    """One pretrained CAE per pooling, shared by the fits (DCEC's own pretraining is covered
    end to end in test_dcec_gapdcec.py)."""
    x, _ = blob_images
    return {pooling: pretrain_conv_autoencoder(x, PretrainConfig(epochs=2, batch_size=32), seed=0,
                                               pooling=pooling, verbose=0, **CAE)
            for pooling in ("flatten", "gap")}


# method -> (factory(dense, cae) -> make(k), ACC floor)
CASES = {
    "kmeans": (lambda dense, cae: lambda k: KMeans(k, KMeansConfig(n_init=3)), 0.95),
    "dec": (lambda dense, cae: lambda k: DEC(k, DECConfig(**SELF_TRAINING), pretrained=dense,
                                             verbose=0), 0.9),
    "idec": (lambda dense, cae: lambda k: IDEC(k, IDECConfig(**SELF_TRAINING), pretrained=dense,
                                               verbose=0), 0.9),
    "dcn": (lambda dense, cae: lambda k: DCN(k, DCNConfig(epochs=1, batch_size=32, n_init=2,
                                                          learning_rate=1e-3, tol=0.0),
                                             pretrained=dense, verbose=0), 0.9),
    "dcec": (lambda dense, cae: lambda k: DCEC(k, DCECConfig(**SELF_TRAINING, **CAE),
                                               pretrained=cae["flatten"], verbose=0), 0.9),
    "gapdcec": (lambda dense, cae: lambda k: GAPDCEC(k, GAPDCECConfig(**SELF_TRAINING, **CAE),
                                                     pretrained=cae["gap"], verbose=0), 0.9),
}


@pytest.mark.parametrize("method", sorted(CASES))
def test_clusterer_contract(method, blob_images, dense, cae):
    x, y = blob_images
    factory, floor = CASES[method]
    check_clusterer(factory(dense, cae), x, y, min_acc=floor)
