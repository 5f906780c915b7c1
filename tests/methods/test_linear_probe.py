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
