"""The DQN stage's shared backbone: one pretraining (``backbone.pretrain_seed``) and one
feature pass per dataset, whatever the seed (the paper's one ImageNet model)."""

import types

import numpy as np


def _cell(dqn, cfg, data, seed, store):
    def shared(name, compute):
        key = (seed, name)
        if key not in store:
            store[key] = compute()
        return store[key]

    return types.SimpleNamespace(cfg=cfg, data=data, dataset="mnist-full", seed=seed,
                                 method="dqn", shared=shared, log=lambda *a, **k: None)


def test_one_pretraining_and_one_feature_pass_serve_every_seed(monkeypatch):
    from repro.models import retrieval
    from repro.papers import dqn

    calls = []

    class FakeBackbone:
        def features(self, x):
            calls.append(("features", len(x)))
            return np.zeros((len(x), 3), np.float32)

    def fake_pretrain(x, y, cfg, *, seed, verbose, log):
        calls.append(("pretrain", seed))
        return types.SimpleNamespace(source_accuracy=1.0, features=FakeBackbone().features)

    monkeypatch.setattr(retrieval, "pretrain_backbone", fake_pretrain)
    monkeypatch.setattr(dqn, "_source", lambda cell: (np.zeros((4, 28, 28, 1)), np.arange(4)))
    monkeypatch.setattr(dqn, "_BACKBONES", {})
    monkeypatch.setattr(dqn, "_INPUTS", {})
    cfg = dqn.Config(seeds=(0, 1), head=dqn.HeadConfig(finetune_trunk=False),
                     backbone=dqn.BackboneConfig(pretrain_seed=7))
    data = types.SimpleNamespace(x=np.zeros((10, 28, 28, 1), np.float32), y=np.arange(10) % 2)
    store = {}
    first, second = (dqn._inputs(_cell(dqn, cfg, data, seed, store)) for seed in (0, 1))
    assert first is second
    assert calls == [("pretrain", 7), ("features", 10)]
    other = types.SimpleNamespace(x=np.ones((6, 28, 28, 1), np.float32), y=np.arange(6) % 2)
    third = dqn._inputs(_cell(dqn, cfg, other, 0, {}))   # another dataset: its own features,
    assert third is not first and calls[-1] == ("features", 6)   # the same pretraining
    assert [c for c in calls if c[0] == "pretrain"] == [("pretrain", 7)]
