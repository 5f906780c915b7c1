"""The DQN stage's shared backbone: one pretraining (``backbone.pretrain_seed``) and one
feature pass per dataset, whatever the seed (the paper's one ImageNet model)."""

import types

import numpy as np
import pytest

from repro.papers.runner import Cell, RunState


def _cell(cfg, data, dataset, seed, state):
    return Cell("dqn", dataset, seed, "dqn", cfg, data, lambda *a, **k: None, state)


def test_one_pretraining_and_one_feature_pass_serve_every_seed(monkeypatch):
    from repro.papers import dqn

    calls = []

    class FakeBackbone:
        def features(self, x):
            calls.append(("features", len(x)))
            return np.zeros((len(x), 3), np.float32)

    def fake_pretrain(x, y, cfg, *, seed, verbose, log):
        calls.append(("pretrain", seed))
        return types.SimpleNamespace(source_accuracy=1.0, features=FakeBackbone().features)

    monkeypatch.setattr(dqn, "pretrain_backbone", fake_pretrain)
    monkeypatch.setattr(dqn, "load", lambda name: types.SimpleNamespace(
        x=np.zeros((4, 28, 28, 1)), y=np.arange(4)))
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


def test_dqn2plus_network_trained_once_per_seed_and_quantized_per_length(monkeypatch):
    """DQN2+'s network does not depend on the code length: one training per seed, one OPQ per
    length (issue 25), through the stage's table of retrievers."""
    from repro.methods.dqn import DQN2Plus
    from repro.papers import dqn

    calls = []

    def fake_train_network(self, x, y, *, seed):
        calls.append(seed)
        return object(), [{"iteration": 1, "epoch": 1.0, "loss": 0.5}]

    monkeypatch.setattr(DQN2Plus, "train_network", fake_train_network)
    import repro.methods.dqn as methods_dqn

    monkeypatch.setattr(methods_dqn, "forward", lambda network, x: np.random.default_rng(
        len(x)).normal(size=(len(x), 24)).astype(np.float32))
    cfg = dqn.Config(seeds=(0, 1), bits=(12, 24), curve_bits=12, efficiency_bits=12,
                     dqn=dqn.DQNConfig(width=24, kmeans_iter=2, opq_iter=1))
    data = types.SimpleNamespace(x=np.zeros((120, 2)), y=np.arange(120) % 3)
    split = {"query": np.arange(10), "train": np.arange(10, 70), "database": np.arange(70, 120)}
    inputs = types.SimpleNamespace(rows=lambda index: np.zeros((len(index), 2), np.float32),
                                   backbone=None)
    monkeypatch.setattr(dqn, "_inputs", lambda cell, split=None: inputs)
    state = RunState()
    reads, factory = dqn.RETRIEVERS["dqn2plus"]
    for seed in (0, 1):
        cell = Cell("dqn", "mnist-full", seed, "dqn2plus", cfg, data, lambda *a, **k: None, state)
        rows = reads(cell, split)
        indexes = [factory(cell, split, bits).fit(rows(split["train"]), data.y[split["train"]],
                                                  seed=seed) for bits in cfg.bits]
        assert [i.quantizer.pq.codebooks.shape[0] for i in indexes] == [3, 6]   # M per length
        assert indexes[0].network is indexes[1].network
        state.end("seed")
    assert calls == [0, 1]


def test_validation_split_is_drawn_from_the_database_never_the_queries():
    from repro.papers import dqn

    split = {"query": np.arange(0, 20), "train": np.arange(20, 50), "database": np.arange(50, 400)}
    val = dqn.validation_split(split, seed=3, n_query=20, n_items=100)
    assert len(val["query"]) == 20 and len(val["database"]) == 100
    assert set(val["query"]) <= set(split["database"]) and set(val["database"]) <= set(split["database"])
    assert not set(val["query"]) & set(val["database"])
    assert not (set(val["query"]) | set(val["database"])) & set(split["query"])
    with pytest.raises(ValueError, match="n_query"):
        dqn.validation_split(split, seed=3, n_query=350)


def test_finetuned_backbone_is_a_trained_copy():
    """MNIST-pairs: the trunk fine-tuned on the training split's multi-hot labels; the
    pretrained backbone (shared by every seed) is left as it was."""
    from repro.models.retrieval import BackboneConfig, pretrain_backbone
    from repro.papers import dqn

    rng = np.random.default_rng(0)
    cfg = BackboneConfig(conv_widths=(2, 2, 2, 2, 2), fc_widths=(4, 4), pretrain_epochs=1,
                         batch_size=8)
    x = rng.random((16, 28, 28, 1)).astype(np.float32)
    backbone = pretrain_backbone(x, np.arange(16) % 2, cfg, seed=0, verbose=0, log=lambda *a: None)
    before = [w.copy() for w in backbone.trunk.get_weights()]
    y = (rng.random((16, 3)) < 0.5).astype(np.uint8)
    tuned = dqn.finetune_backbone(backbone, x, y, 2, seed=0, verbose=0, log=lambda *a: None)
    for old, now in zip(before, backbone.trunk.get_weights()):
        np.testing.assert_array_equal(old, now)
    assert any(not np.array_equal(a, b) for a, b in zip(before, tuned.trunk.get_weights()))
    assert tuned.features(x).shape == backbone.features(x).shape
    with pytest.raises(ValueError, match="epochs"):
        dqn.finetune_backbone(backbone, x, y, 0, seed=0)
