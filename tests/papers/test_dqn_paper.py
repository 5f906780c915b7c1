"""The DQN stage's shared backbone: one pretraining (``backbone.pretrain_seed``) and one
feature pass per dataset, whatever the seed (the paper's one ImageNet model)."""

import types

import numpy as np

from repro.papers.runner import Cell, RunState


def _cell(cfg, data, dataset, seed, state):
    return Cell("dqn", dataset, seed, "dqn", cfg, data, lambda *a, **k: None, state)


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
    cfg = dqn.Config(seeds=(0, 1), head=dqn.HeadConfig(finetune_trunk=False),
                     backbone=dqn.BackboneConfig(pretrain_seed=7))
    data = types.SimpleNamespace(x=np.zeros((10, 28, 28, 1), np.float32), y=np.arange(10) % 2)
    state = RunState()   # the runner's run state; its scopes end as the runner ends them
    first = dqn._inputs(_cell(cfg, data, "mnist-full", 0, state))
    state.end("seed")
    second = dqn._inputs(_cell(cfg, data, "mnist-full", 1, state))
    assert first is second
    assert calls == [("pretrain", 7), ("features", 10)]
    state.end("seed")
    state.end("dataset")                 # another dataset: its own features, the same pretraining
    other = types.SimpleNamespace(x=np.ones((6, 28, 28, 1), np.float32), y=np.arange(6) % 2)
    third = dqn._inputs(_cell(cfg, other, "mnist-pairs", 0, state))
    assert third is not first and calls[-1] == ("features", 6)
    assert [c for c in calls if c[0] == "pretrain"] == [("pretrain", 7)]
    state.add_shared_walls()             # the runner adds shared work's time once, at the end
    assert set(state.wall) == {"mnist-full/shared: pretrained backbone",
                               "mnist-full/shared: backbone features",
                               "mnist-pairs/shared: backbone features"}
    state.end("run")                     # a new run pretrains again
    dqn._inputs(_cell(cfg, data, "mnist-full", 0, state))
    assert [c for c in calls if c[0] == "pretrain"] == [("pretrain", 7), ("pretrain", 7)]
