"""fit_epochs: one fit call gives what one call per epoch gave (the shuffles included), and
its stopping rules end training where they say."""
import keras
import numpy as np

from repro.methods.hash_heads import STEPS_PER_EXECUTION, HeadConfig, fit_epochs
from repro.methods.pretrain import make_optimizer


def _data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(300, 16)).astype("float32"), rng.normal(size=(300, 4)).astype("float32")


def _model(seed: int, dropout: float = 0.5):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((16,)), keras.layers.Dense(12, activation="relu"),
                             keras.layers.Dropout(dropout), keras.layers.Dense(4)])


def test_one_fit_call_equals_one_call_per_epoch():
    x, y = _data()
    cfg = HeadConfig(epochs=4, batch_size=32, optimizer="sgd", learning_rate=0.05)
    seen = []
    one = _model(1)
    history = fit_epochs(one, x, y, "mse", cfg, seed=7, verbose=0,
                         between=lambda epoch: seen.append(epoch) or {"extra": epoch})
    # the reference: the earlier implementation's loop, one fit call per epoch
    loop = _model(1)
    keras.utils.set_random_seed(7)
    loop.compile(optimizer=make_optimizer("sgd", 0.05, 0.9), loss="mse",
                 steps_per_execution=STEPS_PER_EXECUTION)
    losses = [loop.fit(x, y, epochs=1, batch_size=32, shuffle=True, verbose=0).history["loss"][-1]
              for _ in range(4)]
    for a, b in zip(one.get_weights(), loop.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert [row["loss"] for row in history] == [float(v) for v in losses]
    assert seen == [0, 1, 2, 3] and [row["extra"] for row in history] == [0, 1, 2, 3]
    assert history[-1]["stop"] == 0.0 and [row["iteration"] for row in history] == [10, 20, 30, 40]


def test_steps_per_execution_does_not_change_the_weights():
    # fit_epochs runs STEPS_PER_EXECUTION steps per call (a whole epoch here: 10 steps); one
    # step per call gives the same weights and losses, dropout masks included
    x, y = _data()
    cfg = HeadConfig(epochs=3, batch_size=32, optimizer="adam", learning_rate=0.01)
    fast = _model(2)
    history = fit_epochs(fast, x, y, "mse", cfg, seed=5, verbose=0)
    slow = _model(2)
    keras.utils.set_random_seed(5)
    slow.compile(optimizer=make_optimizer("adam", 0.01, 0.9), loss="mse", steps_per_execution=1)
    losses = slow.fit(x, y, epochs=3, batch_size=32, shuffle=True, verbose=0).history["loss"]
    assert STEPS_PER_EXECUTION > 10
    for a, b in zip(fast.get_weights(), slow.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert [row["loss"] for row in history] == [float(v) for v in losses]


def test_the_plateau_rule_stops_training():
    x, y = _data()
    # learning rate 0, no dropout: the same loss every epoch; window 2 needs 4 epochs to decide
    cfg = HeadConfig(epochs=30, batch_size=32, learning_rate=0.0, plateau_window=2, plateau_tol=0.01)
    history = fit_epochs(_model(0, dropout=0.0), x, y, "mse", cfg, seed=0, verbose=0)
    assert len(history) == 4 and history[-1]["stop"] == 1.0
