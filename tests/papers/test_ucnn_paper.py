"""The UCNN stage: one pretraining (``pretrain_seed``) for every seed and set of a run with the
same k (the paper's one ImageNet model); JULE's check on JULE's own sets (cnn_rc only)."""

import dataclasses
import types

import numpy as np

from repro.papers.runner import Cell, RunState


def test_one_pretraining_serves_every_seed_and_set(monkeypatch):
    from repro.models import ucnn_net
    from repro.papers import ucnn

    calls = []

    def fake_pretrain(x, y, net_cfg, cfg, *, seed, scope, k, verbose):
        calls.append((seed, k))
        return object()

    monkeypatch.setattr(ucnn_net, "pretrain_supervised", fake_pretrain)
    monkeypatch.setattr(ucnn, "_pretraining_set", lambda cfg, dataset: (np.zeros((4, 28, 28, 1)),
                                                                         np.arange(4) % 2))
    cfg = ucnn.Config(datasets=("mnist-test-04", "mnist-test-59"), seeds=(0, 1), pretrain_seed=3)
    state = RunState()

    def trunk(dataset, seed, k):
        return ucnn._trunk(Cell("ucnn", dataset, seed, "ucnn", cfg, None, lambda *a: None, state), k)

    trunks = set()
    for dataset in ("mnist-test-04", "mnist-test-59"):
        for seed in (0, 1):
            trunks.add(trunk(dataset, seed, 5))
            state.end("seed")
        state.end("dataset")
    assert len(trunks) == 1 and calls == [(3, 5)]
    trunk("mnist-test-04", 0, 6)                    # another k: conv8 has k maps
    assert calls == [(3, 5), (3, 6)]
    other = dataclasses.replace(cfg, pretrain_images=2)   # another setting: its own pretraining
    ucnn._trunk(Cell("ucnn", "mnist-test-04", 0, "ucnn", other, None, lambda *a: None, state), 5)
    assert calls == [(3, 5), (3, 6), (3, 5)]


def test_the_jule_check_sets_run_only_cnn_rc():
    import pytest

    from repro.papers import ucnn

    ucnn.Config(datasets=("usps", "mnist-full"),
                per_dataset={"usps": {"methods": ["cnn_rc"]}, "mnist-full": {"methods": ["cnn_rc"]}})
    with pytest.raises(ValueError, match="usps is the JULE check's set: only cnn_rc"):
        ucnn.Config(datasets=("usps",), per_dataset={"usps": {"methods": ["cnn_rc", "ucnn"]}})
    with pytest.raises(ValueError, match="mnist-full is the JULE check's set"):
        ucnn.Config(datasets=("usps", "mnist-full"), per_dataset={"usps": {"methods": ["cnn_rc"]}})
    cell = types.SimpleNamespace(dataset="mnist-full", method="dec")   # no per_dataset at all
    with pytest.raises(ValueError, match="mnist-full is the JULE check's set"):
        ucnn.run_cell(cell)


def test_cnn_rc_alone_pretrains_no_network(monkeypatch):
    from repro.methods.base import ClusteringResult
    from repro.papers import ucnn

    ran = []

    class Fake:
        def __init__(self, k, trunk):
            ran.append(("cnn_rc", k, trunk))

        def fit(self, x, *, seed, y=None):
            return ClusteringResult(labels=np.asarray(y), history=[])

    monkeypatch.setitem(ucnn.ESTIMATORS, "cnn_rc", lambda cell, k, trunk, epochs=None: Fake(k, trunk))
    cfg = ucnn.Config(datasets=("usps",), per_dataset={"usps": {"methods": ["cnn_rc"]}})
    recorded = {}

    def shared(name, compute, **scope):
        raise AssertionError(f"{name} asked for by cnn_rc")

    y = np.arange(40) % 10
    cell = types.SimpleNamespace(
        cfg=cfg.for_dataset("usps"), dataset="usps", seed=0, method="cnn_rc", log=lambda *a: None,
        data=types.SimpleNamespace(x=np.zeros((40, 16, 16, 1), np.float32), y=y), shared=shared,
        record=lambda metric, value, **kw: recorded.setdefault(metric, value),
        record_history=lambda rows: None)
    ucnn.run_cell(cell)
    assert ran == [("cnn_rc", 10, None)] and recorded["nmi"] == 1.0


def test_jule_check_and_the_largest_scale_sizes_are_on_the_paper_profile():
    """Issue 25's decisions: quick's scale curve stops at 5 x 10^4 images (10^6 on the paper
    profile); JULE's check (all of USPS and MNIST at JULE's schedule) runs on the paper profile,
    not on quick."""
    from repro.config import load_params
    from repro.papers import runner, ucnn

    params = load_params()
    quick, paper = (runner._config(ucnn, p, params) for p in ("quick", "paper"))
    assert not set(ucnn.JULE_CHECK) & set(quick.datasets)
    assert set(ucnn.JULE_CHECK) <= set(paper.datasets)
    for dataset in ucnn.JULE_CHECK:
        check = paper.for_dataset(dataset)
        assert check.methods == ("cnn_rc",) and check.subset == 0
        assert check.jule.max_epochs == 1000 and check.jule.epochs_per_period == 20
    assert max(quick.scale.sizes) == quick.scale.max_size == 50000
    assert max(paper.scale.sizes) == paper.scale.max_size == 1000000
    assert set(ucnn.MINI_BATCH) & set(quick.scale.methods)
    data = ucnn.load_data("usps")
    assert data.x.shape == (9298, 16, 16, 1) and 0.0 <= data.x.min() and data.x.max() <= 1.0


def test_new_class_sets_get_their_own_conv8_and_fc9():
    """The sets of new classes drop the pretrained conv8 (k old-class maps) and FC9: their UCNN
    keeps its seeded random start there and the pretrained weights below; the pretraining
    classes' set keeps everything."""
    import pytest

    from repro.models.ucnn_net import PretrainedTrunk, UCNNNetConfig, build_ucnn, load_trunk
    from repro.papers import ucnn
    from repro.pipeline import stage_config

    _, cfg = stage_config("ucnn", "paper")
    for dataset in ("mnist-test-59", "mnist-train-59", "places-val", "places-train"):
        assert set(cfg.for_dataset(dataset).set_layers) == {"conv8", "fc9"}
    for dataset in ("mnist-test-04", "ilsvrc-val"):
        assert cfg.for_dataset(dataset).set_layers == ()
    with pytest.raises(ValueError, match="set_layers: unknown"):
        ucnn.Config(set_layers=("softmax",))

    tiny = UCNNNetConfig(conv_widths=(4, 8, 8, 8, 8), adaptation_widths=(8, 8), fc9_width=8)
    donor = build_ucnn((12, 12, 1), 3, tiny, seed=7)
    names = ("conv1", "conv2", "conv3", "conv4", "conv5", "conv6", "conv7", "conv8", "fc9")
    pretrained = PretrainedTrunk({n: donor.model.get_layer(n).get_weights() for n in names}, {})
    own = ucnn._set_trunk(pretrained, ucnn.Config(set_layers=("conv8", "fc9")))
    assert set(own) == set(names) - {"conv8", "fc9"}
    assert ucnn._set_trunk(pretrained, ucnn.Config()) is pretrained
    net = build_ucnn((12, 12, 1), 3, tiny, seed=1)
    fresh = build_ucnn((12, 12, 1), 3, tiny, seed=1)
    load_trunk(net.model, own)
    for name in names:
        got = net.model.get_layer(name).get_weights()[0]
        want = (fresh if name in ("conv8", "fc9") else donor).model.get_layer(name).get_weights()[0]
        np.testing.assert_array_equal(got, want)


def test_a_cell_records_cpu_time_and_baseline_i_the_drift(monkeypatch):
    from repro.methods.base import ClusteringResult
    from repro.papers import ucnn

    drift = {"feature_drift": 0.01, "centroid_gap": 0.002, "assignment_flips": 0.0}
    y = np.arange(40) % 5

    class Fake:
        def __init__(self, method):
            self.method = method

        def fit(self, x, *, seed, y=None):
            sum(i * i for i in range(200000))           # some CPU work
            return ClusteringResult(labels=np.asarray(y), history=[],
                                    info=dict(drift) if self.method == "baseline_1" else {})

    monkeypatch.setattr(ucnn, "_trunk", lambda cell, k: {})
    for method in ("baseline_1", "ucnn"):
        monkeypatch.setitem(ucnn.ESTIMATORS, method,
                            lambda cell, k, trunk, epochs=None, method=method: Fake(method))
        recorded = {}
        cell = types.SimpleNamespace(
            cfg=ucnn.Config(datasets=("mnist-test-04",)), dataset="mnist-test-04", seed=0,
            method=method, log=lambda *a: None,
            data=types.SimpleNamespace(x=np.zeros((40, 28, 28, 1), np.float32), y=y),
            record=lambda metric, value, **kw: recorded.setdefault(metric, value),
            record_history=lambda rows: None)
        ucnn.run_cell(cell)
        assert recorded["cpu_time"] > 0 and recorded["nmi"] == 1.0
        if method == "baseline_1":
            assert {m: recorded[m] for m in drift} == drift
        else:
            assert not set(drift) & set(recorded)


def test_the_full_set_methods_scale_images_are_the_stream_s_made_batch_by_batch():
    from repro.data.deformations import DeformConfig, DeformationStream
    from repro.papers import ucnn

    rng = np.random.default_rng(0)
    x = rng.random((7, 12, 12, 1)).astype(np.float32)
    y = np.arange(7) % 3
    whole, _ = DeformationStream(x, y, 23, 1024, 5, DeformConfig()).images(0, 23)
    batched = ucnn._deformed_images(x, y, 23, 5, DeformConfig(), batch_size=4)
    assert batched.dtype == np.float32 and batched.shape == (23, 12, 12, 1)
    np.testing.assert_array_equal(batched, whole)


def test_the_estimator_table_builds_each_method_with_the_stage_settings():
    """ESTIMATORS: one clusterer per method with k, the stage's settings and (where the method
    needs one) the trunk; UCNN and Baseline-I differ only in Eq. 4-5's switch; the scale
    curve's epochs replace the settings' for the mini-batch methods."""
    from repro.methods.base import Clusterer
    from repro.papers import ucnn

    cfg = ucnn.Config(datasets=("mnist-test-04",))
    cell = types.SimpleNamespace(cfg=cfg, log=lambda *a: None)
    trunk = {"conv1": []}
    built = {m: ucnn.ESTIMATORS[m](cell, 5, trunk) for m in ucnn.METHODS}
    assert all(isinstance(e, Clusterer) and e.n_clusters == 5 for e in built.values())
    assert built["ucnn"].cfg.compensate and not built["baseline_1"].cfg.compensate
    assert built["ucnn"].cfg == dataclasses.replace(built["baseline_1"].cfg, compensate=True)
    for method in ucnn.NEEDS_TRUNK:
        assert built[method].pretrained is trunk and built[method].net_cfg == cfg.net
    assert built["cnn_rc"].cfg == cfg.jule and built["cnn_cm"].cfg == cfg.cnn_cm
    assert built["baseline_3"].cfg == cfg.fullset and built["dec"].dec_cfg == cfg.dec
    for method in ucnn.MINI_BATCH:
        assert built[method].cfg.epochs == 10
        assert ucnn.ESTIMATORS[method](cell, 5, trunk, epochs=1).cfg.epochs == 1
