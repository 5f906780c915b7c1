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
    monkeypatch.setattr(ucnn, "_cluster", lambda cell, method, x, k, y, trunk, **kw: (
        ran.append((method, trunk)) or ClusteringResult(labels=np.asarray(y), history=[])))
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
    assert ran == [("cnn_rc", None)] and recorded["nmi"] == 1.0


def test_quick_checks_jule_on_all_of_usps_with_jules_own_schedule():
    from repro.config import load_params
    from repro.papers import runner, ucnn

    params = load_params()
    quick, paper = (runner._config(ucnn, p, params).for_dataset("usps") for p in ("quick", "paper"))
    assert quick.methods == ("cnn_rc",) and quick.subset == 0 and quick.jule == paper.jule
    data = ucnn.load_data("usps")
    assert data.x.shape == (9298, 16, 16, 1) and 0.0 <= data.x.min() and data.x.max() <= 1.0
