"""Small fitted product quantizers shared by the quantization tests."""

import numpy as np
import pytest

from repro.quantization import ProductQuantizer


@pytest.fixture(scope="module")
def gaussian_data():
    """(600, 8) float32 standard normal vectors."""
    return np.random.default_rng(0).normal(size=(600, 8)).astype(np.float32)


@pytest.fixture(scope="module")
def fitted_pq(gaussian_data):
    """M = 4 subspaces of 2 dims, L = 16 codewords, fitted on ``gaussian_data``."""
    return ProductQuantizer(n_subspaces=4, n_codewords=16).fit(gaussian_data, seed=0, n_iter=10)
