"""Tiny synthetic image data shared by the clustering-method tests."""
from __future__ import annotations

import numpy as np
import pytest


def make_blob_images(n_per_class: int = 50, n_classes: int = 4, side: int = 16, seed: int = 0):
    """Well separated clusters as images: one random binary prototype per class plus small noise.

    Returns x float32 (n, side, side, 1) in [0, 1] and y int64 (n,), classes interleaved.
    """
    rng = np.random.default_rng(seed)
    prototypes = (rng.random((n_classes, side, side, 1)) > 0.5).astype(np.float32)
    y = np.tile(np.arange(n_classes), n_per_class)
    noise = rng.normal(0.0, 0.05, size=(len(y), side, side, 1))
    x = np.clip(0.1 + 0.8 * prototypes[y] + noise, 0.0, 1.0).astype(np.float32)
    return x, y.astype(np.int64)


@pytest.fixture(scope="session")
def blob_images():
    return make_blob_images()
