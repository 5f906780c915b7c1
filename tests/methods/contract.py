"""The clusterer contract (repro.methods.base), checked the same way for every method.

``tests/methods/test_contract_<paper>.py`` call :func:`check_clusterer` with a factory
``make(n_clusters) -> estimator`` and easy data; each check can fail:

- the same seed gives the same labels (two fresh estimators);
- the labels do not depend on ``y`` (y given, y shuffled, y absent: identical labels);
- a quality floor on the easy data (ACC against the true classes);
- bad input is a clear ``ValueError``: 1-D x, NaN in x, more clusters than points,
  y of the wrong length.
"""
from __future__ import annotations

import numpy as np
import pytest

from repro.methods.base import ClusteringResult, Clusterer
from repro.metrics import cluster_acc


def make_blob_images(n_per_class: int = 50, n_classes: int = 4, side: int = 16, seed: int = 0,
                     shape: tuple[int, ...] | None = None):
    """Well separated clusters as images: one random binary prototype per class plus small noise.

    Returns x float32 (n, side, side, 1) (or (n, *shape)) in [0, 1] and y int64 (n,), classes
    interleaved.
    """
    shape = tuple(shape) if shape is not None else (side, side, 1)
    rng = np.random.default_rng(seed)
    prototypes = (rng.random((n_classes, *shape)) > 0.5).astype(np.float32)
    y = np.tile(np.arange(n_classes), n_per_class)
    noise = rng.normal(0.0, 0.05, size=(len(y), *shape))
    x = np.clip(0.1 + 0.8 * prototypes[y] + noise, 0.0, 1.0).astype(np.float32)
    return x, y.astype(np.int64)


def check_clusterer(make, x: np.ndarray, y: np.ndarray, *, min_acc: float, seed: int = 0,
                    bad_input: bool = True) -> ClusteringResult:
    """Run every contract check on ``make(k)`` (k = the classes of ``y``); return the first
    result for extra, method-specific checks."""
    k = int(np.unique(y).size)
    estimator = make(k)
    assert isinstance(estimator, Clusterer), f"{type(estimator).__name__} has no fit(x, *, seed, y)"
    first = estimator.fit(x, seed=seed, y=y)
    assert isinstance(first, ClusteringResult)
    assert first.labels.shape == (len(x),)
    again = make(k).fit(x, seed=seed, y=y)
    np.testing.assert_array_equal(first.labels, again.labels, err_msg="same seed, other labels")
    shuffled = np.random.default_rng(seed + 1).permutation(y)
    np.testing.assert_array_equal(first.labels, make(k).fit(x, seed=seed, y=shuffled).labels,
                                  err_msg="labels depend on y")
    np.testing.assert_array_equal(first.labels, make(k).fit(x, seed=seed, y=None).labels,
                                  err_msg="labels depend on whether y is given")
    acc = cluster_acc(y, first.labels)
    assert acc >= min_acc, f"ACC {acc:.3f} on easy data, below the floor {min_acc}"
    if bad_input:
        check_bad_input(make, x, y)
    return first


def check_bad_input(make, x: np.ndarray, y: np.ndarray) -> None:
    k = int(np.unique(y).size)
    with pytest.raises(ValueError):
        make(k).fit(x.reshape(-1), seed=0)
    broken = x.copy()
    broken.reshape(len(x), -1)[3, 0] = np.nan
    with pytest.raises(ValueError, match="(?i)nan|finite"):
        make(k).fit(broken, seed=0)
    with pytest.raises(ValueError):
        make(len(x) + 1).fit(x, seed=0)
    with pytest.raises(ValueError):
        make(k).fit(x, seed=0, y=y[:-1])
