"""The clusterer contract (tests/methods/contract.py) over every method of the UCNN stage, as
its ESTIMATORS table builds them: UCNN, Baselines I-III (on a tiny UCNN with its seeded
random start: no pretraining here), DEC on its own dense autoencoder, CNN-CM + k-means and
CNN-RC = JULE; same seed -> same labels, labels independent of y, a quality floor on easy
blob images (100 images of 12 x 12, 4 classes), bad input -> ValueError. The floors sit a
little under the ACC measured (2026-12-07, this CPU, seed 0, the seed the check runs; other
seeds beside it: a mini-batch method that starts two centroids in one class loses a class);
chance on this set is about 0.3.
"""
from __future__ import annotations

import numpy as np
import pytest

from contract import check_clusterer, make_blob_images
from repro.methods.cnn_cm import CNNCM, CNNCMConfig
from repro.methods.dec import DECConfig
from repro.methods.jule import JULE, JULEConfig
from repro.methods.pretrain import PretrainConfig
from repro.methods.ucnn import (UCNN, BaselineFullKMeans, BaselineMiniBatchKMeans,
                                FullKMeansConfig, MiniBatchKMeansConfig, UCNNConfig)
from repro.models.ucnn_net import UCNNNetConfig
from repro.papers.ucnn import ESTIMATORS, METHODS, DenseDEC

TINY = UCNNNetConfig(conv_widths=(4, 8, 8, 8, 8), adaptation_widths=(16, 16), fc9_width=8)
# lr 0.001: the untrained tiny net's FC9 features spread ~1e-3; larger steps kill its ReLUs
UCNN_CFG = dict(batch_size=10, epochs=2, learning_rate=0.001)

CLUSTERERS = {
    # seed 0: measured ACC 1.0 (seeds 1, 2: 0.94, 0.91)
    "ucnn": lambda k: UCNN(k, UCNNConfig(**UCNN_CFG), TINY),
    # seed 0: measured ACC 1.0 (seeds 1, 2: 0.95, 0.28)
    "baseline_1": lambda k: UCNN(k, UCNNConfig(compensate=False, **UCNN_CFG), TINY),
    # seed 0: measured ACC 1.0 (seeds 1, 2: 0.93, 0.93)
    "baseline_2": lambda k: BaselineMiniBatchKMeans(k, MiniBatchKMeansConfig(batch_size=10,
                                                                             epochs=2), TINY),
    # seed 0: measured ACC 1.0 (seeds 1, 2: 0.93, 0.95)
    "baseline_3": lambda k: BaselineFullKMeans(k, FullKMeansConfig(n_init=3), TINY),
    # seed 0: measured ACC 1.0 (seeds 1, 2: 1.0, 1.0)
    "dec": lambda k: DenseDEC(k, DECConfig(batch_size=32, update_interval=10, max_iter=30,
                                           n_init=3),
                              PretrainConfig(epochs=5, batch_size=32), (32, 16)),
    # seed 0: measured ACC 1.0 (seeds 1, 2: 0.63, 1.0)
    "cnn_cm": lambda k: CNNCM(k, CNNCMConfig(patch_sizes=(3, 3), filters=(8, 16), group_size=3,
                                             filters_per_group=4, n_learn_images=100,
                                             n_windows=300, kmeans_iter=10, cluster_n_init=3)),
    # seed 0: measured ACC 1.0 (seeds 1, 2: 1.0, 1.0)
    "cnn_rc": lambda k: JULE(k, JULEConfig(K_s=5, epochs_per_period=1, max_epochs=2,
                                           batch_size=16, eta=0.5)),
}
FLOORS = {"ucnn": 0.9, "baseline_1": 0.9, "baseline_2": 0.9, "baseline_3": 0.9, "dec": 0.9,
          "cnn_cm": 0.9, "cnn_rc": 0.9}


def test_every_stage_method_is_covered():
    assert set(CLUSTERERS) == set(METHODS) == set(ESTIMATORS)


@pytest.mark.parametrize("method", sorted(CLUSTERERS))
def test_contract(method):
    x, y = make_blob_images(n_per_class=25, n_classes=4, side=12, seed=0)
    check_clusterer(CLUSTERERS[method], x, y, min_acc=FLOORS[method])


def test_a_stream_gives_the_array_s_labels():
    """The mini-batch methods take an ImageSource (the scale curve's deformed stream) as x."""
    from repro.methods.ucnn import ImageSource

    x, y = make_blob_images(n_per_class=25, n_classes=4, side=12, seed=0)
    for method in ("ucnn", "baseline_2"):
        from_array = CLUSTERERS[method](4).fit(x, seed=0)
        streamed = CLUSTERERS[method](4).fit(ImageSource(lambda i: x[i], len(x)), seed=0)
        np.testing.assert_array_equal(streamed.labels, from_array.labels)
