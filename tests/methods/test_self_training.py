"""DEC's self-training loop: sequential batches, the target-update / stopping callback, the loop."""
import numpy as np
import pytest

from repro.methods.self_training import (
    SelfTrainingConfig,
    SequentialBatches,
    TargetDistributionUpdate,
)
from repro.models.clustering import target_distribution


def test_sequential_batches_follow_data_order_and_wrap_around():
    x = np.arange(10, dtype="float32")[:, None] * 10
    batches = SequentialBatches(x, batch_size=4)
    assert batches.num_batches is None
    seen = [batches[i][1].tolist() for i in range(4)]
    assert seen == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 0, 1], [2, 3, 4, 5]]
    xb, index = batches[2]
    np.testing.assert_array_equal(xb[:, 0], x[index, 0])


def test_sequential_batches_larger_than_data():
    batches = SequentialBatches(np.zeros((3, 2), "float32"), batch_size=7)
    assert batches[1][1].tolist() == [1, 2, 0, 1, 2, 0, 1]


class FakeModel:
    """Stands in for DeepClusteringModel: returns a scripted Q at each update."""

    def __init__(self, qs):
        self.qs, self.calls, self.targets, self.stop_training = list(qs), 0, None, False

    def predict_soft_assignments(self, x, batch_size):
        q = self.qs[min(self.calls, len(self.qs) - 1)]
        self.calls += 1
        return q

    def set_targets(self, p):
        self.targets = p


def _q(labels, k=3):
    q = np.full((len(labels), k), 0.1)
    q[np.arange(len(labels)), labels] = 0.8
    return q


def _callback(qs, *, tol=0.1, max_iter=1000, initial=(0, 0, 0, 0, 0, 0, 0, 0, 0, 0), y=None):
    callback = TargetDistributionUpdate(
        np.zeros((10, 2)), update_interval=5, tol=tol, max_iter=max_iter, batch_size=4,
        initial_labels=np.array(initial), y_true=y)
    model = FakeModel(qs)
    callback.set_model(model)
    return callback, model


def _run_interval(callback, steps=5):
    for step in range(steps):
        callback.on_train_batch_end(step, {})
    logs = {"loss": 1.0}
    callback.on_epoch_end(0, logs)
    return logs


def test_stops_when_fewer_than_tol_labels_change():
    a = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 0])
    b = a.copy()
    b[0] = 1  # 10% changed: not < tol = 0.1
    callback, model = _callback([_q(a), _q(b), _q(b)], initial=a)
    callback.on_train_begin()
    assert not model.stop_training  # first update never stops (delta 0 here)
    logs = _run_interval(callback)
    assert logs["delta_label"] == pytest.approx(0.1)
    assert not model.stop_training and callback.stopped_by is None
    logs = _run_interval(callback)
    assert logs["delta_label"] == 0.0
    assert model.stop_training and callback.stopped_by == "tol"
    np.testing.assert_array_equal(callback.labels, b)
    np.testing.assert_allclose(model.targets, target_distribution(_q(b)))


def test_does_not_stop_while_labels_keep_changing():
    a = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 0])
    qs = [_q(a), _q((a + 1) % 3), _q(a), _q((a + 1) % 3)]
    callback, model = _callback(qs, tol=0.001, initial=a)
    callback.on_train_begin()
    for _ in range(3):
        _run_interval(callback)
        assert not model.stop_training
    assert [row["delta_label"] for row in callback.history] == [0.0, 1.0, 1.0, 1.0]


def test_stops_after_max_iter_steps_and_records_history():
    a = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 0])
    y = a.copy()
    callback, model = _callback([_q(a), _q((a + 1) % 3)], tol=0.0, max_iter=7, initial=a, y=y)
    callback.on_train_begin()
    _run_interval(callback)
    for step in range(2):
        callback.on_train_batch_end(step, {})
    assert model.stop_training and callback.stopped_by == "max_iter"
    callback.on_epoch_end(1, {"loss": 0.5})
    assert callback.iteration == 7
    rows = callback.history
    assert [r["iteration"] for r in rows] == [0, 5, 7]
    assert rows[-1]["epoch"] == pytest.approx(7 * 4 / 10)
    assert rows[-1]["loss"] == 0.5 and np.isnan(rows[0]["loss"])
    assert rows[-1]["acc"] == 1.0 and rows[-1]["nmi"] == pytest.approx(1.0)  # permuted labels


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="update_interval"):
        SelfTrainingConfig(update_interval=0)
    with pytest.raises(ValueError, match="tol"):
        SelfTrainingConfig(tol=1.5)
