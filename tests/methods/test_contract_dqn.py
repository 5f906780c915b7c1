"""The retriever contract (repro.methods.base) for every method of the DQN stage: KSH (pixels),
KSH-D (the same class on features), CNNH, DNNH, DQN2+, DQNip, DQN.

Each check can fail: the same seed gives the same codes (two fresh estimators); the index
ranks an easy labelled set (well separated blobs) above a measured mAP floor; bad input
(1-D x, NaN in x, y of the wrong length, multi-hot y that is not 0/1) is a ValueError.
The deep heads train on feature vectors through a small stand-in backbone (fc6 / fc7 of
random weights, trunk frozen), as the stage's quick profile trains them on conv5 features.
"""
from __future__ import annotations

import numpy as np
import pytest
from contract import make_blob_images

from repro.methods.base import Index, Retriever
from repro.methods.cnnh import CNNH, CNNHConfig
from repro.methods.dnnh import DNNH, DNNHConfig
from repro.methods.dqn import DQN, DQN2Plus, DQNConfig, Encoded
from repro.methods.hash_heads import HeadConfig
from repro.methods.ksh import KSH, KSHConfig
from repro.metrics import mean_average_precision
from repro.models.retrieval import Backbone, BackboneConfig

BITS = 12
DIM = 20
HEAD = HeadConfig(epochs=8, batch_size=32, finetune_trunk=False, optimizer="adam",
                  learning_rate=3e-3, dropout=0.0)
DQN_CFG = DQNConfig(width=24, warmup_epochs=1, kmeans_iter=5, opq_iter=2)


def _backbone():
    rng = np.random.default_rng(7)
    fc = [(rng.normal(size=(DIM, 32)).astype(np.float32) * 0.3, np.zeros(32, np.float32)),
          (rng.normal(size=(32, 32)).astype(np.float32) * 0.3, np.zeros(32, np.float32))]
    return Backbone(None, fc, BackboneConfig(fc_widths=(32, 32)))


def _deep(cls, cfg, **kw):
    return lambda: cls(BITS, cfg, HEAD, _backbone(), verbose=0, log=lambda *a: None, **kw)


# method -> (make() -> a fresh estimator, mAP floor on the noisy blobs, seed 0). Measured
# 2026-12-07 on this CPU: KSH 0.843, CNNH 0.878, DNNH 0.847, DQN2+ 0.763, DQNip 0.793, DQN
# 0.765; the same heads untrained (learning rate 0) 0.32-0.43, chance 0.25 -- so the floors
# need the training to work, with room for other BLAS / oneDNN round-off
METHODS = {
    "ksh": (lambda: KSH(BITS, KSHConfig(n_anchors=40, n_train=160, n_iter=50)), 0.75),
    "cnnh": (_deep(CNNH, CNNHConfig(sweeps=1, gradient_steps=5)), 0.6),
    "dnnh": (_deep(DNNH, DNNHConfig()), 0.6),
    "dqn2plus": (_deep(DQN2Plus, DQN_CFG), 0.6),
    "dqnip": (_deep(DQN, DQN_CFG, loss="inner_product"), 0.6),
    "dqn": (_deep(DQN, DQN_CFG), 0.6),
}


@pytest.fixture(scope="module")
def blobs():
    """4 classes, (n, 20), blurred by noise (sd 0.5) so that an untrained head ranks them
    poorly: 160 training rows, 40 queries, 160 database rows."""
    x, y = make_blob_images(n_per_class=90, n_classes=4, seed=3, shape=(DIM,))
    x = (x + np.random.default_rng(5).normal(0.0, 0.5, x.shape)).astype(np.float32)
    return {"train": (x[:160], y[:160]), "query": (x[160:200], y[160:200]),
            "database": (x[200:], y[200:])}


def _codes(encoded):
    return encoded.codes if isinstance(encoded, Encoded) else encoded


@pytest.mark.parametrize("method", sorted(METHODS))
def test_retriever_contract(method, blobs):
    make, floor = METHODS[method]
    (xt, yt), (xq, yq), (xd, yd) = blobs["train"], blobs["query"], blobs["database"]
    estimator = make()
    assert isinstance(estimator, Retriever)
    index = estimator.fit(xt, yt, seed=0)
    assert isinstance(index, Index)
    queries, database = index.encode(xq), index.encode(xd)
    again = make().fit(xt, yt, seed=0)
    np.testing.assert_array_equal(_codes(again.encode(xd)), _codes(database),
                                  err_msg="same seed, other codes")
    ranking = index.rank(queries, database)
    assert ranking.shape == (len(xq), len(xd))
    value = mean_average_precision(yq, yd, ranking)
    assert value >= floor, f"{method}: mAP {value:.3f} on easy data, below the floor {floor}"
    with pytest.raises(ValueError):
        make().fit(xt.reshape(-1), yt, seed=0)
    broken = xt.copy()
    broken[3, 0] = np.nan
    with pytest.raises(ValueError, match="(?i)nan|finite"):
        make().fit(broken, yt, seed=0)
    with pytest.raises(ValueError, match="y|labels"):
        make().fit(xt, yt[:-1], seed=0)
    with pytest.raises(ValueError, match="0/1"):
        make().fit(xt, np.full((len(xt), 3), 2), seed=0)


def test_multi_hot_labels_train_as_their_classes(blobs):
    """The stage's MNIST-pairs labels are multi-hot: (n, C) 0/1 trains as the one-hot of the
    classes does (the same label matrix, so the same codes)."""
    (xt, yt), (xq, _) = blobs["train"], blobs["query"]
    make = METHODS["dqn"][0]
    by_class = make().fit(xt, yt, seed=1).encode(xq)
    by_matrix = make().fit(xt, np.eye(4, dtype=np.uint8)[yt], seed=1).encode(xq)
    np.testing.assert_array_equal(by_class.codes, by_matrix.codes)
    np.testing.assert_array_equal(by_class.z, by_matrix.z)


def test_bits_are_checked():
    with pytest.raises(ValueError, match="bits"):
        KSH(0)
    with pytest.raises(ValueError, match="bits"):
        CNNH(-4, CNNHConfig(), HEAD, _backbone())
    with pytest.raises(ValueError, match="bits"):
        DQN(10, DQN_CFG, HEAD, _backbone())          # 10 bits: not 4-bit subspace codes
    with pytest.raises(ValueError, match="divisible"):
        DQN(12, DQNConfig(width=25), HEAD, _backbone())
    with pytest.raises(ValueError, match="loss"):
        DQN(12, DQN_CFG, HEAD, _backbone(), loss="hinge")
