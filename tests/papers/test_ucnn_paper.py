"""The UCNN stage's pretrained network: one pretraining (``pretrain_seed``) for every seed and
set of a run with the same k (the paper's one ImageNet model)."""

import types

import numpy as np


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
    monkeypatch.setattr(ucnn, "_TRUNKS", {})
    cfg = ucnn.Config(datasets=("mnist-test-04", "mnist-test-59"), seeds=(0, 1), pretrain_seed=3)

    def cell(dataset, seed):
        return types.SimpleNamespace(cfg=cfg, dataset=dataset, seed=seed, log=lambda *a: None)

    trunks = {ucnn._trunk(cell(d, s), 5) for d in ("mnist-test-04", "mnist-test-59") for s in (0, 1)}
    assert len(trunks) == 1 and calls == [(3, 5)]
    ucnn._trunk(cell("mnist-test-04", 0), 6)        # another k: conv8 has k maps
    assert calls == [(3, 5), (3, 6)]
