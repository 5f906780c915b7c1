"""Places365-Standard and Places205 loaders on tiny files in the official layouts.

Places365: filelist_places365-standard.tar (top-level categories_places365.txt
"/a/airfield 0", places365_train_standard.txt "/a/airfield/00000001.jpg 0", places365_val.txt
"Places365_val_00000001.jpg 2"), train_256_places365standard.tar (data_256/...), val_256.tar
(val_256/...), and the large variants (data_large/..., val_large/...).
Places205: imagesPlaces205_resize.tar.gz (data/vision/torralba/deeplearning/images256/...)
and trainvalsplit_places205.tar.gz (trainvalsplit_places205/{train,val}_places205.csv,
"a/abbey/gsun_<hash>.jpg 0" lines).
"""

import hashlib
import io
import re
import tarfile

import numpy as np
import pytest

from repro.data import DatasetError, UnsafeArchiveError
from repro.data import imagenet, places
from repro.data.places import (category_of, parse_categories, parse_image_list,
                               read_places205, read_places365)

CATEGORIES = [("/a/airfield", 0), ("/a/apartment_building/outdoor", 1), ("/b/badlands", 2),
              ("/s/swimming_pool/indoor", 3)]
# Places365 training images: (path as listed, label), in list order; the numbers are chosen
# so that sorted-path order differs from list order within a class.
TRAIN365 = [("/a/airfield/00000003.jpg", 0), ("/a/airfield/00000001.jpg", 0),
            ("/a/airfield/00000002.jpg", 0),
            ("/a/apartment_building/outdoor/00000001.jpg", 1),
            ("/b/badlands/00000002.jpg", 2), ("/b/badlands/00000001.jpg", 2),
            ("/s/swimming_pool/indoor/00000001.jpg", 3)]
VAL365 = [(f"Places365_val_{n:08d}.jpg", label)
          for n, label in enumerate([2, 0, 3, 1, 0, 2, 2, 3], start=1)]


def tar_bytes(members, mode="w"):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def listing(entries, newline="\n"):
    return "".join(f"{path} {label}{newline}" for path, label in entries).encode()


def colour_of(tiny, path):
    """A solid colour determined by the image path."""
    return tiny.colour(int(hashlib.sha256(path.encode()).hexdigest()[:6], 16) % 997)


def image(tiny, path, size=(16, 12)):
    return tiny.jpeg_bytes(colour_of(tiny, path), size)


def mean_colours(x):
    return x.reshape(len(x), -1, 3).mean(axis=1)


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    folder = tmp_path / "mirror"
    monkeypatch.setenv("REPRO_DATA_MIRRORS", str(folder))
    return folder


# ----------------------------------------------------------------------------- Places365
def filelist_tar(categories=CATEGORIES, train=TRAIN365, val=VAL365):
    return tar_bytes([("categories_places365.txt", listing(categories)),
                      ("places365_train_standard.txt", listing(train)),
                      ("places365_val.txt", listing(val)),
                      ("places365_test.txt", b"Places365_test_00000001.jpg\n")])


def places365_images(tiny, folder, entries, mode="w", drop=()):
    members = [(f"{folder}/{path.lstrip('/')}", image(tiny, path, [(16, 12), (30, 40)][i % 2]))
               for i, (path, _) in enumerate(entries) if path not in drop]
    return tar_bytes(members[::-1] + [(f"{folder}/extra/not_listed.jpg", b"not used")], mode)


@pytest.fixture
def official365(tiny, mirror):
    folder = mirror / "places365"
    folder.mkdir(parents=True)
    paths = {"filelist_places365-standard.tar": folder / "filelist_places365-standard.tar",
             "train_256_places365standard.tar": folder / "train_256_places365standard.tar",
             "val_256.tar": folder / "val_256.tar"}
    paths["filelist_places365-standard.tar"].write_bytes(filelist_tar())
    paths["train_256_places365standard.tar"].write_bytes(
        places365_images(tiny, "data_256", TRAIN365))
    paths["val_256.tar"].write_bytes(places365_images(tiny, "val_256", VAL365))
    return paths


def test_places365_val(tiny, official365):
    ds = places.load_places365("val", image_size=8)
    assert ds.x.shape == (len(VAL365), 8, 8, 3) and ds.x.dtype == np.uint8
    assert ds.y.dtype == np.int64 and ds.y.tolist() == [label for _, label in VAL365]
    np.testing.assert_allclose(mean_colours(ds.x), [colour_of(tiny, p) for p, _ in VAL365],
                               atol=4)
    assert ds.files == {name: tiny.sha256_file(official365[name])
                        for name in ("filelist_places365-standard.tar", "val_256.tar")}
    assert ds.name == "places365-val" and ds.split == "val"
    assert places.load_places365().x.shape == (len(VAL365), 64, 64, 3)


def test_places365_train_and_per_class(tiny, official365):
    ds = places.load_places365("train", image_size=6)
    assert ds.y.tolist() == [label for _, label in TRAIN365]
    np.testing.assert_allclose(mean_colours(ds.x), [colour_of(tiny, p) for p, _ in TRAIN365],
                               atol=4)
    assert set(ds.files) == {"filelist_places365-standard.tar",
                             "train_256_places365standard.tar"}
    subset = places.load_places365("train", image_size=6, per_class=2)
    # the two smallest paths of each class, in list order
    kept = [1, 2, 3, 4, 5, 6]
    assert subset.y.tolist() == [TRAIN365[i][1] for i in kept]
    np.testing.assert_allclose(mean_colours(subset.x),
                               [colour_of(tiny, TRAIN365[i][0]) for i in kept], atol=4)
    again = places.load_places365("train", image_size=6, per_class=2)
    np.testing.assert_array_equal(subset.x, again.x)
    one = places.load_places365("train", image_size=6, per_class=1)
    assert one.y.tolist() == [0, 1, 2, 3]


def test_places365_large_archive_is_the_second_choice(tiny, official365):
    official365["val_256.tar"].unlink()
    large = official365["val_256.tar"].parent / "val_large.tar"
    large.write_bytes(places365_images(tiny, "val_large", VAL365))
    ds = places.load_places365("val", image_size=4)
    assert ds.y.tolist() == [label for _, label in VAL365]
    assert set(ds.files) == {"filelist_places365-standard.tar", "val_large.tar"}


def test_places365_compressed_archive_is_streamed(tiny, tmp_path, official365, monkeypatch):
    monkeypatch.setattr(imagenet, "STREAM_CHUNK", 3)  # several chunks, decoded in background
    archive = tmp_path / "gz" / "val_256.tar"
    archive.parent.mkdir()
    archive.write_bytes(places365_images(tiny, "val_256", VAL365, mode="w:gz"))
    x, y = read_places365(official365["filelist_places365-standard.tar"], archive, "val",
                          image_size=5, workers=2)
    assert y.tolist() == [label for _, label in VAL365]
    np.testing.assert_allclose(mean_colours(x), [colour_of(tiny, p) for p, _ in VAL365],
                               atol=4)


def test_places365_missing_files_are_named(official365):
    official365["filelist_places365-standard.tar"].unlink()
    with pytest.raises(DatasetError) as info:
        places.load_places365("val", image_size=4)
    message = str(info.value)
    assert "'places365-val' cannot be loaded" in message
    assert "- filelist_places365-standard.tar" in message and "- val_256.tar" not in message
    assert "- val_large.tar" in message  # the other alternative
    assert re.search(r"put it in: .*raw.places365", message) and "REPRO_DATA_MIRRORS" in message
    assert places.PLACES365_BASE + "filelist_places365-standard.tar" in message
    assert "none published" in message


def test_places365_image_missing_from_archive_is_named(tiny, official365):
    official365["val_256.tar"].write_bytes(
        places365_images(tiny, "val_256", VAL365, drop={"Places365_val_00000003.jpg"}))
    with pytest.raises(DatasetError, match=r"val_256.tar lacks 1 of the 8 images needed: "
                                           r"'val_256/Places365_val_00000003.jpg'"):
        places.load_places365("val", image_size=4)


def test_places365_malformed_lists_are_refused(official365):
    path = official365["filelist_places365-standard.tar"]
    path.write_bytes(filelist_tar(val=VAL365 + [("Places365_val_00000009.jpg", 4)]))
    with pytest.raises(DatasetError, match=r"places365_val.txt, line 9: class index 4 is not "
                                           r"in 0..3"):
        places.load_places365("val", image_size=4)
    path.write_bytes(filelist_tar(categories=CATEGORIES[:2] + [("/b/badlands", 1)]))
    with pytest.raises(DatasetError, match=r"categories_places365.txt, line 3: index 1 is "
                                           r"given twice"):
        places.load_places365("val", image_size=4)
    path.write_bytes(tar_bytes([("categories_places365.txt", listing(CATEGORIES))]))
    with pytest.raises(DatasetError, match=r"lacks the member\(s\) \['places365_val.txt'\]"):
        places.load_places365("val", image_size=4)


def test_places365_class_names(official365):
    assert places.places365_class_names() == tuple(c for c, _ in CATEGORIES)
    assert places.places365_class_names(official365["filelist_places365-standard.tar"])[1] \
        == "/a/apartment_building/outdoor"


def test_places365_unsafe_member_is_refused(tiny, official365):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("val_256/../../evil.jpg")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"abc"))
    official365["val_256.tar"].write_bytes(buffer.getvalue())
    with pytest.raises(UnsafeArchiveError, match=r"'val_256/../../evil.jpg' is unsafe"):
        places.load_places365("val", image_size=4)


def test_list_lines():
    parsed = parse_image_list(b"/a/airfield/1.jpg 0\r\nb/c.jpg 12\r\n\r\n", "list", 13)
    assert parsed.paths == ["a/airfield/1.jpg", "b/c.jpg"] and parsed.labels.tolist() == [0, 12]
    assert parsed.labels.dtype == np.int64
    for bad, problem in ((b"a.jpg\n", "is not '<image path>"),
                         (b"a.jpg 1 2\n", "is not '<image path>"),
                         (b"../a.jpg 1\n", "is not '<image path>"),
                         (b"a.jpg x\n", "has no class index"),
                         (b"a.jpg -1\n", "has no class index"),
                         (b"a.jpg 1\na.jpg 2\n", "image 'a.jpg' is listed twice")):
        with pytest.raises(DatasetError, match=re.escape(problem)):
            parse_image_list(bad, "list", 13)
    assert parse_categories(b"/b/b 1\n/a/a 0\n", "c") == ("/a/a", "/b/b")
    with pytest.raises(DatasetError, match=r"the indices are not 0..1"):
        parse_categories(b"/a/a 0\n/b/b 2\n", "c")


# ----------------------------------------------------------------------------- Places205
PREFIX = "data/vision/torralba/deeplearning/images256"


def gsun(i):
    return "gsun_" + hashlib.md5(str(i).encode()).hexdigest() + ".jpg"


TRAIN205 = [(f"a/abbey/{gsun(3)}", 0), (f"a/abbey/{gsun(1)}", 0), (f"a/abbey/{gsun(2)}", 0),
            (f"f/field/cultivated/{gsun(4)}", 1), (f"z/zen_garden/{gsun(5)}", 204),
            (f"z/zen_garden/{gsun(6)}", 204)]
VAL205 = [(f"a/abbey/{gsun(11)}", 0), (f"z/zen_garden/{gsun(12)}", 204),
          (f"f/field/cultivated/{gsun(13)}", 1)]


def split_archive(path, train=TRAIN205, val=VAL205, folder="trainvalsplit_places205/"):
    path.write_bytes(tar_bytes([(f"{folder}train_places205.csv", listing(train)),
                                (f"{folder}val_places205.csv", listing(val))], "w:gz"))
    return path


def images205(tiny, path, entries=TRAIN205 + VAL205, mode="w:gz", drop=()):
    members = [(f"{PREFIX}/{p}", image(tiny, p)) for p, _ in entries if p not in drop]
    # training and validation images interleaved in one tree, not in list order
    path.write_bytes(tar_bytes(sorted(members), mode))
    return path


@pytest.fixture
def official205(tiny, mirror):
    folder = mirror / "places205"
    folder.mkdir(parents=True)
    return {"trainvalsplit_places205.tar.gz":
            split_archive(folder / "trainvalsplit_places205.tar.gz"),
            "imagesPlaces205_resize.tar.gz":
            images205(tiny, folder / "imagesPlaces205_resize.tar.gz")}


@pytest.mark.parametrize("split,entries", [("val", VAL205), ("train", TRAIN205)])
def test_places205_splits(tiny, official205, split, entries):
    ds = places.load_places205(split, image_size=8)
    assert ds.x.shape == (len(entries), 8, 8, 3) and ds.x.dtype == np.uint8
    assert ds.y.dtype == np.int64 and ds.y.tolist() == [label for _, label in entries]
    np.testing.assert_allclose(mean_colours(ds.x), [colour_of(tiny, p) for p, _ in entries],
                               atol=4)
    assert ds.files == {name: tiny.sha256_file(path) for name, path in official205.items()}
    assert ds.name == f"places205-{split}" and ds.split == split


def test_places205_per_class(tiny, official205, monkeypatch):
    monkeypatch.setattr(imagenet, "STREAM_CHUNK", 2)
    ds = places.load_places205("train", image_size=4, per_class=1)
    smallest = {label: min(p for p, l in TRAIN205 if l == label) for _, label in TRAIN205}
    kept = [i for i, (p, label) in enumerate(TRAIN205) if smallest[label] == p]  # list order
    assert len(kept) == 3 and ds.y.tolist() == [TRAIN205[i][1] for i in kept]
    np.testing.assert_allclose(mean_colours(ds.x),
                               [colour_of(tiny, TRAIN205[i][0]) for i in kept], atol=4)


def test_places205_uncompressed_tar_and_top_level_csv(tiny, mirror):
    folder = mirror / "places205"
    folder.mkdir(parents=True)
    split_archive(folder / "trainvalsplit_places205.tar.gz", folder="")
    images205(tiny, folder / "imagesPlaces205_resize.tar", mode="w")
    ds = places.load_places205("val", image_size=4)
    assert ds.y.tolist() == [0, 204, 1]
    assert set(ds.files) == {"trainvalsplit_places205.tar.gz", "imagesPlaces205_resize.tar"}


def test_places205_path_level_reader(tiny, official205):
    x, y = read_places205(official205["trainvalsplit_places205.tar.gz"],
                          official205["imagesPlaces205_resize.tar.gz"], "val", image_size=3)
    assert x.shape == (3, 3, 3, 3) and y.tolist() == [0, 204, 1]


def test_places205_missing_files_are_named(official205):
    official205["imagesPlaces205_resize.tar.gz"].unlink()
    with pytest.raises(DatasetError) as info:
        places.load_places205("train", image_size=4)
    message = str(info.value)
    assert "'places205-train' cannot be loaded" in message
    assert "- imagesPlaces205_resize.tar.gz" in message
    assert "- imagesPlaces205_resize.tar\n" in message
    assert "- trainvalsplit_places205.tar.gz" not in message
    assert re.search(r"put it in: .*raw.places205", message)
    assert places.PLACES205_PAGE in message and "none published" in message


def test_places205_image_missing_from_archive_is_named(tiny, official205):
    images205(tiny, official205["imagesPlaces205_resize.tar.gz"], drop={VAL205[1][0]})
    with pytest.raises(DatasetError, match=r"lacks 1 of the 3 images needed: "
                                           f"'{PREFIX}/z/zen_garden/{gsun(12)}'"):
        places.load_places205("val", image_size=4)


def test_places205_malformed_split_archive_is_refused(official205):
    archive = official205["trainvalsplit_places205.tar.gz"]
    split_archive(archive, val=VAL205 + [(f"b/bar/{gsun(20)}", 205)])
    with pytest.raises(DatasetError, match=r"val_places205.csv, line 4: class index 205 is not "
                                           r"in 0..204"):
        places.load_places205("val", image_size=4)
    archive.write_bytes(tar_bytes([("trainvalsplit_places205/train_places205.csv",
                                    listing(TRAIN205))], "w:gz"))
    with pytest.raises(DatasetError, match=r"expected one trainvalsplit_places205/"
                                           r"val_places205.csv member, found none"):
        places.load_places205("val", image_size=4)
    archive.write_bytes(b"not an archive")
    with pytest.raises(DatasetError, match=r"Cannot read archive .*trainvalsplit"):
        places.load_places205("val", image_size=4)


def test_places205_class_names(official205):
    names = places.places205_class_names()
    assert len(names) == 205
    assert names[0] == "abbey" and names[1] == "field/cultivated" and names[204] == "zen_garden"
    assert names[2] == ""
    assert category_of("s/swimming_pool/outdoor/gsun_1.jpg") == "swimming_pool/outdoor"


def test_bad_split_is_refused():
    with pytest.raises(DatasetError, match="Unknown split 'test' for Places205"):
        places.load_places205("test")
    with pytest.raises(DatasetError, match="Unknown split 'all' for Places365-Standard"):
        places.load_places365("all")
