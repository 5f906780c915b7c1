"""NUS-WIDE loader on tiny files in the official layout: Groundtruth.zip (AllLabels/),
ImageList.zip (ImageList/Imagelist.txt, Windows paths) and the Flickr/ image folder."""

import dataclasses
import re
import shutil

import numpy as np
import pytest

from repro.data import ChecksumError, DatasetError, UnsafeArchiveError, load, registry, verify
from repro.data import files
from repro.data.cli import main
from repro.data.nuswide import (CONCEPTS, most_frequent, parse_image_list,
                                protocol_annotations)

# FREQUENT[j] is labelled on images j..20, so the counts are 21, 20, ..., 1: this is the
# expected column order. "zebra" (image 21) and "whales" (image 23) are also seen once, and
# lose the tie for the 21st place to "airport" (alphabetically first); image 22 has no label.
FREQUENT = ["sky", "clouds", "person", "water", "animal", "grass", "buildings", "window",
            "plants", "lake", "ocean", "road", "flowers", "sunset", "reflection", "rocks",
            "vehicle", "snow", "tree", "beach", "airport"]
N_IMAGES = 24
KEPT = list(range(21))


def positives():
    labels = {concept: list(range(j, 21)) for j, concept in enumerate(FREQUENT)}
    labels.update(zebra=[21], whales=[23])
    return labels


def image_name(i):
    """Imagelist entry of image ``i`` (``/``-separated), NUS-style ``<folder>/<nnnn>_<id>.jpg``."""
    return f"{['actor', 'airport', 'zoo'][i % 3]}/{i + 1:04d}_{1000 + 37 * i}.jpg"


def image_set(tiny):
    """(``<subfolder>/<file>``, JPEG bytes) for the 24 images: several sizes, one greyscale."""
    return [(image_name(i), tiny.jpeg_bytes(tiny.colour(i),
                                            [(12, 9), (40, 30), (200, 150), (9, 17)][i % 4],
                                            "L" if i == 5 else "RGB"))
            for i in range(N_IMAGES)]


def expected_colour(tiny, i):
    c = np.array(tiny.colour(i), float)
    return np.full(3, c @ [0.299, 0.587, 0.114]) if i == 5 else c


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    folder = tmp_path / "mirror"
    monkeypatch.setenv("REPRO_DATA_MIRRORS", str(folder))
    return folder


@pytest.fixture
def official(tiny, mirror):
    """The three NUS-WIDE entries in ``<mirror>/nus-wide/``; returns their paths."""
    return tiny.nuswide_files(mirror / "nus-wide", image_set(tiny), positives())


def expected_labels():
    y = np.zeros((21, 21), np.uint8)
    for i in KEPT:
        y[i, : i + 1] = 1  # image i carries FREQUENT[0..i]
    return y


def test_protocol_labels_and_images(tiny, official):
    ds = load("nus-wide", image_size=8)
    assert ds.x.shape == (21, 8, 8, 3) and ds.x.dtype == np.uint8 and ds.x.flags.c_contiguous
    assert ds.y.shape == (21, 21) and ds.y.dtype == np.uint8
    np.testing.assert_array_equal(ds.y, expected_labels())
    for row, i in enumerate(KEPT):  # images in Imagelist order, each a solid colour
        np.testing.assert_allclose(ds.x[row].reshape(-1, 3).mean(0), expected_colour(tiny, i),
                                   atol=4)
    assert ds.split is None and len(ds) == 21 and ds.n_classes == 21
    assert ds.image_shape == (8, 8, 3)
    assert ds.files == {"Groundtruth.zip": tiny.sha256_file(official["Groundtruth.zip"]),
                        "ImageList.zip": tiny.sha256_file(official["ImageList.zip"]),
                        "Flickr": files.folder_digest(official["Flickr"])}


def test_concept_order_and_kept_images(official):
    annotations = protocol_annotations(official["Groundtruth.zip"], official["ImageList.zip"])
    assert annotations.concepts == tuple(FREQUENT)
    assert annotations.images == [image_name(i) for i in KEPT]
    np.testing.assert_array_equal(annotations.labels, expected_labels())


def test_default_image_size_is_64(official):
    ds = load("nus-wide")
    assert ds.x.shape == (21, 64, 64, 3)


def test_most_frequent_breaks_ties_alphabetically():
    labels = np.zeros((4, 81), np.uint8)
    labels[:, CONCEPTS.index("zebra")] = 1                       # 4
    labels[:2, CONCEPTS.index("sky")] = 1                        # 2
    labels[2:, CONCEPTS.index("beach")] = 1                      # 2, before sky
    labels[0, [CONCEPTS.index("whales"), CONCEPTS.index("cat")]] = 1
    top = most_frequent(labels, 4)
    assert [CONCEPTS[c] for c in top] == ["zebra", "beach", "sky", "cat"]


def test_image_list_lines():
    raw = b"actor\\0001_2124494179.jpg\r\nzoo\\0002_17.jpg\r\n" \
          b"C:\\ImageData\\Flickr\\wild_life\\0003_1.jpg\r\n\r\n"
    assert parse_image_list(raw, "Imagelist.txt") == [
        "actor/0001_2124494179.jpg", "zoo/0002_17.jpg", "wild_life/0003_1.jpg"]
    for bad in (b"a\\b\\c.jpg\n", b"x.jpg\n", b"a\\..\\b.jpg\n", b"a\\1.jpg\n\nb\\2.jpg\n"):
        with pytest.raises(DatasetError, match=r"Imagelist.txt, line \d+: .* is not an image"):
            parse_image_list(bad, "Imagelist.txt")


def test_label_file_of_another_length_is_refused(tiny, mirror):
    tiny.nuswide_files(mirror / "nus-wide", image_set(tiny), positives(),
                       label_lines={"lake": ["0"] * (N_IMAGES - 1)})
    with pytest.raises(DatasetError, match=r"Labels_lake.txt holds 23 values but "
                                           r"Imagelist.txt lists 24 images"):
        load("nus-wide", image_size=8)


def test_label_values_other_than_0_1_are_refused(tiny, mirror):
    tiny.nuswide_files(mirror / "nus-wide", image_set(tiny), positives(),
                       label_lines={"cat": ["0"] * 5 + ["2"] + ["0"] * (N_IMAGES - 6)})
    with pytest.raises(DatasetError, match=r"Labels_cat.txt: value number 6 is b'2'"):
        load("nus-wide", image_size=8)


def test_missing_concept_file_is_named(tiny, mirror, official):
    members = [("AllLabels/Labels_sky.txt", b"1\r\n" * N_IMAGES)]
    tiny.write_zip(official["Groundtruth.zip"], members)
    with pytest.raises(DatasetError, match=r"lacks AllLabels/Labels_<concept>.txt for 80 of "
                                           r"the 81 concepts: airport, animal"):
        load("nus-wide", image_size=8)


def test_missing_and_corrupt_images_are_named(official):
    missing = official["Flickr"] / image_name(2)
    missing.unlink()
    with pytest.raises(DatasetError, match="1 of the 21 NUS-WIDE images needed are missing") \
            as info:
        load("nus-wide", image_size=8)
    assert str(missing) in str(info.value)
    missing.write_bytes(b"not a jpeg")
    with pytest.raises(DatasetError, match=f"Cannot decode image {re.escape(str(missing))}"):
        load("nus-wide", image_size=8)


def test_unlabelled_images_need_not_exist(official):
    (official["Flickr"] / image_name(21)).unlink()  # zebra only
    (official["Flickr"] / image_name(22)).unlink()  # no label
    assert len(load("nus-wide", image_size=4)) == 21


def test_flat_mirror_layout(tiny, mirror):
    tiny.nuswide_files(mirror, image_set(tiny), positives())
    assert load("nus-wide", image_size=4).y.shape == (21, 21)


def test_missing_files_are_named(tiny, mirror):
    tiny.nuswide_files(mirror / "nus-wide", image_set(tiny), positives())
    (mirror / "nus-wide" / "ImageList.zip").unlink()
    shutil.rmtree(mirror / "nus-wide" / "Flickr")
    with pytest.raises(DatasetError) as info:
        load("nus-wide")
    message = str(info.value)
    assert "'nus-wide' cannot be loaded: 2 file(s) missing" in message
    assert "- ImageList.zip" in message and "- Flickr" in message
    assert "- Groundtruth.zip" not in message
    assert "none published" in message and "NUS-WIDE.html" in message
    assert "nuswide/ImageList.zip" in message  # where to download it by hand
    assert "No automatic download" in message
    assert not isinstance(info.value, ChecksumError)


def test_nothing_present_gives_the_data_absent_error():
    with pytest.raises(DatasetError, match="'nus-wide' cannot be loaded: 3 file"):
        load("nus-wide")


def test_wrong_checksum_is_refused(monkeypatch, tiny, official, patch_files):
    expected = "0" * 64
    patch_files("nus-wide", {"Groundtruth.zip": {"sha256": expected}})
    calls = []
    spec = registry.DATASETS["nus-wide"]
    monkeypatch.setitem(registry.DATASETS, "nus-wide",
                        dataclasses.replace(spec, loader=lambda *a, **k: calls.append(a)))
    with pytest.raises(ChecksumError) as info:
        load("nus-wide")
    message = str(info.value)
    assert str(official["Groundtruth.zip"]) in message and expected in message
    assert tiny.sha256_file(official["Groundtruth.zip"]) in message
    assert calls == []


def test_matching_checksum_is_accepted(tiny, official, patch_files):
    patch_files("nus-wide", {"ImageList.zip": {"sha256": tiny.sha256_file(
        official["ImageList.zip"])}})
    assert load("nus-wide", image_size=4).y.shape == (21, 21)


def test_unsafe_archive_member_is_refused(tiny, official):
    tiny.write_zip(official["ImageList.zip"], [("ImageList/Imagelist.txt", b"a\\b.jpg\r\n"),
                                               ("../evil.txt", b"x")])
    with pytest.raises(UnsafeArchiveError, match=r"'\.\./evil\.txt' is unsafe"):
        load("nus-wide", image_size=8)


def test_not_a_zip_is_refused(official):
    official["ImageList.zip"].write_bytes(b"this is no zip")
    with pytest.raises(DatasetError, match="Cannot read zip archive .*ImageList.zip"):
        load("nus-wide", image_size=8)


@pytest.mark.parametrize("size", [0, -3, 2.5, "64", True, 5000])
def test_bad_image_size_is_refused(official, size):
    with pytest.raises(DatasetError, match="image_size must be an integer from 1 to 4096"):
        load("nus-wide", image_size=size)


def test_options_and_splits_are_checked(official):
    with pytest.raises(DatasetError, match="'nus-wide' has no splits"):
        load("nus-wide", split="train")
    with pytest.raises(DatasetError, match="'nus-wide' takes no option 'size'.*image_size"):
        load("nus-wide", size=8)
    with pytest.raises(DatasetError, match="'usps' takes no option 'image_size'"):
        load("usps", image_size=8)


def test_verify_and_cli_say_unverified(tiny, official, capsys):
    assert verify("nus-wide") == {
        "Groundtruth.zip": tiny.sha256_file(official["Groundtruth.zip"]),
        "ImageList.zip": tiny.sha256_file(official["ImageList.zip"]),
        "Flickr": files.folder_digest(official["Flickr"])}
    assert main(["data", "verify", "nus-wide"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == ["unverified"] * 3


def test_fetch_copies_the_archives_and_uses_the_folder_in_place(tiny, official,
                                                                isolated_data_env, capsys):
    assert main(["data", "fetch", "nus-wide"]) == 0
    status = {line.split()[1].split("/")[-1]: line.split()[0]
              for line in capsys.readouterr().out.splitlines()}
    assert status == {"Groundtruth.zip": "copied", "ImageList.zip": "copied",
                      "Flickr": "in-place"}
    assert (isolated_data_env / "nus-wide" / "Groundtruth.zip").is_file()
    assert not (isolated_data_env / "nus-wide" / "Flickr").exists()


def test_folder_digest_follows_names_and_sizes(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "1.jpg").write_bytes(b"xy")
    first = files.folder_digest(tmp_path)
    (tmp_path / "a" / "1.jpg").write_bytes(b"zw")  # same name and size
    assert files.folder_digest(tmp_path) == first
    (tmp_path / "a" / "2.jpg").write_bytes(b"")
    assert files.folder_digest(tmp_path) != first
