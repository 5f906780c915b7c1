"""DQN's pairwise losses equal hand-computed values; the code-length rule; CNNH stage 1; DNNH
triplet loss and piece-wise threshold."""

from __future__ import annotations

import numpy as np
import pytest

from repro.methods.dqn import cosine_loss, inner_product_loss, make_loss, subspaces


def _np(x):
    from keras import ops

    return float(ops.convert_to_numpy(x))


LABELS = np.array([[1, 0], [1, 0], [0, 1]], dtype=np.float32)      # 0 ~ 1, 2 alone
Z = np.array([[1.0, 0.0], [0.6, 0.8], [-1.0, 0.0]], dtype=np.float32)


def test_cosine_loss_by_hand():
    # cos(0,1) = 0.6 (s=+1), cos(0,2) = -1 (s=-1), cos(1,2) = -0.6 (s=-1)
    expected = ((1 - 0.6) ** 2 + (-1 + 1) ** 2 + (-1 + 0.6) ** 2) * 2 / 6
    assert _np(cosine_loss(LABELS, Z)) == pytest.approx(expected, rel=1e-6)


def test_cosine_loss_ignores_the_norms():
    scaled = Z * np.array([[3.0], [0.5], [7.0]], dtype=np.float32)
    assert _np(cosine_loss(LABELS, scaled)) == pytest.approx(_np(cosine_loss(LABELS, Z)), rel=1e-6)


def test_inner_product_loss_by_hand():
    # <z0,z1> = 0.6, <z0,z2> = -1, <z1,z2> = -0.6; divided by the width 2
    expected = ((1 - 0.3) ** 2 + (-1 + 0.5) ** 2 + (-1 + 0.3) ** 2) * 2 / 6
    assert _np(inner_product_loss(LABELS, Z)) == pytest.approx(expected, rel=1e-6)


def test_quantization_term_is_added_with_its_weight():
    target = np.zeros_like(Z)
    y = np.concatenate([LABELS, target, np.full((len(Z), 1), 0.5, np.float32)], axis=1)
    q = float(np.mean(Z ** 2))   # Eq. 4 averaged over images and the width
    value = _np(make_loss("cosine", 2)(y, Z))
    assert value == pytest.approx(_np(cosine_loss(LABELS, Z)) + 0.5 * q, rel=1e-6)


def test_lambda_read_from_the_targets_last_column():
    # one compiled step for warm-up and training: lambda travels in y (0 -> the loss alone)
    target = np.zeros_like(Z)
    q = float(np.mean(Z ** 2))
    for weight in (0.0, 0.5):
        y = np.concatenate([LABELS, target, np.full((len(Z), 1), weight, np.float32)], axis=1)
        value = _np(make_loss("cosine", 2)(y, Z))
        assert value == pytest.approx(_np(cosine_loss(LABELS, Z)) + weight * q, rel=1e-6)


def test_code_length_rule():
    assert [subspaces(b) for b in (12, 24, 32, 48)] == [3, 6, 8, 12]
    with pytest.raises(ValueError, match="bits"):
        subspaces(10)


def test_cnnh_stage1_fits_the_similarity():
    from repro.methods.cnnh import CNNHConfig, stage1_codes, stage1_objective

    labels = np.repeat(np.arange(4), 25)
    codes = stage1_codes(labels, 8, CNNHConfig(sweeps=2, gradient_steps=5), seed=0)
    assert codes.shape == (100, 8) and set(np.unique(codes)) <= {-1, 1}
    random = np.random.default_rng(0).choice([-1, 1], size=(100, 8)).astype(np.int8)
    assert stage1_objective(labels, codes) < 0.5 * stage1_objective(labels, random)
    # same class -> same code (the exact minimiser for 4 classes and 8 bits separates them)
    same = (codes[:, None, :] == codes[None, :, :]).all(axis=2)
    assert (same == (labels[:, None] == labels[None, :])).mean() > 0.95


def test_dnnh_triplet_loss_by_hand():
    from repro.methods.dnnh import triplet_loss

    labels = np.array([[1, 0], [1, 0], [0, 1]], dtype=np.float32)
    h = np.array([[0.0], [0.5], [1.0]], dtype=np.float32)
    # anchors with a positive and a negative: (0, 1, 2): 1 - (1 - 0.25) = 0.25;
    # (1, 0, 2): 1 - (0.25 - 0.25) = 1
    assert _np(triplet_loss(labels, h)) == pytest.approx((0.25 + 1.0) / 2, rel=1e-6)


def test_dnnh_piecewise_threshold():
    from repro.methods.dnnh import _layers

    _, threshold = _layers()
    layer = threshold(0.1)
    s = np.array([[0.1, 0.45, 0.55, 0.9]], dtype=np.float32)
    from keras import ops

    out = ops.convert_to_numpy(layer(s, training=True))
    np.testing.assert_allclose(out, [[0.0, 0.45, 0.55, 1.0]], rtol=1e-6)
    np.testing.assert_allclose(ops.convert_to_numpy(layer(s, training=False)), s)
