"""Download (file:// URLs stand in for the official ones), fetch and verify."""

import urllib.request

import numpy as np
import pytest

from repro.data import ChecksumError, DatasetError, fetch, load, verify
from repro.data.dataset import fetch_records

IMAGES, LABELS = "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"


@pytest.fixture
def online(monkeypatch):
    monkeypatch.setenv("REPRO_OFFLINE", "0")


def serve(patch_files, folder, contents, dead_first=True):
    """Point the mnist-test URLs at ``folder`` (after an unreachable URL)."""
    dead = [(folder / "missing-server" / "x").as_uri()] if dead_first else []
    patch_files("mnist-test", {name: {"urls": tuple(dead + [(folder / name).as_uri()])}
                               for name in contents})


def no_leftovers(folder):
    return [p.name for p in folder.rglob("*") if p.is_file() and p.name.startswith(".")]


def test_download_tries_urls_in_order_and_renames_verified_file(
        online, isolated_data_env, tiny_mnist_test, patch_files):
    folder, contents, _, labels = tiny_mnist_test
    serve(patch_files, folder, contents)
    ds = load("mnist-test")
    np.testing.assert_array_equal(ds.y, labels)
    for name, data in contents.items():
        assert (isolated_data_env / "mnist" / name).read_bytes() == data
    assert no_leftovers(isolated_data_env) == []


def test_downloaded_bytes_with_wrong_checksum_are_refused_and_not_kept(
        online, isolated_data_env, tiny_mnist_test, patch_files):
    folder, contents, _, _ = tiny_mnist_test
    serve(patch_files, folder, contents)
    (folder / LABELS).write_bytes(b"tampered")
    with pytest.raises(ChecksumError) as info:
        load("mnist-test")
    message = str(info.value)
    assert f"Checksum mismatch for {(folder / LABELS).as_uri()}" in message
    assert "expected sha256" in message
    assert "actual sha256" in message and "Download failed" in message
    assert not (isolated_data_env / "mnist" / LABELS).exists()
    assert no_leftovers(isolated_data_env) == []


def test_unreachable_urls_give_the_missing_files_message(
        online, isolated_data_env, tiny_mnist_test, patch_files, tmp_path):
    folder, contents, _, _ = tiny_mnist_test
    serve(patch_files, tmp_path / "nowhere", contents)
    with pytest.raises(DatasetError) as info:
        load("mnist-test")
    message = str(info.value)
    assert "2 file(s) missing" in message and "Download failed" in message
    assert (tmp_path / "nowhere" / IMAGES).as_uri() in message
    assert not (isolated_data_env / "mnist").exists() or no_leftovers(isolated_data_env) == []


def test_offline_never_opens_a_url(monkeypatch, tiny_mnist_test, patch_files):
    folder, contents, _, _ = tiny_mnist_test
    serve(patch_files, folder, contents)
    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: pytest.fail("downloaded"))
    with pytest.raises(DatasetError, match="REPRO_OFFLINE"):
        load("mnist-test")


def test_verify_never_downloads(online, monkeypatch, tiny_mnist_test, patch_files):
    folder, contents, _, _ = tiny_mnist_test
    serve(patch_files, folder, contents)
    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: pytest.fail("downloaded"))
    with pytest.raises(DatasetError, match="data fetch mnist-test"):
        verify("mnist-test")


def test_fetch_copies_from_mirror_then_finds_it_present(
        monkeypatch, isolated_data_env, tiny_mnist_test, tiny):
    folder, contents, _, _ = tiny_mnist_test
    monkeypatch.setenv("REPRO_DATA_MIRRORS", str(folder))
    paths = fetch("mnist-test")
    assert paths == [isolated_data_env / "mnist" / IMAGES, isolated_data_env / "mnist" / LABELS]
    assert [p.read_bytes() for p in paths] == [contents[IMAGES], contents[LABELS]]
    records = fetch_records("mnist-test")
    assert [r.status for r in records] == ["present", "present"]
    assert verify("mnist-test") == {name: tiny.sha256_bytes(data)
                                    for name, data in contents.items()}


def test_fetch_downloads(online, isolated_data_env, tiny_mnist_test, patch_files):
    folder, contents, _, _ = tiny_mnist_test
    serve(patch_files, folder, contents, dead_first=False)
    assert [r.status for r in fetch_records("mnist-test")] == ["downloaded", "downloaded"]
    assert (isolated_data_env / "mnist" / IMAGES).read_bytes() == contents[IMAGES]


def test_fetch_of_a_manual_dataset_explains_the_manual_download(online):
    with pytest.raises(DatasetError, match="manual download"):
        fetch("usps")
