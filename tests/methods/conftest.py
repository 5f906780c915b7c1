"""Tiny synthetic image data shared by the clustering-method tests."""
from __future__ import annotations

import pytest

from contract import make_blob_images


@pytest.fixture(scope="session")
def blob_images():
    return make_blob_images()


@pytest.fixture(scope="session")
def make_blob_vectors():
    """Factory: flat (n, dim) blobs, e.g. ``make_blob_vectors(n_per_class=60, dim=64, seed=1)``."""
    def make(n_per_class: int = 60, n_classes: int = 4, dim: int = 64, seed: int = 0):
        return make_blob_images(n_per_class, n_classes, seed=seed, shape=(dim,))
    return make
