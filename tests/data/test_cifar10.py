"""CIFAR-10 loaders on tiny archives in the official layouts."""

import os

import numpy as np
import pytest

from repro.data import ChecksumError, DatasetError, load
from repro.data.cifar10 import to_images

TRAIN = [f"data_batch_{i}" for i in range(1, 6)]


@pytest.fixture
def batches(tiny):
    return tiny.cifar_batches(np.random.default_rng(1), per_batch=2)


def install(tiny, patch_files, raw, builder, batches, filename):
    archive = builder(raw / "cifar-10" / filename, batches)
    patch_files("cifar-10", {filename: {"sha256": tiny.sha256_file(archive)}})
    return archive


def expected(batches, names):
    x = np.concatenate([batches[n][0] for n in names]).astype(np.float32) / np.float32(255)
    return x, np.concatenate([batches[n][1] for n in names])


ALL = TRAIN + ["test_batch"]


@pytest.mark.parametrize("filename", ["cifar-10-python.tar.gz", "cifar-10-binary.tar.gz"])
@pytest.mark.parametrize("split, names", [("train", TRAIN), ("test", ["test_batch"]),
                                          ("all", ALL), (None, ALL)])
def test_split_from_either_archive(tiny, patch_files, isolated_data_env, batches,
                                   filename, split, names):
    builder = tiny.cifar_python_archive if "python" in filename else tiny.cifar_binary_archive
    archive = install(tiny, patch_files, isolated_data_env, builder, batches, filename)
    ds = load("cifar-10", split=split)
    x, y = expected(batches, names)
    assert ds.x.dtype == np.float32 and ds.y.dtype == np.int64
    assert ds.x.shape == (2 * len(names), 32, 32, 3) and ds.image_shape == (32, 32, 3)
    np.testing.assert_array_equal(ds.x, x)
    np.testing.assert_array_equal(ds.y, y)
    assert ds.files == {filename: tiny.sha256_file(archive)}
    assert ds.split == (split or "all")


def test_channel_major_row_layout_by_hand():
    row = np.zeros((1, 3072), np.uint8)
    row[0, 1] = 255          # red, row 0, column 1
    row[0, 1024 + 32] = 51   # green, row 1, column 0
    row[0, 3071] = 102       # blue, row 31, column 31
    x = to_images(row)
    assert x[0, 0, 1, 0] == 1.0 and x[0, 1, 0, 1] == np.float32(0.2)
    assert x[0, 31, 31, 2] == np.float32(0.4) and np.count_nonzero(x) == 3


def test_python_archive_is_preferred_when_both_are_present(
        tiny, patch_files, isolated_data_env, batches):
    install(tiny, patch_files, isolated_data_env, tiny.cifar_python_archive, batches,
            "cifar-10-python.tar.gz")
    other = {name: (255 - images, labels) for name, (images, labels) in batches.items()}
    install(tiny, patch_files, isolated_data_env, tiny.cifar_binary_archive, other,
            "cifar-10-binary.tar.gz")
    ds = load("cifar-10", split="test")
    assert list(ds.files) == ["cifar-10-python.tar.gz"]
    np.testing.assert_array_equal(ds.x, expected(batches, ["test_batch"])[0])


class MakesDirectory:
    """Unpickling this runs os.mkdir(path): a stand-in for a malicious pickle."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return os.mkdir, (self.path,)


@pytest.mark.parametrize("checksum_ok", [False, True])
def test_no_pickle_is_loaded_before_the_archive_checksum_passed(
        tiny, patch_files, isolated_data_env, tmp_path, checksum_ok):
    marker = tmp_path / "pickle-was-loaded"
    payload = tiny.py2_style_pickle(MakesDirectory(str(marker)))
    archive = tiny.write_tar(isolated_data_env / "cifar-10" / "cifar-10-python.tar.gz",
                             [("cifar-10-batches-py/test_batch", payload)])
    sha = tiny.sha256_file(archive) if checksum_ok else "0" * 64
    patch_files("cifar-10", {archive.name: {"sha256": sha}})
    if checksum_ok:  # the payload is live: once verified it is unpickled (then rejected)
        with pytest.raises(DatasetError, match="malformed"):
            load("cifar-10", split="test")
        assert marker.is_dir()
    else:
        with pytest.raises(ChecksumError, match="0" * 64):
            load("cifar-10", split="test")
        assert not marker.exists()


def test_binary_batch_of_the_wrong_length(tiny, patch_files, isolated_data_env):
    archive = tiny.write_tar(isolated_data_env / "cifar-10" / "cifar-10-binary.tar.gz",
                             [("cifar-10-batches-bin/test_batch.bin", b"\x00" * 3074)])
    patch_files("cifar-10", {archive.name: {"sha256": tiny.sha256_file(archive)}})
    with pytest.raises(DatasetError, match="3073-byte records"):
        load("cifar-10", split="test")
