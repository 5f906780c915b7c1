"""ILSVRC2012 loader on tiny files in the official layout: ILSVRC2012_devkit_t12.tar.gz
(data/meta.mat with the ``synsets`` struct array, data/ILSVRC2012_validation_ground_truth.txt),
ILSVRC2012_img_val.tar (flat ILSVRC2012_val_<8 digits>.JPEG) and ILSVRC2012_img_train.tar
(one uncompressed <wnid>.tar per class holding <wnid>_<k>.JPEG)."""

import io
import re
import tarfile

import numpy as np
import pytest

from repro.data import DatasetError, UnsafeArchiveError, files
from repro.data import imagenet
from repro.data.imagenet import (first_per_class, parse_ground_truth, parse_meta, read_devkit,
                                 read_train, read_val)

FIELDS = ("ILSVRC2012_ID", "WNID", "words", "gloss", "num_children", "children",
          "wordnet_height", "num_train_images")
# (ILSVRC2012_ID, WNID, words, children): leaves 1..4 in an ID order that is not the WNID
# order, and two high-level synsets whose WNIDs sort first (they must not become classes).
SYNSETS = [
    (1, "n04000000", "zebra stripes", []),
    (2, "n01000002", "alpha, first", []),
    (3, "n02000003", "beta", []),
    (4, "n03000004", "gamma", []),
    (5, "n00000005", "entity", [1, 2]),
    (6, "n00500006", "thing", [3, 4, 5]),
]
SORTED_WNIDS = ("n01000002", "n02000003", "n03000004", "n04000000")
ID_TO_CLASS = {2: 0, 3: 1, 4: 2, 1: 3}
VAL_IDS = [1, 2, 3, 4, 1, 2, 2, 3, 4, 1, 3]           # line i = ILSVRC2012_ID of image i
VAL_LABELS = [ID_TO_CLASS[i] for i in VAL_IDS]
TRAIN_K = [10, 2, 1, 100]  # file-name order: _1, _10, _100, _2 (strings, not numbers)
SIZES = [(12, 9), (40, 30), (9, 17), (64, 48)]


# ----------------------------------------------------------------------------- builders
def tar_bytes(members, mode="w"):
    """An uncompressed (or ``mode``) tar of (name, bytes) regular files, in order."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def meta_mat(synsets=SYNSETS, fields=FIELDS, variable="synsets"):
    """A devkit meta.mat: struct array ``synsets`` (n x 1) with the devkit's fields."""
    from scipy.io import savemat

    array = np.zeros((len(synsets), 1), dtype=[(f, object) for f in fields])
    for row, (ident, wnid, words, children) in enumerate(synsets):
        values = {"ILSVRC2012_ID": np.array([[float(ident)]]), "WNID": wnid,
                  "words": words, "gloss": f"gloss of {words}",
                  "num_children": np.array([[float(len(children))]]),
                  "children": np.array([children], float).reshape(1, -1),
                  "wordnet_height": np.array([[0.0 if not children else 1.0]]),
                  "num_train_images": np.array([[0.0 if children else 4.0]])}
        array[row, 0] = tuple(values[f] for f in fields)
    buffer = io.BytesIO()
    savemat(buffer, {variable: array})
    return buffer.getvalue()


def devkit(path, meta=None, ground_truth=None):
    """ILSVRC2012_devkit_t12.tar.gz with meta.mat, the ground truth and decoys."""
    lines = ground_truth if ground_truth is not None else [str(i) for i in VAL_IDS]
    members = [
        ("ILSVRC2012_devkit_t12/COPYING", b"license\n"),
        ("ILSVRC2012_devkit_t12/readme.txt", b"ILSVRC2012 devkit\n"),
        ("ILSVRC2012_devkit_t12/data/meta.mat", meta if meta is not None else meta_mat()),
        ("ILSVRC2012_devkit_t12/data/ILSVRC2012_validation_ground_truth.txt",
         "".join(line + "\n" for line in lines).encode()),
        ("ILSVRC2012_devkit_t12/evaluation/eval.m", b"% matlab\n"),
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(tar_bytes(members, "w:gz"))
    return path


def val_colour(tiny, number):
    return tiny.colour(number)


def train_colour(tiny, wnid, k):
    index = SORTED_WNIDS.index(wnid) if wnid in SORTED_WNIDS else 5
    return tiny.colour(1000 + 7 * index + k)


def val_members(tiny, numbers=None):
    numbers = numbers if numbers is not None else range(1, len(VAL_IDS) + 1)
    return [(f"ILSVRC2012_val_{n:08d}.JPEG",
             tiny.jpeg_bytes(val_colour(tiny, n), SIZES[n % 4], "L" if n == 6 else "RGB"))
            for n in numbers]


def class_tar(tiny, wnid, ks=TRAIN_K, extra=()):
    return tar_bytes([(f"{wnid}_{k}.JPEG",
                       tiny.jpeg_bytes(train_colour(tiny, wnid, k), SIZES[k % 4]))
                      for k in ks] + list(extra))


def train_members(tiny, wnids=("n04000000", "n02000003", "n01000002", "n03000004")):
    return [(f"{wnid}.tar", class_tar(tiny, wnid)) for wnid in wnids]


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    folder = tmp_path / "mirror"
    monkeypatch.setenv("REPRO_DATA_MIRRORS", str(folder))
    return folder


@pytest.fixture
def official(tiny, mirror):
    """The three official files in ``<mirror>/imagenet/`` (members in archive order, not
    sorted); returns their paths."""
    folder = mirror / "imagenet"
    kit = devkit(folder / "ILSVRC2012_devkit_t12.tar.gz")
    val = folder / "ILSVRC2012_img_val.tar"
    val.write_bytes(tar_bytes(val_members(tiny)[::-1]))
    train = folder / "ILSVRC2012_img_train.tar"
    train.write_bytes(tar_bytes(train_members(tiny)))
    return {"ILSVRC2012_devkit_t12.tar.gz": kit, "ILSVRC2012_img_val.tar": val,
            "ILSVRC2012_img_train.tar": train}


def mean_colours(x):
    return x.reshape(len(x), -1, 3).mean(axis=1)


def expected_val_colour(tiny, number):
    c = np.array(val_colour(tiny, number), float)
    return np.full(3, c @ [0.299, 0.587, 0.114]) if number == 6 else c


# ----------------------------------------------------------------------------- tests
def test_val_labels_order_and_files(tiny, official):
    ds = imagenet.load("val", image_size=8)
    n = len(VAL_IDS)
    assert ds.x.shape == (n, 8, 8, 3) and ds.x.dtype == np.uint8 and ds.x.flags.c_contiguous
    assert ds.y.dtype == np.int64 and ds.y.tolist() == VAL_LABELS
    for row in range(n):  # file-name order although the tar stores them reversed
        np.testing.assert_allclose(mean_colours(ds.x[row:row + 1])[0],
                                   expected_val_colour(tiny, row + 1), atol=4)
    assert ds.files == {name: tiny.sha256_file(official[name])
                        for name in ("ILSVRC2012_devkit_t12.tar.gz", "ILSVRC2012_img_val.tar")}
    assert ds.name == "imagenet-val" and ds.split == "val" and ds.n_classes == 4


def test_classes_are_leaf_synsets_sorted_by_wnid(official):
    kit = read_devkit(official["ILSVRC2012_devkit_t12.tar.gz"])
    assert [s.wnid for s in kit.synsets] == list(SORTED_WNIDS)
    assert [s.ilsvrc2012_id for s in kit.synsets] == [2, 3, 4, 1]
    assert imagenet.wnids() == SORTED_WNIDS
    assert imagenet.class_names() == ("alpha, first", "beta", "gamma", "zebra stripes")
    assert imagenet.synsets(official["ILSVRC2012_devkit_t12.tar.gz"]) == kit.synsets
    np.testing.assert_array_equal(kit.val_labels, VAL_LABELS)


def test_train_reads_the_nested_tars_by_class_then_file_name(tiny, official):
    ds = imagenet.load("train", image_size=6)
    order = sorted(f"_{k}.JPEG" for k in TRAIN_K)           # _1, _10, _100, _2
    ks = [int(name[1:-5]) for name in order]
    assert ds.x.shape == (16, 6, 6, 3) and ds.y.dtype == np.int64
    assert ds.y.tolist() == [c for c in range(4) for _ in ks]
    expected = [train_colour(tiny, wnid, k) for wnid in SORTED_WNIDS for k in ks]
    np.testing.assert_allclose(mean_colours(ds.x), expected, atol=4)
    assert ds.files == {name: tiny.sha256_file(official[name]) for name in
                        ("ILSVRC2012_devkit_t12.tar.gz", "ILSVRC2012_img_train.tar")}
    assert ds.name == "imagenet-train" and ds.split == "train"


def test_per_class_subsets_are_deterministic(tiny, official):
    train = imagenet.load("train", image_size=4, per_class=2)
    assert train.y.tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    expected = [train_colour(tiny, wnid, k) for wnid in SORTED_WNIDS for k in (1, 10)]
    np.testing.assert_allclose(mean_colours(train.x), expected, atol=4)
    again = imagenet.load("train", image_size=4, per_class=2)
    np.testing.assert_array_equal(train.x, again.x)

    val = imagenet.load("val", image_size=4, per_class=2)
    # first two images (by number) of each class, kept in number order
    keep = [n for n in range(len(VAL_IDS))
            if VAL_LABELS[:n].count(VAL_LABELS[n]) < 2]
    assert val.y.tolist() == [VAL_LABELS[n] for n in keep]
    np.testing.assert_allclose(mean_colours(val.x),
                               [expected_val_colour(tiny, n + 1) for n in keep], atol=4)
    everything = imagenet.load("train", image_size=4, per_class=100)
    assert len(everything) == 16


def test_image_size_default_and_bad_arguments(official):
    assert imagenet.load().x.shape == (len(VAL_IDS), 64, 64, 3)
    with pytest.raises(DatasetError, match="image_size must be an integer"):
        imagenet.load("val", image_size=0)
    with pytest.raises(DatasetError, match="per_class must be an integer >= 0"):
        imagenet.load("val", per_class=-1)
    with pytest.raises(DatasetError, match="Unknown split 'test' for ILSVRC2012"):
        imagenet.load("test")


def test_path_level_readers(tiny, official):
    kit = official["ILSVRC2012_devkit_t12.tar.gz"]
    x, y = read_val(official["ILSVRC2012_img_val.tar"], kit, image_size=5, workers=1)
    assert x.shape == (len(VAL_IDS), 5, 5, 3) and y.tolist() == VAL_LABELS
    x, y = read_train(official["ILSVRC2012_img_train.tar"], read_devkit(kit), image_size=3,
                      per_class=1)
    assert x.shape == (4, 3, 3, 3) and y.tolist() == [0, 1, 2, 3]


def test_extracted_folders_are_accepted(tiny, mirror):
    folder = mirror / "imagenet"
    devkit(folder / "ILSVRC2012_devkit_t12.tar.gz")
    val = folder / "ILSVRC2012_img_val"
    val.mkdir(parents=True)
    for name, data in val_members(tiny):
        (val / name).write_bytes(data)
    train = folder / "ILSVRC2012_img_train"
    for wnid in SORTED_WNIDS:
        (train / wnid).mkdir(parents=True)
        for k in TRAIN_K:
            (train / wnid / f"{wnid}_{k}.JPEG").write_bytes(
                tiny.jpeg_bytes(train_colour(tiny, wnid, k), (10, 8)))
    ds = imagenet.load("val", image_size=4)
    assert ds.y.tolist() == VAL_LABELS
    assert ds.files["ILSVRC2012_img_val"] == files.folder_digest(val)
    ds = imagenet.load("train", image_size=4, per_class=1)
    assert ds.y.tolist() == [0, 1, 2, 3]
    np.testing.assert_allclose(mean_colours(ds.x),
                               [train_colour(tiny, w, 1) for w in SORTED_WNIDS], atol=4)
    assert ds.files["ILSVRC2012_img_train"] == files.folder_digest(train)


def test_missing_files_are_named(official):
    official["ILSVRC2012_img_val.tar"].unlink()
    with pytest.raises(DatasetError) as info:
        imagenet.load("val", image_size=4)
    message = str(info.value)
    assert "'imagenet-val' cannot be loaded" in message
    assert "- ILSVRC2012_img_val.tar" in message and "- ILSVRC2012_img_val/" in message
    assert "- ILSVRC2012_devkit_t12.tar.gz" not in message
    assert re.search(r"put it in: .*raw.imagenet", message)
    assert "REPRO_DATA_MIRRORS" in message and str(official["ILSVRC2012_img_val.tar"].parent
                                                   .parent) in message
    assert imagenet.DOWNLOAD_PAGE in message and "login" in message
    assert "none published" in message


def test_missing_devkit_is_named(official):
    official["ILSVRC2012_devkit_t12.tar.gz"].unlink()
    with pytest.raises(DatasetError, match=r"- ILSVRC2012_devkit_t12.tar.gz"):
        imagenet.load("train", image_size=4)
    with pytest.raises(DatasetError, match=r"- ILSVRC2012_devkit_t12.tar.gz"):
        imagenet.wnids()


def test_val_archive_of_another_size_is_refused(tiny, official):
    official["ILSVRC2012_img_val.tar"].write_bytes(tar_bytes(val_members(tiny)[:-1]))
    with pytest.raises(DatasetError, match=r"ILSVRC2012_img_val.tar holds 10 validation "
                                           r"images but the devkit's ground truth lists 11"):
        imagenet.load("val", image_size=4)


def test_val_archive_with_other_members_is_refused(tiny, official):
    members = val_members(tiny)
    renumbered = members[:-1] + [("ILSVRC2012_val_00000099.JPEG", members[-1][1])]
    official["ILSVRC2012_img_val.tar"].write_bytes(tar_bytes(renumbered))
    with pytest.raises(DatasetError, match=r"lacks validation image\(s\) "
                                           r"ILSVRC2012_val_00000011.JPEG"):
        imagenet.load("val", image_size=4)
    official["ILSVRC2012_img_val.tar"].write_bytes(
        tar_bytes(members + [("readme.txt", b"x")]))
    with pytest.raises(DatasetError, match=r"holds 'readme.txt', which is not a validation"):
        imagenet.load("val", image_size=4)


def test_compressed_val_archive_is_refused(tiny, official):
    official["ILSVRC2012_img_val.tar"].write_bytes(tar_bytes(val_members(tiny), "w:gz"))
    with pytest.raises(DatasetError, match="is not an uncompressed tar archive"):
        imagenet.load("val", image_size=4)


def test_meta_mat_without_the_expected_content_is_refused(official):
    kit = official["ILSVRC2012_devkit_t12.tar.gz"]
    devkit(kit, meta=meta_mat(fields=("ILSVRC2012_ID", "WNID", "words", "gloss")))
    with pytest.raises(DatasetError, match=r"meta.mat: the 'synsets' struct array lacks the "
                                           r"field\(s\) num_children"):
        imagenet.load("val", image_size=4)
    devkit(kit, meta=meta_mat(variable="classes"))
    with pytest.raises(DatasetError, match=r"meta.mat has no struct array 'synsets' \(its "
                                           r"variables: \['classes'\]\)"):
        imagenet.load("val", image_size=4)
    devkit(kit, meta=b"MATLAB 5.0 MAT-file, but truncated")
    with pytest.raises(DatasetError, match=r"meta.mat is not a MATLAB file"):
        imagenet.load("val", image_size=4)
    devkit(kit, meta=meta_mat(SYNSETS + [(7, "x0123", "bad", [])]))
    with pytest.raises(DatasetError, match=r"synset number 7 has WNID 'x0123'"):
        imagenet.load("val", image_size=4)


def test_ground_truth_must_name_low_level_synsets():
    synsets = parse_meta(meta_mat(), "meta.mat")
    np.testing.assert_array_equal(parse_ground_truth(b"2\n1\r\n4\n\n", "gt", synsets),
                                  [0, 3, 2])
    with pytest.raises(DatasetError, match=r"gt, line 2: ILSVRC2012_ID 5 is not one of the 4 "
                                           r"low-level synsets"):
        parse_ground_truth(b"1\n5\n", "gt", synsets)
    with pytest.raises(DatasetError, match=r"gt, line 3: ' n02' is not an ILSVRC2012_ID"):
        parse_ground_truth(b"1\n2\n n02\n", "gt", synsets)
    with pytest.raises(DatasetError, match=r"gt is empty"):
        parse_ground_truth(b"\n", "gt", synsets)


def test_bad_ground_truth_in_devkit_is_named(official):
    devkit(official["ILSVRC2012_devkit_t12.tar.gz"], ground_truth=["1", "6"])
    with pytest.raises(DatasetError, match=r"ILSVRC2012_validation_ground_truth.txt, line 2: "
                                           r"ILSVRC2012_ID 6 is not one"):
        imagenet.load("val", image_size=4)


def test_unknown_wnid_in_train_archive_is_refused(tiny, official):
    members = train_members(tiny) + [("n09999999.tar", class_tar(tiny, "n09999999"))]
    official["ILSVRC2012_img_train.tar"].write_bytes(tar_bytes(members))
    with pytest.raises(DatasetError, match=r"holds 'n09999999.tar', the images of synset "
                                           r"n09999999, which is not one of the 4 classes"):
        imagenet.load("train", image_size=4)


def test_train_archive_lacking_a_class_is_refused(tiny, official):
    official["ILSVRC2012_img_train.tar"].write_bytes(
        tar_bytes(train_members(tiny, ("n04000000", "n01000002"))))
    with pytest.raises(DatasetError, match=r"lacks the images of 2 of the 4 classes: "
                                           r"n02000003.tar, n03000004.tar"):
        imagenet.load("train", image_size=4)


def test_train_archive_with_other_members_is_refused(tiny, official):
    official["ILSVRC2012_img_train.tar"].write_bytes(
        tar_bytes(train_members(tiny) + [("notes.txt", b"x")]))
    with pytest.raises(DatasetError, match=r"holds 'notes.txt', which is not a per-class"):
        imagenet.load("train", image_size=4)


def test_unsafe_member_of_a_class_archive_is_refused(tiny, official):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("n01000002_5.JPEG")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(info)
    members = train_members(tiny)[:-1] + [("n03000004.tar", buffer.getvalue())]
    official["ILSVRC2012_img_train.tar"].write_bytes(tar_bytes(members))
    with pytest.raises(UnsafeArchiveError, match=r"n03000004.tar: member 'n01000002_5.JPEG' "
                                                 r"is unsafe \(link"):
        imagenet.load("train", image_size=4)


def test_corrupt_image_is_named(tiny, official):
    members = train_members(tiny)
    members[1] = ("n02000003.tar", class_tar(tiny, "n02000003", ks=[1],
                                              extra=[("n02000003_0.JPEG", b"\xff\xd8 bad")]))
    official["ILSVRC2012_img_train.tar"].write_bytes(tar_bytes(members))
    archive = re.escape(str(official["ILSVRC2012_img_train.tar"]))
    with pytest.raises(DatasetError, match=f"Cannot decode image {archive}:"
                                           r"n02000003.tar/n02000003_0.JPEG"):
        imagenet.load("train", image_size=4)


def test_first_per_class_matches_a_plain_loop():
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 5, size=200)
    keys = [f"img_{rng.integers(0, 10**6):07d}_{i}" for i in range(200)]
    for k in (0, 1, 3, 50):
        expected = []
        for c in range(5):
            members = sorted((keys[i], i) for i in range(200) if labels[i] == c)
            expected += [i for _, i in (members[:k] if k else members)]
        np.testing.assert_array_equal(first_per_class(labels, k, keys), sorted(expected))
    np.testing.assert_array_equal(first_per_class(np.array([2, 2, 1, 2, 1]), 1), [0, 2])
    assert first_per_class(np.zeros(0, np.int64), 3).size == 0
