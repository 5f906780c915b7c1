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


# ------------------------------------------------------- the derived sets of the registry

DERIVED_FROM_MNIST = ("mnist-pairs", "mnist-train-04", "mnist-train-59", "mnist-test-04",
                      "mnist-test-59")


@pytest.fixture
def tiny_mnist_full(isolated_data_env, tiny, patch_files):
    """Tiny MNIST files (12 train, 8 test digits) in data/raw/mnist, the sha256 of mnist-full
    and of every set derived from it patched. Returns (train labels, test labels)."""
    from repro.data import mnist

    rng = np.random.default_rng(3)
    labels = {"train": np.array([0, 5, 1, 6, 2, 7, 3, 8, 4, 9, 0, 5], np.uint8),
              "test": np.array([9, 4, 8, 3, 7, 2, 6, 1], np.uint8)}
    contents = {}
    for part, images_name, labels_name in (("train", mnist.TRAIN_IMAGES, mnist.TRAIN_LABELS),
                                           ("test", mnist.TEST_IMAGES, mnist.TEST_LABELS)):
        images = rng.integers(0, 256, (len(labels[part]), 28, 28), dtype=np.uint8)
        images[0, 0, 0], images[1, 0, 0] = 0, 255       # the range's two ends are present
        contents[images_name] = tiny.idx_gz_bytes(images)
        contents[labels_name] = tiny.idx_gz_bytes(labels[part])
    folder = isolated_data_env / "mnist"
    folder.mkdir(parents=True)
    for name, data in contents.items():
        (folder / name).write_bytes(data)
    checksums = {name: {"sha256": tiny.sha256_bytes(data)} for name, data in contents.items()}
    for dataset in ("mnist-full",) + DERIVED_FROM_MNIST:
        patch_files(dataset, checksums)
    return labels["train"], labels["test"]


def test_mnist_pairs_is_digit_pairs_of_mnist_full(tiny_mnist_full):
    from repro.data import load

    full, pairs = load("mnist-full"), load("mnist-pairs")
    x, y = digit_pairs(full.x, full.y)          # what the DQN stage built itself before
    np.testing.assert_array_equal(pairs.x, x)
    np.testing.assert_array_equal(pairs.y, y)
    assert pairs.x.shape == (10, 28, 28, 1) and pairs.x.dtype == np.float32
    assert pairs.y.dtype == np.uint8 and set(pairs.y.sum(axis=1)) <= {1, 2}
    assert pairs.files == full.files and len(pairs.files) == 4
    assert pairs.scaled() is pairs and 0.0 <= pairs.x.min() and pairs.x.max() <= 1.0


@pytest.mark.parametrize("name, part, digits", [
    ("mnist-train-04", "train", (0, 1, 2, 3, 4)), ("mnist-train-59", "train", (5, 6, 7, 8, 9)),
    ("mnist-test-04", "test", (0, 1, 2, 3, 4)), ("mnist-test-59", "test", (5, 6, 7, 8, 9))])
def test_digit_subsets_are_the_part_of_mnist_full_with_those_digits(tiny_mnist_full, name,
                                                                     part, digits):
    from repro.data import load

    train_labels, test_labels = tiny_mnist_full
    full, subset = load("mnist-full"), load(name)
    cut = slice(0, len(train_labels)) if part == "train" else slice(len(train_labels), None)
    keep = np.isin(full.y[cut], digits)          # the UCNN stage's own construction before
    np.testing.assert_array_equal(subset.x, full.x[cut][keep])
    np.testing.assert_array_equal(subset.y, full.y[cut][keep])
    labels = train_labels if part == "train" else test_labels
    assert subset.y.tolist() == [v for v in labels.tolist() if v in digits]
    assert subset.x.dtype == np.float32 and subset.files == full.files
    assert subset.n_train is None


def test_scaled_is_the_one_normalisation_rule():
    from repro.data import Dataset, DatasetError

    pixels = np.array([0, 1, 128, 255], np.uint8).reshape(1, 2, 2, 1)
    raw = Dataset("rgb", pixels, np.zeros(1, np.int64), {"f": "0"})
    scaled = raw.scaled()
    assert scaled.x.dtype == np.float32 and scaled.name == "rgb" and scaled.files == raw.files
    np.testing.assert_array_equal(scaled.x.ravel(), np.float32([0, 1, 128, 255]) / 255.0)
    assert scaled.x.max() == 1.0 and scaled.scaled() is scaled
    with pytest.raises(DatasetError, match="uint8 or float32.*float64"):
        Dataset("f64", pixels.astype(np.float64), raw.y, {}).scaled()


def test_train_test_split_indices_and_head():
    from repro.data import Dataset, DatasetError
    from repro.data.dataset import train_then_test

    def part(n, start):
        return Dataset(f"p{start}", np.full((n, 2, 2, 3), start, np.uint8),
                       np.arange(start, start + n), {f"file{start}": str(start)})

    column = train_then_test("column", part(3, 0), part(2, 3))
    assert column.train.tolist() == [0, 1, 2] and column.test.tolist() == [3, 4]
    assert column.y.tolist() == [0, 1, 2, 3, 4] and column.files == {"file0": "0", "file3": "3"}
    assert column.scaled().train.tolist() == [0, 1, 2]
    head = column.head(2)
    assert len(head) == 2 and head.train.tolist() == [0, 1] and head.test.tolist() == []
    with pytest.raises(DatasetError, match="no train / test split"):
        part(2, 0).train


def test_real_derived_sets_match_their_construction(real_data):
    from repro.data import load

    full, usps = real_data("mnist-full"), real_data("usps")
    canvas = load("usps-28")          # the pretraining source of DQN, DeepCluster's usps column
    np.testing.assert_array_equal(canvas.x, usps_on_mnist_canvas(usps.x))
    np.testing.assert_array_equal(canvas.y, usps.y)
    assert canvas.x.shape == (9298, 28, 28, 1) and canvas.files == usps.files
    assert (canvas.n_train, len(canvas.test)) == (7291, 2007) and full.n_train == 60000
    assert 0.0 <= canvas.x.min() and canvas.x.max() <= 1.0 and canvas.x.max() > 0.9
    pretraining = load("mnist-train-04")
    keep = np.isin(full.y[:60000], (0, 1, 2, 3, 4))
    np.testing.assert_array_equal(pretraining.x, full.x[:60000][keep])
    assert np.bincount(pretraining.y).tolist() == [5923, 6742, 5958, 6131, 5842]
