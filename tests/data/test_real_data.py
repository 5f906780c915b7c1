"""The real MNIST and USPS files (from REPRO_DATA_MIRRORS or ../shared/data).

Skipped when the files are absent, unless REPRO_REQUIRE_REAL_DATA=1.
"""

import numpy as np

from repro.data import verify

# class counts from shared/data/README.md
MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
# the standard USPS split (Hull 1994); the data README gives only the totals 7291 / 2007
USPS_TRAIN_COUNTS = [1194, 1005, 731, 658, 652, 556, 664, 645, 542, 644]
USPS_TEST_COUNTS = [359, 264, 198, 166, 200, 160, 170, 147, 166, 177]


def check_images(ds, shape):
    assert ds.x.shape == shape and ds.x.dtype == np.float32 and ds.x.flags.c_contiguous
    assert ds.y.shape == shape[:1] and ds.y.dtype == np.int64
    assert ds.x.min() == 0.0 and ds.x.max() == 1.0
    assert ds.n_classes == 10 and ds.image_shape == shape[1:]


def test_mnist_full(real_data):
    ds = real_data("mnist-full")
    check_images(ds, (70000, 28, 28, 1))
    assert np.bincount(ds.y[:60000]).tolist() == MNIST_TRAIN_COUNTS
    assert np.bincount(ds.y[60000:]).tolist() == MNIST_TEST_COUNTS
    assert len(ds.files) == 4
    pixels = ds.x[:100] * 255  # stored bytes scaled by 1/255 exactly
    np.testing.assert_allclose(pixels, np.round(pixels), atol=1e-4)


def test_mnist_test_is_the_tail_of_mnist_full(real_data):
    test, full = real_data("mnist-test"), real_data("mnist-full")
    check_images(test, (10000, 28, 28, 1))
    assert np.bincount(test.y).tolist() == MNIST_TEST_COUNTS
    np.testing.assert_array_equal(test.x, full.x[60000:])
    np.testing.assert_array_equal(test.y, full.y[60000:])
    assert test.files.items() <= full.files.items()


def test_usps(real_data):
    ds = real_data("usps")
    check_images(ds, (9298, 16, 16, 1))
    assert np.bincount(ds.y[:7291]).tolist() == USPS_TRAIN_COUNTS
    assert np.bincount(ds.y[7291:]).tolist() == USPS_TEST_COUNTS
    assert ds.files == {
        "usps.h5": "734f88c541104a956d88be2c95d03b4a463ffd74ccc2ba9c80841fb98e3fcb36"}


def test_verify_real_files(real_data):
    real_data("mnist-full")
    real_data("usps")
    assert verify("mnist-full")["train-images-idx3-ubyte.gz"] == (
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609")
    assert list(verify("usps")) == ["usps.h5"]
