"""PQDEC stage pieces that the smoke run does not reach: Fig. 2 and the 10-epoch settings."""

import numpy as np
import pytest

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


def _stage_config(profile: str) -> Config:
    """The Config that ``profile`` of params.yaml runs (what the runner builds)."""
    from repro.config import build, load_params, stage_params

    _, merged = stage_params(load_params(), "pqdec", profile)
    return build(Config, merged, where="pqdec")


def test_epochs_to_settings_overrides_every_cap_and_leaves_the_rest():
    # caps far from the result, an odd DEC batch, so that a field not set (or set from the
    # wrong quantity, or rounded down) shows: 3 epochs of ceil(1001 / 100) = 11 DEC steps
    from repro.methods.bqdec import BQDECConfig
    from repro.methods.dec import DECConfig
    from repro.methods.kdkmeans import KDKMeansConfig
    from repro.methods.kmeans import KMeansConfig
    from repro.methods.kmedoids import KMedoidsConfig
    from repro.methods.pqdec import PQDECConfig

    cfg = Config(clustering_epochs=3, n_init=4, kmeans=KMeansConfig(max_iter=77, n_init=2),
                 kmedoids=KMedoidsConfig(max_iter=77), kdkmeans=KDKMeansConfig(max_iter=77),
                 dec=DECConfig(max_iter=7777, batch_size=100, tol=0.25),
                 bqdec=BQDECConfig(max_epochs=77), pqdec=PQDECConfig(max_epochs=77, tol=0.5))
    out = epochs_to_settings(cfg, n=1001)
    assert out.kmeans.max_iter == out.kmedoids.max_iter == out.kdkmeans.max_iter == 3
    assert out.dec.max_iter == 3 * 11
    assert out.bqdec.max_epochs == out.pqdec.max_epochs == 3
    # the same restarts for every restarting method (issue 24: equal work)
    assert out.kmeans.n_init == out.dec.n_init == out.bqdec.n_init == out.pqdec.n_init == 4
    # everything else is the input's (the tolerances too: they come from params.yaml)
    assert out.dec.batch_size == 100
    assert out.dec.tol == 0.25 and out.pqdec.tol == 0.5
    assert cfg.kmeans.max_iter == 77 and cfg.dec.max_iter == 7777      # the input is not changed


@pytest.mark.parametrize("profile", ["paper", "quick", "smoke"])
def test_every_profile_runs_each_method_for_exactly_its_clustering_epochs(profile):
    # what the stage runs, not the dataclass defaults: params.yaml sets every key
    cfg = _stage_config(profile)
    for dataset in cfg.datasets:
        run = epochs_to_settings(cfg.for_dataset(dataset), n=10000)
        e = run.clustering_epochs
        assert run.kmeans.max_iter == run.kmedoids.max_iter == run.kdkmeans.max_iter == e
        assert run.dec.max_iter == e * -(-10000 // run.dec.batch_size)
        assert run.pqdec.max_epochs == run.bqdec.max_epochs == e
        assert run.kmeans.n_init == run.dec.n_init == run.bqdec.n_init == run.pqdec.n_init == run.n_init
        # the paper's "10 epochs": no early stop for any method that has a tolerance
        assert run.kmeans.tol == run.kdkmeans.tol == 0.0
        assert run.dec.tol == run.pqdec.tol == run.bqdec.tol == 0.0
    assert _stage_config("paper").clustering_epochs == 10


def test_quick_profile_pretraining_stops_by_a_label_free_rule():
    cfg = _stage_config("quick")
    assert cfg.dense_pretrain.plateau_window >= 1 and 0 < cfg.dense_pretrain.plateau_rel_tol < 1
    assert cfg.timing_repeats >= 5
    assert _stage_config("paper").dense_pretrain.plateau_window == 0   # the paper: all epochs


def _result(method, timings, info):
    return ClusteringResult(np.zeros(4, dtype=np.int64), timings=timings, info=info)


def test_phases_add_up_to_the_timed_seconds_and_give_per_epoch_and_per_restart_costs():
    from repro.papers.pqdec import phases

    pq = phases("pqdec", _result("pqdec", {"cluster_s": 20.0, "codebook_s": 1.0, "init_s": 3.0,
                                          "network_s": 10.0, "encode_s": 2.0, "assign_s": 2.0},
                                 {"n_epochs": 8, "restarts": 6}))
    assert pq["other_s"] == pytest.approx(2.0)
    assert pq["epoch_s"] == pytest.approx((20 - 1 - 3) / 8) and pq["restart_s"] == pytest.approx(0.5)
    assert (pq["epochs_done"], pq["restarts"]) == (8, 6)
    km = phases("kmedoids", _result("kmedoids", {"cluster_s": 5.0, "init_s": 1.0}, {"n_iter": 4}))
    assert km["assign_s"] == pytest.approx(4.0) and km["epoch_s"] == pytest.approx(1.0)
    assert km["other_s"] == pytest.approx(0.0) and km["restarts"] == 1
    kmeans = phases("kmeans", _result("kmeans", {"cluster_s": 6.0}, {"n_iter": 3, "n_init": 3}))
    assert kmeans["init_s"] == 6.0 and kmeans["restart_s"] == 2.0 and np.isnan(kmeans["epoch_s"])


def test_config_rejects_bad_restarts_and_threads():
    with pytest.raises(ValueError, match="n_init"):
        Config(n_init=0)
    with pytest.raises(ValueError, match="threads"):
        Config(threads=0)

