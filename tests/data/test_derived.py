"""Derived stand-in data: MNIST-pairs, USPS on MNIST's canvas, the retrieval split."""

from __future__ import annotations

import numpy as np
import pytest

from repro.data.derived import digit_pairs, retrieval_split, usps_on_mnist_canvas


def _digits(n=40):
    rng = np.random.default_rng(1)
    return rng.random((n, 28, 28, 1)).astype(np.float32), rng.integers(0, 10, n)


def test_digit_pairs_keeps_both_digits_and_their_labels():
    x, y = _digits()
    images, labels = digit_pairs(x, y)
    assert images.shape == (20, 28, 28, 1) and labels.shape == (20, 10)
    order = np.random.default_rng(0).permutation(40)
    first, second = order[:20], order[20:]
    expected = np.zeros((20, 10), np.uint8)
    expected[np.arange(20), y[first]] = 1
    expected[np.arange(20), y[second]] = 1
    np.testing.assert_array_equal(labels, expected)
    # the image holds the two 2x-downsampled digits: total intensity is preserved (/4)
    small_sum = x.reshape(40, -1).sum(axis=1) / 4
    np.testing.assert_allclose(images.reshape(20, -1).sum(axis=1),
                               small_sum[first] + small_sum[second], rtol=1e-5)


def test_digit_pairs_is_deterministic():
    x, y = _digits()
    a, b = digit_pairs(x, y), digit_pairs(x, y)
    np.testing.assert_array_equal(a[0], b[0])
    with pytest.raises(ValueError, match="28, 28, 1"):
        digit_pairs(x[:, :20], y)


def test_usps_on_canvas():
    x = np.ones((3, 16, 16, 1), np.float32)
    out = usps_on_mnist_canvas(x)
    assert out.shape == (3, 28, 28, 1)
    assert out[:, :4].max() == 0 and out[:, 4:24, 4:24].min() > 0.99
    with pytest.raises(ValueError, match="16, 16, 1"):
        usps_on_mnist_canvas(np.ones((3, 28, 28, 1)))


def test_retrieval_split_single_and_multi_label():
    y = np.repeat(np.arange(5), 30)
    split = retrieval_split(y, n_query=3, n_train=7, seed=0)
    assert len(split["query"]) == 15 and len(split["train"]) == 35
    assert len(split["database"]) == 150 - 50
    allidx = np.concatenate(list(split.values()))
    assert len(np.unique(allidx)) == 150
    assert (np.bincount(y[split["query"]]) == 3).all()
    multi = np.zeros((150, 5), np.uint8)
    multi[np.arange(150), y] = 1
    multi[np.arange(0, 150, 2), (y[::2] + 1) % 5] = 1
    split = retrieval_split(multi, n_query=2, n_train=4, seed=0)
    assert len(split["query"]) == 10 and (multi[split["query"]].sum(axis=0) >= 2).all()
    with pytest.raises(ValueError, match="free images"):
        retrieval_split(y, n_query=20, n_train=20, seed=0)
