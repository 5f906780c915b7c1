"""Linear probes: separable features reach ~100%, the best epoch is reported, bad input named."""

import numpy as np
import pytest

from repro.methods.linear_probe import ProbeConfig, linear_probes, standardize


def _separable(n, seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=n)
    centres = np.array([[4.0, 0, 0, 0], [0, 4.0, 0, 0], [0, 0, 4.0, 0]])
    return (centres[y] + rng.normal(scale=0.3, size=(n, 4))).astype(np.float32), y


def test_probe_on_linearly_separable_features_reaches_about_100_percent():
    (xa, ya), (xb, yb) = _separable(600, 0), _separable(300, 1)
    noise = np.random.default_rng(2).normal(size=(600, 4)).astype(np.float32)
    result = linear_probes([xa, noise], ya, [xb, noise[:300]], yb, ProbeConfig(epochs=15),
                           seed=0, names=["separable", "noise"])
    assert result.best["separable"] >= 0.99
    assert result.best["noise"] < 0.6                     # chance is 1/3
    assert len(result.curves["separable"]) == 15
    curve = result.curves["separable"]
    assert result.best["separable"] == max(curve) and result.last["separable"] == curve[-1]
    assert curve[result.best_epoch["separable"] - 1] == max(curve)


def test_standardize_uses_the_training_statistics():
    train = np.array([[1.0, 5.0], [3.0, 5.0]], np.float32)
    a, b = standardize(train, np.array([[2.0, 6.0]], np.float32))
    np.testing.assert_allclose(a, [[-1, 0], [1, 0]])
    np.testing.assert_allclose(b, [[0, 1]])             # a constant feature keeps scale 1


def test_probe_names_mismatched_shapes():
    x, y = _separable(50, 0)
    with pytest.raises(ValueError, match="one d"):
        linear_probes([x], y, [x[:, :3]], y, ProbeConfig(epochs=1), seed=0, names=["a"])
    with pytest.raises(ValueError, match="labels"):
        linear_probes([x], y[:10], [x], y, ProbeConfig(epochs=1), seed=0, names=["a"])


def test_probe_defaults_are_eval_linear_s():
    cfg = ProbeConfig()
    assert (cfg.epochs, cfg.learning_rate, cfg.momentum, cfg.weight_decay) == (90, 0.01, 0.9, 1e-4)
    assert cfg.lr_decay and not cfg.standardize and cfg.shots == 0


def test_learning_rate_decays_as_eval_linear_s_schedule():
    from repro.methods.linear_probe import _decay_schedule

    schedule = _decay_schedule(ProbeConfig(learning_rate=0.5, weight_decay=0.01))
    for t in (0, 10, 1000):
        assert float(schedule(t)) == pytest.approx(0.5 / np.sqrt(1 + 0.5 * 0.01 * t), rel=1e-5)
    assert _decay_schedule(ProbeConfig(lr_decay=False)) == 0.01


def test_weight_decay_is_added_to_the_gradient_as_torch_sgd_does():
    import keras

    from repro.methods.linear_probe import _probe_layer
    from repro.methods.pretrain import make_optimizer

    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape=(4,))
    layer = _probe_layer(3, 4, 0.1, "probe")
    model = keras.Model(inputs, layer(inputs))
    model.compile(optimizer=make_optimizer("sgd", 0.5),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    w0 = layer.get_weights()[0].copy()
    assert np.abs(w0).max() <= 0.5 + 1e-6                   # nn.Linear's +-1/sqrt(fan_in)
    # zero inputs: the loss gives the kernel no gradient, only the decay term wd * w moves it
    model.fit(np.zeros((8, 4), np.float32), np.zeros(8, int), batch_size=8, epochs=1, verbose=0)
    np.testing.assert_allclose(layer.get_weights()[0], w0 * (1 - 0.5 * 0.1), rtol=1e-5)


def test_few_shot_indices_draw_per_class_and_name_a_short_class():
    from repro.methods.linear_probe import few_shot_indices

    y = np.repeat(np.arange(4), [30, 20, 12, 50])
    picks = few_shot_indices(y, 10, seed=3)
    np.testing.assert_array_equal(np.bincount(y[picks]), [10, 10, 10, 10])
    assert len(set(picks)) == 40
    np.testing.assert_array_equal(picks, few_shot_indices(y, 10, seed=3))
    assert not np.array_equal(picks, few_shot_indices(y, 10, seed=4))
    with pytest.raises(ValueError, match="class 2 has 12 images"):
        few_shot_indices(y, 13, seed=0)
