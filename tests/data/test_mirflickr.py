"""MIRFlickr-25k loader on tiny files in the official layout: mirflickr25k.zip
(mirflickr/im<n>.jpg) and mirflickr25k_annotations_v080.zip (<concept>.txt, <concept>_r1.txt,
README.txt)."""

import dataclasses
import re

import numpy as np
import pytest

from repro.data import ChecksumError, DatasetError, UnsafeArchiveError, load, registry, verify
from repro.data.mirflickr import CONCEPTS, parse_numbers, protocol_annotations
from repro.data.zips import ZipReader

ANNOTATIONS = {"animals": [3, 1], "sky": [1, 2, 25000], "water": [5], "people": [2, 5],
               "portrait": [25000]}
# _r1 lists are not read: image 7 is only in one, so it is dropped
RELEVANT = {"baby_r1": [7], "people_r1": [5, 8]}
IMAGES = list(range(1, 9)) + [25000]
KEPT = [1, 2, 3, 5, 25000]


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    folder = tmp_path / "mirror"
    monkeypatch.setenv("REPRO_DATA_MIRRORS", str(folder))
    return folder


def image_bytes(tiny):
    return {n: tiny.jpeg_bytes(tiny.colour(n), [(20, 14), (500, 333), (14, 20)][n % 3])
            for n in IMAGES}


@pytest.fixture
def official(tiny, mirror):
    return tiny.mirflickr_files(mirror / "mirflickr-25k", image_bytes(tiny), ANNOTATIONS,
                                RELEVANT)


def expected_labels():
    y = np.zeros((len(KEPT), 24), np.uint8)
    for concept, numbers in ANNOTATIONS.items():
        for n in numbers:
            y[KEPT.index(n), CONCEPTS.index(concept)] = 1
    return y


def test_protocol_labels_and_images(tiny, official):
    ds = load("mirflickr-25k", image_size=8)
    assert ds.x.shape == (5, 8, 8, 3) and ds.x.dtype == np.uint8 and ds.x.flags.c_contiguous
    assert ds.y.shape == (5, 24) and ds.y.dtype == np.uint8
    np.testing.assert_array_equal(ds.y, expected_labels())
    for row, number in enumerate(KEPT):
        np.testing.assert_allclose(ds.x[row].reshape(-1, 3).mean(0), tiny.colour(number),
                                   atol=4)
    assert ds.files == {name: tiny.sha256_file(path) for name, path in official.items()}
    assert ds.split is None and ds.n_classes == 24


def test_annotations_in_concept_order(official):
    annotations = protocol_annotations(official["mirflickr25k_annotations_v080.zip"])
    assert annotations.concepts == CONCEPTS and len(CONCEPTS) == 24
    assert list(CONCEPTS) == sorted(CONCEPTS) and not any("_r1" in c for c in CONCEPTS)
    np.testing.assert_array_equal(annotations.numbers, KEPT)
    np.testing.assert_array_equal(annotations.labels, expected_labels())


def test_default_image_size_is_64(official):
    assert load("mirflickr-25k").x.shape == (5, 64, 64, 3)


def test_only_the_labelled_images_are_read(monkeypatch, official):
    read = []
    original = ZipReader.read
    monkeypatch.setattr(ZipReader, "read",
                        lambda self, name: read.append(name) or original(self, name))
    load("mirflickr-25k", image_size=4)
    images = [name for name in read if name.startswith("mirflickr/")]
    assert images == [f"mirflickr/im{n}.jpg" for n in KEPT]
    assert not any("_r1" in name or "README" in name for name in read)


def test_annotations_in_a_folder_are_found(tiny, mirror):
    paths = tiny.mirflickr_files(mirror, image_bytes(tiny), ANNOTATIONS)
    archive = paths["mirflickr25k_annotations_v080.zip"]
    with ZipReader(archive) as reader:
        members = [(f"annotations/{name}", reader.read(name)) for name in sorted(reader.names)]
    tiny.write_zip(archive, members)
    np.testing.assert_array_equal(load("mirflickr-25k", image_size=4).y, expected_labels())


def test_parse_numbers():
    np.testing.assert_array_equal(parse_numbers(b"3\r\n25000\r\n1\n", "f"), [3, 25000, 1])
    assert parse_numbers(b"", "f").size == 0
    with pytest.raises(DatasetError, match="f: image number 25001 is outside 1..25000"):
        parse_numbers(b"1\n25001\n", "f")
    with pytest.raises(DatasetError, match="f: image number 0 is outside"):
        parse_numbers(b"0\n", "f")
    with pytest.raises(DatasetError, match=r"f: b'im3' is not an image number"):
        parse_numbers(b"1\nim3\n", "f")


def test_missing_concept_file_is_named(tiny, official):
    archive = official["mirflickr25k_annotations_v080.zip"]
    with ZipReader(archive) as reader:
        members = [(n, reader.read(n)) for n in sorted(reader.names) if n != "sky.txt"]
    tiny.write_zip(archive, members)
    with pytest.raises(DatasetError, match=r"lacks the annotation file\(s\) sky.txt"):
        load("mirflickr-25k", image_size=4)


def test_missing_image_member_is_named(tiny, official):
    images = image_bytes(tiny)
    del images[5]
    tiny.mirflickr_files(official["mirflickr25k.zip"].parent, images, ANNOTATIONS)
    with pytest.raises(DatasetError, match=r"lacks 1 member\(s\): 'mirflickr/im5.jpg'"):
        load("mirflickr-25k", image_size=4)


def test_corrupt_image_is_named(tiny, official):
    images = image_bytes(tiny)
    images[3] = b"\xff\xd8 truncated"
    tiny.mirflickr_files(official["mirflickr25k.zip"].parent, images, ANNOTATIONS)
    archive = re.escape(str(official["mirflickr25k.zip"]))
    with pytest.raises(DatasetError, match=f"Cannot decode image {archive}:mirflickr/im3.jpg"):
        load("mirflickr-25k", image_size=4)


def test_missing_archive_is_named(official):
    official["mirflickr25k.zip"].unlink()
    with pytest.raises(DatasetError) as info:
        load("mirflickr-25k")
    message = str(info.value)
    assert "'mirflickr-25k' cannot be loaded: 1 file(s) missing" in message
    assert "- mirflickr25k.zip" in message and "- mirflickr25k_annotations" not in message
    assert "press.liacs.nl/mirflickr" in message and "none published" in message


def test_wrong_checksum_is_refused(monkeypatch, tiny, official, patch_files):
    name = "mirflickr25k_annotations_v080.zip"
    patch_files("mirflickr-25k", {name: {"sha256": "f" * 64}})
    calls = []
    spec = registry.DATASETS["mirflickr-25k"]
    monkeypatch.setitem(registry.DATASETS, "mirflickr-25k",
                        dataclasses.replace(spec, loader=lambda *a, **k: calls.append(a)))
    for call in (load, verify):
        with pytest.raises(ChecksumError) as info:
            call("mirflickr-25k")
        message = str(info.value)
        assert str(official[name]) in message and "f" * 64 in message
        assert tiny.sha256_file(official[name]) in message
    assert calls == []


def test_symlink_member_is_refused(tiny, official):
    import zipfile

    archive = official["mirflickr25k.zip"]
    with zipfile.ZipFile(archive, "a") as handle:
        info = zipfile.ZipInfo("mirflickr/link.jpg")
        info.external_attr = (0o120777 << 16)
        handle.writestr(info, "/etc/passwd")
    with pytest.raises(UnsafeArchiveError, match="'mirflickr/link.jpg' is unsafe"):
        load("mirflickr-25k", image_size=4)


def test_split_is_refused(official):
    with pytest.raises(DatasetError, match="'mirflickr-25k' has no splits"):
        load("mirflickr-25k", split="test")
