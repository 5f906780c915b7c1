"""The GAPDCEC stage's method table: every method has an estimator of the right class, built
with its own config section, and the rows that share a pretraining get the same network."""
import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest

from repro.methods.dcec import DCEC
from repro.methods.dcn import DCN
from repro.methods.dec import DEC
from repro.methods.gapdcec import GAPDCEC
from repro.methods.idec import IDEC
from repro.methods.kmeans import KMeans
from repro.methods.pretrain import PretrainedAutoencoder
from repro.papers import gapdcec


class FakeCell:
    """What the factories read of a runner Cell; ``shared`` hands out one stand-in network per
    name (nothing is pretrained) and counts the names asked for."""

    def __init__(self, method, store):
        # each method's section made distinct (n_init 10, 11, ...) so that a factory reading
        # another method's section is caught
        sections = {m: dataclasses.replace(getattr(gapdcec.Config(), m), n_init=10 + i)
                    for i, m in enumerate(gapdcec.METHODS)}
        self.method, self.cfg, self.store = method, gapdcec.Config(verbose=0, **sections), store
        self.data = SimpleNamespace(x=np.zeros((12, 4, 4, 1), "float32"), y=np.arange(12) % 3)

    def shared(self, name, compute, *, scope="seed", key=()):
        architecture = "conv" if "conv" in name else "dense"
        return self.store.setdefault((name, key), PretrainedAutoencoder(
            architecture, {"pooling": "flatten"} if architecture == "conv" else {}, []))

    def log(self, text):
        pass


EXPECTED = {"kmeans": KMeans, "dec": DEC, "idec": IDEC, "dcn": DCN, "dcec": DCEC,
            "dcec_sgd": DCEC, "gapdcec": GAPDCEC}


def test_every_method_has_an_estimator_of_its_class_with_its_config():
    assert set(gapdcec.ESTIMATORS) == set(gapdcec.METHODS) == set(EXPECTED)
    store = {}
    built = {m: gapdcec.ESTIMATORS[m](FakeCell(m, store)) for m in gapdcec.METHODS}
    for method, estimator in built.items():
        assert type(estimator) is EXPECTED[method], method
        assert estimator.n_clusters == 3
        assert estimator.cfg.n_init == 10 + gapdcec.METHODS.index(method), method
    # DEC, IDEC and DCN share one dense network; DCEC and dcec_sgd one flatten CAE; GAPDCEC
    # pretrains its own
    assert built["dec"].pretrained is built["idec"].pretrained is built["dcn"].pretrained
    assert built["dcec"].pretrained is built["dcec_sgd"].pretrained
    assert built["dec"].pretrained is not built["dcec"].pretrained
    assert built["gapdcec"].pretrained is None
    assert len(store) == 2
