"""PQDEC stage pieces that the smoke run does not reach: Fig. 2 and the 10-epoch settings."""

import numpy as np

from repro.methods.base import ClusteringResult
from repro.papers.pqdec import Config, epochs_to_settings, top_images
from repro.quantization import ProductQuantizer


def test_top_images_are_the_members_nearest_their_centre():
    rng = np.random.default_rng(0)
    z = np.concatenate([rng.normal(0, 0.1, (30, 4)), rng.normal(5, 0.1, (30, 4))]).astype(np.float32)
    pq = ProductQuantizer(n_subspaces=2, n_codewords=8).fit(z, seed=0)
    codes = pq.encode(z)
    labels = np.repeat([0, 1], 30)
    centres = codes[[0, 30]]
    x = np.arange(60, dtype=np.float32).reshape(60, 1, 1, 1)  # image i holds the value i
    result = ClusteringResult(labels, info={"codes": codes, "centres": centres,
                                            "codebooks": pq.codebooks})
    grid = top_images(x, result, n_top=3)
    assert grid.shape == (2, 3, 1, 1, 1)
    for j, first in ((0, 0), (1, 30)):
        decoded = pq.decode(codes)
        dist = ((decoded - decoded[first]) ** 2).sum(1)
        members = np.flatnonzero(labels == j)
        expected = members[np.argsort(dist[members], kind="stable")[:3]]
        assert grid[j, :, 0, 0, 0].tolist() == x[expected, 0, 0, 0].tolist()
    assert top_images(x, ClusteringResult(labels), 3) is None  # a method without PQ codes


def test_every_method_is_set_to_exactly_the_configured_epochs():
    cfg = epochs_to_settings(Config(clustering_epochs=10), n=1000)
    assert cfg.kmeans.max_iter == cfg.kmedoids.max_iter == cfg.kdkmeans.max_iter == 10
    assert cfg.dec.max_iter == 10 * 4  # ceil(1000 / 256) steps per epoch
    assert cfg.pqdec.max_epochs == cfg.bqdec.max_epochs == 10
    assert cfg.dec.tol == cfg.pqdec.tol == cfg.bqdec.tol == 0.0  # no early stop
