"""OPQ (Ge et al. 2013, non-parametric): orthogonal rotation, lower error than PQ on correlated data."""

import numpy as np
import pytest
from scipy.stats import ortho_group

from repro.quantization import ProductQuantizer
from repro.quantization.opq import OPQ, eigenvalue_allocation, procrustes_rotation


@pytest.fixture(scope="module")
def correlated():
    """(1500, 16) anisotropic Gaussian data under a random rotation (correlated dimensions)."""
    rng = np.random.default_rng(0)
    scales = np.geomspace(4.0, 0.1, 16)
    rotation = ortho_group.rvs(16, random_state=1)
    return ((rng.normal(size=(1500, 16)) * scales) @ rotation).astype(np.float32)


@pytest.fixture(scope="module")
def fitted(correlated):
    return OPQ().fit(correlated, n_subspaces=4, n_codewords=16, seed=0, n_iter=8)


def test_rotation_is_orthogonal(fitted):
    rotation = fitted.rotation
    assert rotation.shape == (16, 16)
    np.testing.assert_allclose(rotation.T @ rotation, np.eye(16), atol=1e-5)


def test_error_is_at_most_plain_pq_and_never_rises(correlated, fitted):
    pq_error = ProductQuantizer(4, 16).fit(correlated, seed=0).quantization_error(correlated)
    opq_error = fitted.quantization_error(correlated)
    assert fitted.error_history[0] == pytest.approx(pq_error, rel=1e-5)  # R = I: the first step is PQ
    assert opq_error < 0.9 * pq_error
    history = np.array(fitted.error_history)
    assert np.all(np.diff(history) <= 1e-6 * history[:-1])


def test_eigenvalue_allocation_init(correlated):
    rotation = eigenvalue_allocation(correlated, 4)
    np.testing.assert_allclose(rotation.T @ rotation, np.eye(16), atol=1e-8)
    opq = OPQ().fit(correlated, 4, 16, seed=0, n_iter=4, init="eigenvalue_allocation")
    np.testing.assert_allclose(opq.rotation.T @ opq.rotation, np.eye(16), atol=1e-5)
    pq_error = ProductQuantizer(4, 16).fit(correlated, seed=0).quantization_error(correlated)
    assert opq.quantization_error(correlated) < pq_error


def test_procrustes_recovers_a_rotation():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(100, 6))
    rotation = ortho_group.rvs(6, random_state=3)
    np.testing.assert_allclose(procrustes_rotation(x, x @ rotation), rotation, atol=1e-10)


def test_encode_decode_and_asymmetric_distances(correlated, fitted):
    queries, items = correlated[:7], correlated[100:160]
    codes = fitted.encode(items)
    assert codes.shape == (60, 4) and codes.dtype == np.uint8
    decoded = fitted.decode(codes).astype(np.float64)
    expected = ((queries[:, None, :].astype(np.float64) - decoded[None]) ** 2).sum(axis=2)
    np.testing.assert_allclose(fitted.asymmetric_distances(queries, codes), expected, rtol=1e-4, atol=1e-4)
    error = np.mean(np.sum((items.astype(np.float64) - decoded) ** 2, axis=1))
    assert fitted.quantization_error(items) == pytest.approx(error, rel=1e-4)


def test_bad_input_raises_a_clear_error(correlated):
    with pytest.raises(ValueError, match="not divisible"):
        OPQ().fit(correlated, 5, 16)
    with pytest.raises(ValueError, match="init"):
        OPQ().fit(correlated, 4, 16, init="random")
    with pytest.raises(ValueError, match="fewer than n_codewords"):
        OPQ().fit(correlated[:10], 4, 16)
    with pytest.raises(ValueError, match="not fitted"):
        OPQ().encode(correlated)
