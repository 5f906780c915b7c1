"""Lookup order (data/raw, mirrors), checksum refusal, missing-file messages, hash memo."""

import dataclasses
import os

import numpy as np
import pytest

from repro.data import ChecksumError, DatasetError, files, load, verify
from repro.data import registry

IMAGES, LABELS = "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"


def put(folder, contents):
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in contents.items():
        (folder / name).write_bytes(data)


def test_loads_from_data_raw_subfolder(isolated_data_env, tiny_mnist_test):
    _, contents, images, labels = tiny_mnist_test
    put(isolated_data_env / "mnist", contents)
    ds = load("mnist-test")
    assert ds.x.shape == (5, 28, 28, 1) and ds.x.dtype == np.float32
    np.testing.assert_array_equal(ds.x[..., 0], images / np.float32(255))
    np.testing.assert_array_equal(ds.y, labels)
    assert ds.y.dtype == np.int64
    assert ds.files == {name: files.sha256_of(isolated_data_env / "mnist" / name)
                        for name in contents}
    assert ds.image_shape == (28, 28, 1) and len(ds) == 5 and ds.n_classes == 5


@pytest.mark.parametrize("layout", ["subfolder", "flat"])
def test_loads_from_the_second_mirror(monkeypatch, tmp_path, tiny_mnist_test, layout):
    _, contents, _, labels = tiny_mnist_test
    mirror = tmp_path / "mirror2"
    put(mirror / "mnist" if layout == "subfolder" else mirror, contents)
    monkeypatch.setenv("REPRO_DATA_MIRRORS", os.pathsep.join([str(tmp_path / "none"), str(mirror)]))
    np.testing.assert_array_equal(load("mnist-test").y, labels)


def test_data_raw_comes_before_the_mirrors(monkeypatch, tmp_path, isolated_data_env,
                                           tiny_mnist_test):
    _, contents, _, labels = tiny_mnist_test
    put(isolated_data_env / "mnist", contents)
    put(tmp_path / "mirror" / "mnist", {name: b"corrupt" for name in contents})
    monkeypatch.setenv("REPRO_DATA_MIRRORS", str(tmp_path / "mirror"))
    np.testing.assert_array_equal(load("mnist-test").y, labels)


def test_checksum_mismatch_is_refused_and_the_file_left_alone(
        monkeypatch, isolated_data_env, tiny_mnist_test, patch_files):
    _, contents, _, _ = tiny_mnist_test
    put(isolated_data_env / "mnist", contents)
    bad = isolated_data_env / "mnist" / IMAGES
    bad.write_bytes(contents[IMAGES][:-10] + b"0123456789")
    before = bad.read_bytes()
    calls = []
    spec = registry.DATASETS["mnist-test"]
    monkeypatch.setitem(registry.DATASETS, "mnist-test",
                        dataclasses.replace(spec, loader=lambda *a: calls.append(a)))
    expected = registry.DATASETS["mnist-test"].sources[0][0].sha256
    for call in (load, verify):
        with pytest.raises(ChecksumError) as info:
            call("mnist-test")
        message = str(info.value)
        assert str(bad) in message and expected in message
        assert files.sha256_of(bad) in message
    assert calls == []  # never used
    assert bad.read_bytes() == before  # never overwritten or deleted


def test_corrupt_file_is_refused_even_when_a_good_mirror_copy_exists(
        monkeypatch, tmp_path, isolated_data_env, tiny_mnist_test):
    folder, contents, _, _ = tiny_mnist_test
    put(isolated_data_env / "mnist", {**contents, LABELS: b"bad"})
    monkeypatch.setenv("REPRO_DATA_MIRRORS", str(folder))
    with pytest.raises(ChecksumError, match="expected sha256"):
        load("mnist-test")


def test_missing_offline_names_every_file_sha_place_and_url(isolated_data_env):
    with pytest.raises(DatasetError) as info:
        load("mnist-full")
    message = str(info.value)
    assert "'mnist-full'" in message and "4 file(s) missing" in message
    for f in registry.DATASETS["mnist-full"].all_files:
        assert f.filename in message and f.sha256 in message
        for url in f.urls:
            assert url in message
    assert str(isolated_data_env / "mnist") in message
    assert "REPRO_DATA_MIRRORS" in message and "REPRO_OFFLINE" in message


def test_missing_lists_only_the_files_that_are_missing(isolated_data_env, tiny_mnist_test):
    _, contents, _, _ = tiny_mnist_test
    put(isolated_data_env / "mnist", {IMAGES: contents[IMAGES]})
    with pytest.raises(DatasetError) as info:
        load("mnist-test")
    assert "1 file(s) missing" in str(info.value) and LABELS in str(info.value)
    assert f"- {IMAGES}" not in str(info.value)


def test_usps_missing_says_manual_download_and_where(isolated_data_env):
    with pytest.raises(DatasetError) as info:
        load("usps")
    message = str(info.value)
    for text in ("'usps'", "usps.h5", registry.USPS_H5.sha256, "kaggle.com/datasets/bistaumanga",
                 "manual download", "login", str(isolated_data_env / "usps"),
                 "REPRO_DATA_MIRRORS", "<mirror>/usps/usps.h5"):
        assert text in message, text


def test_cifar10_missing_lists_both_alternatives(isolated_data_env):
    with pytest.raises(DatasetError) as info:
        load("cifar-10")
    message = str(info.value)
    for f in registry.DATASETS["cifar-10"].all_files:
        assert f.filename in message and f.sha256 in message and f.urls[0] in message
    assert "any one of 2 alternatives" in message


def test_environment_variables(monkeypatch, tmp_path):
    monkeypatch.setenv("REPRO_DATA_MIRRORS", os.pathsep.join(["/a", "", "/b"]))
    assert files.mirror_dirs() == [files.Path("/a"), files.Path("/b")]
    assert files.candidate_paths("mnist", "f")[1:] == [
        files.Path("/a/mnist/f"), files.Path("/a/f"), files.Path("/b/mnist/f"), files.Path("/b/f")]
    for value, expected in [("1", True), ("yes", True), ("0", False), ("", False)]:
        monkeypatch.setenv("REPRO_OFFLINE", value)
        assert files.offline() is expected
    monkeypatch.delenv("REPRO_DATA_DIR")
    assert files.raw_dir() == files.repo_root() / "data" / "raw"
    assert (files.repo_root() / "pyproject.toml").is_file()


def test_sha256_is_computed_once_per_file_version(monkeypatch, tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"abc" * 1000)
    real_sha256, calls = files.hashlib.sha256, []
    monkeypatch.setattr(files.hashlib, "sha256", lambda: calls.append(1) or real_sha256())
    first = files.sha256_of(path)
    assert files.sha256_of(path) == first and len(calls) == 1
    path.write_bytes(b"abd" * 1000)
    os.utime(path, ns=(1, 1))  # a new version of the file: new mtime
    assert files.sha256_of(path) == real_sha256(b"abd" * 1000).hexdigest() and len(calls) == 2
