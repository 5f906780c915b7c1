"""STL-10 loader on tiny archives in the official binary layout."""

import tarfile

import numpy as np
import pytest

from repro.data import DatasetError, load
from repro.data.stl10 import to_pixels


@pytest.fixture
def parts(tiny):
    rng = np.random.default_rng(2)
    return {"train": (tiny.random_images(rng, 3, 96), np.array([1, 10, 5])),
            "test": (tiny.random_images(rng, 2, 96), np.array([2, 3]))}


def install(tiny, patch_files, raw, parts, **kwargs):
    archive = tiny.stl10_archive(raw / "stl-10" / "stl10_binary.tar.gz", parts, **kwargs)
    patch_files("stl-10", {archive.name: {"sha256": tiny.sha256_file(archive)}})
    return archive


@pytest.mark.parametrize("split, names", [("train", ["train"]), ("test", ["test"]),
                                          ("all", ["train", "test"]), (None, ["train", "test"])])
def test_labelled_splits(tiny, patch_files, isolated_data_env, parts, split, names):
    archive = install(tiny, patch_files, isolated_data_env, parts)
    ds = load("stl-10", split=split)
    x = np.concatenate([parts[n][0] for n in names]).astype(np.float32) / np.float32(255)
    np.testing.assert_array_equal(ds.x, x)
    np.testing.assert_array_equal(ds.y, np.concatenate([parts[n][1] for n in names]) - 1)
    assert ds.x.dtype == np.float32 and ds.y.dtype == np.int64
    assert ds.image_shape == (96, 96, 3) and ds.x.flags.c_contiguous
    assert ds.files == {"stl10_binary.tar.gz": tiny.sha256_file(archive)}


def test_column_major_layout_by_hand():
    raw = np.zeros(3 * 96 * 96, np.uint8)
    raw[1] = 255                 # channel 0, column 0, row 1
    raw[96] = 51                 # channel 0, column 1, row 0
    raw[2 * 96 * 96 + 95] = 102  # channel 2, column 0, row 95
    x = to_pixels(raw.tobytes(), "m")
    assert x.shape == (1, 96, 96, 3)
    assert x[0, 1, 0, 0] == 255 and x[0, 0, 1, 0] == 51 and x[0, 95, 0, 2] == 102
    assert np.count_nonzero(x) == 3


def test_unlabelled_member_is_never_read(tiny, patch_files, isolated_data_env, parts, monkeypatch):
    read = []
    original = tarfile.TarFile.extractfile
    monkeypatch.setattr(tarfile.TarFile, "extractfile",
                        lambda self, member: read.append(member.name) or original(self, member))
    install(tiny, patch_files, isolated_data_env, parts, unlabeled=b"\x00" * 3 * 96 * 96 * 4)
    load("stl-10")
    assert sorted(read) == sorted(f"stl10_binary/{p}_{k}.bin"
                                  for p in ("train", "test") for k in ("X", "y"))


def test_labels_outside_1_to_10_are_refused(tiny, patch_files, isolated_data_env, parts):
    parts["test"] = (parts["test"][0], np.array([0, 3]))
    install(tiny, patch_files, isolated_data_env, parts)
    with pytest.raises(DatasetError, match="labels outside 1..10"):
        load("stl-10", split="test")


def test_image_and_label_counts_must_agree(tiny, patch_files, isolated_data_env, parts):
    parts["train"] = (parts["train"][0], np.array([1, 2]))
    install(tiny, patch_files, isolated_data_env, parts)
    with pytest.raises(DatasetError, match="3 images but 2 labels"):
        load("stl-10", split="train")
