"""Tiny synthetic image data shared by the clustering-method tests."""
from __future__ import annotations

import numpy as np
import pytest


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


@pytest.fixture(scope="session")
def blob_images():
    return make_blob_images()


@pytest.fixture(scope="session")
def make_blob_vectors():
    """Factory: flat (n, dim) blobs, e.g. ``make_blob_vectors(n_per_class=60, dim=64, seed=1)``."""
    def make(n_per_class: int = 60, n_classes: int = 4, dim: int = 64, seed: int = 0):
        return make_blob_images(n_per_class, n_classes, seed=seed, shape=(dim,))
    return make
