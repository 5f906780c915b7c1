"""Places365-Standard and Places205 scene classification, read from the official files.

Places365-Standard (Zhou et al., TPAMI 2017; places2.csail.mit.edu, files served from
``http://data.csail.mit.edu/places/places365/``, the ones torchvision's ``Places365`` uses):

- ``filelist_places365-standard.tar``: top-level members ``categories_places365.txt`` (365
  lines ``/a/airfield 0``: category, index 0..364), ``places365_train_standard.txt``
  (1,803,460 lines ``/a/airfield/00000001.jpg 0``) and ``places365_val.txt`` (36,500 lines
  ``Places365_val_00000001.jpg 165``), each line ``<image path> <class index>``.
- the images, 256 x 256: ``train_256_places365standard.tar`` (members
  ``data_256/a/airfield/00000001.jpg``, i.e. ``data_256`` + the list's path) and
  ``val_256.tar`` (members ``val_256/Places365_val_00000001.jpg``); or the high-resolution
  ``train_large_places365standard.tar`` (``data_large/...``) and ``val_large.tar``
  (``val_large/...``), used when the 256 x 256 archive is absent.

Class index: the index given by ``categories_places365.txt`` (the categories in alphabetical
order of their path); :func:`places365_class_names` returns the category paths as written
there (``/a/airfield``, ``/a/apartment_building/outdoor``, ...).

Places205 (Zhou et al., NIPS 2014; places.csail.mit.edu, ``downloadData.html``):

- ``imagesPlaces205_resize.tar.gz``: the 256 x 256 images, members
  ``data/vision/torralba/deeplearning/images256/<letter>/<category>/gsun_<hash>.jpg`` (the
  training and the validation images in the same tree). The same archive gunzipped,
  ``imagesPlaces205_resize.tar``, is accepted instead.
- ``trainvalsplit_places205.tar.gz``: ``trainvalsplit_places205/train_places205.csv`` and
  ``trainvalsplit_places205/val_places205.csv``, one line ``<path> <class index>`` per image,
  space-separated despite the ``.csv`` suffix, the path relative to ``images256/`` (e.g.
  ``a/abbey/gsun_0003586c3eedd97457b2d729ebfe18b5.jpg 0``), class indices 0..204. (The two
  csv files are also accepted at the top of the archive.)

What is confirmed and what is not (no official page could be consulted here): the Places365
file names, member layouts and line formats are those read by torchvision's
``datasets/places365.py`` (and its test fixtures), TensorFlow Datasets' ``places365_small``
(which reads the image tars directly: ``data_256/`` + train path, ``val_256/`` + val name)
and the official devkit README (github.com/zhoubolei/places_devkit). For Places205 the names
``imagesPlaces205_resize.tar.gz`` / ``trainvalsplit_places205.tar.gz``, the members'
``data/vision/torralba/deeplearning/images256/`` prefix, the ``trainvalsplit_places205/``
folder and the ``<path> <label>`` lines come from third-party loaders (RotNet's and other
self-supervised benchmarks' ``Places205`` classes, tensorpack's reader of the tar, download
scripts using ``http://data.csail.mit.edu/places/places205/trainvalsplit_places205.tar.gz``),
not from the official page; the URL of the image archive itself was not confirmed (the
download page is given instead). Places205 class names are not read from an official
category file: :func:`places205_class_names` derives them from the image paths.

Images are decoded and resized as in :mod:`repro.data.imagenet` (uint8 ``(n, image_size,
image_size, 3)``, int64 labels), in the order of the list file. ``per_class > 0`` keeps the
first ``per_class`` images of each class in sorted path order (a deterministic subset, still
in list-file order). Memory at 64 pixels: Places365 val 0.45 GB, train 22 GB; Places205 train
(about 2.45 million images) about 30 GB: use ``per_class`` for the training splits.

Reading, without extracting anything: an uncompressed tar (the Places365 image archives) is
read in place (headers scanned, then only the needed images read, each once); the
compressed Places205 archive is streamed once, front to back, decoding as it goes
(:func:`repro.data.imagenet.read_tar_images`). The list files are read in memory.

No sha256 is published for any of these files, so they are declared with ``sha256=None``,
never downloaded automatically, used unverified, and their computed sha256 is recorded in
``Dataset.files``. For cross-checking by hand only, torchvision lists these md5 values:
``filelist_places365-standard.tar`` 35a0585fee1fa656440f3ab298f8479c,
``train_256_places365standard.tar`` 53ca1c756c3d1e7809517cc47c5561c5, ``val_256.tar``
e27b17d8d44f4af9a78502beb927f808, ``train_large_places365standard.tar``
67e186b496a84c929568076ed01a8aa1, ``val_large.tar`` 9b71c4993ad89d2d8bcbdc4aef38042f (none is
known for the Places205 files).
"""

from __future__ import annotations

import posixpath
import tarfile
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from repro.data.archives import read_members
from repro.data.errors import DatasetError
from repro.data.images import check_size
from repro.data.imagenet import (
    TAR_ERRORS,
    check_per_class,
    check_split,
    find_file,
    first_per_class,
    load_spec,
    member_name,
    read_tar_images,
    tar_members,
    text_lines,
)

if TYPE_CHECKING:  # (imported lazily: registry.py may import this module)
    from repro.data.dataset import Dataset
    from repro.data.registry import DatasetSpec, FileSpec

SPLITS = ("train", "val")
DEFAULT_SPLIT = "val"
DEFAULT_IMAGE_SIZE = 64
OPTIONS = ("image_size", "per_class", "workers")

# ---- Places365-Standard
PLACES365_SUBFOLDER = "places365"
PLACES365_BASE = "http://data.csail.mit.edu/places/places365/"
FILELIST = "filelist_places365-standard.tar"
CATEGORIES = "categories_places365.txt"
PLACES365_LISTS = {"train": "places365_train_standard.txt", "val": "places365_val.txt"}
#: split -> (image archive, its top folder), in order of preference.
PLACES365_IMAGES = {
    "train": (("train_256_places365standard.tar", "data_256"),
              ("train_large_places365standard.tar", "data_large")),
    "val": (("val_256.tar", "val_256"), ("val_large.tar", "val_large")),
}
#: image archive -> its top folder.
PLACES365_FOLDERS = {archive: folder for options in PLACES365_IMAGES.values()
                     for archive, folder in options}

# ---- Places205
PLACES205_SUBFOLDER = "places205"
PLACES205_BASE = "http://data.csail.mit.edu/places/places205/"
PLACES205_PAGE = "http://places.csail.mit.edu/downloadData.html"
SPLIT_ARCHIVE = "trainvalsplit_places205.tar.gz"
SPLIT_FOLDER = "trainvalsplit_places205"
PLACES205_LISTS = {"train": "train_places205.csv", "val": "val_places205.csv"}
PLACES205_IMAGES = ("imagesPlaces205_resize.tar.gz", "imagesPlaces205_resize.tar")
PLACES205_PREFIX = "data/vision/torralba/deeplearning/images256"
PLACES205_CLASSES = 205


class ImageList(NamedTuple):
    """A list file: image paths (relative to the image folder, no leading ``/``) and labels."""

    paths: list[str]
    labels: np.ndarray  #: int64 (n,)


def parse_categories(raw: bytes, where: str) -> tuple[str, ...]:
    """``categories_places365.txt`` (``<category> <index>`` lines) -> names by index."""
    by_index: dict[int, str] = {}
    for number, line in enumerate(text_lines(raw, where), start=1):
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            raise DatasetError(f"{where}, line {number}: {line!r} is not "
                               "'<category> <index>'.")
        index = int(parts[1])
        if index in by_index:
            raise DatasetError(f"{where}, line {number}: index {index} is given twice.")
        by_index[index] = parts[0]
    if sorted(by_index) != list(range(len(by_index))):
        raise DatasetError(f"{where}: the indices are not 0..{len(by_index) - 1}, each once.")
    if len(set(by_index.values())) != len(by_index):
        raise DatasetError(f"{where}: a category is listed twice.")
    return tuple(by_index[i] for i in range(len(by_index)))


def parse_image_list(raw: bytes, where: str, n_classes: int) -> ImageList:
    """A list file of ``<image path> <class index>`` lines (Places365's ``.txt``, Places205's
    ``.csv``); a leading ``/`` is dropped from the path, indices must be < ``n_classes``."""
    lines = text_lines(raw, where)
    paths, labels = [], []
    for number, line in enumerate(lines, start=1):
        parts = line.split()
        path = parts[0].lstrip("/") if len(parts) == 2 else ""
        if not path or ".." in path.split("/") or "\\" in path:
            raise DatasetError(f"{where}, line {number}: {line!r} is not '<image path> "
                               "<class index>'.")
        paths.append(path)
        labels.append(parts[1])
    values = np.array(labels)
    bad = np.flatnonzero(~np.char.isdigit(values) | (np.char.str_len(values) > 9))
    if bad.size:
        raise DatasetError(f"{where}, line {bad[0] + 1}: {lines[bad[0]]!r} has no class index "
                           "(a non-negative integer) after the path.")
    y = values.astype(np.int64)
    bad = np.flatnonzero(y >= n_classes)
    if bad.size:
        raise DatasetError(f"{where}, line {bad[0] + 1}: class index {y[bad[0]]} is not in "
                           f"0..{n_classes - 1}.")
    if len(set(paths)) != len(paths):
        seen: set[str] = set()
        first = next(i for i, p in enumerate(paths) if p in seen or seen.add(p))
        raise DatasetError(f"{where}, line {first + 1}: image {paths[first]!r} is listed "
                           "twice.")
    return ImageList(paths, y)


# ------------------------------------------------------------------ Places365
def read_places365(filelist: Path, images: Path, split: str, *,
                   image_size: int = DEFAULT_IMAGE_SIZE, per_class: int = 0,
                   workers: int | None = None, folder: str | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(x uint8 (n, s, s, 3), y int64 (n,)) of a Places365-Standard split, in list order.

    ``filelist`` is ``filelist_places365-standard.tar``, ``images`` the split's image archive;
    ``folder`` its top folder (default: from the archive's official name, e.g. ``val_256``).
    """
    size, per_class = check_size(image_size), check_per_class(per_class)
    filelist, images = Path(filelist), Path(images)
    folder = folder or PLACES365_FOLDERS.get(images.name)
    if folder is None:
        raise DatasetError(f"{images.name!r} is not the name of a Places365 image archive "
                           f"({', '.join(PLACES365_FOLDERS)}); pass folder= (its top folder).")
    wanted = PLACES365_LISTS[check_split(split, SPLITS, "Places365-Standard")]
    members = read_members(filelist, [CATEGORIES, wanted])
    categories = parse_categories(members[CATEGORIES], f"{filelist}:{CATEGORIES}")
    listing = parse_image_list(members[wanted], f"{filelist}:{wanted}", len(categories))
    rows = first_per_class(listing.labels, per_class, keys=listing.paths)
    names = [f"{folder}/{listing.paths[i]}" for i in rows]
    x = read_tar_images(images, names, size, desc=f"Places365 {split} images", workers=workers)
    return x, listing.labels[rows]


# ------------------------------------------------------------------ Places205
def read_places205_list(split_archive: Path, split: str) -> ImageList:
    """The split's image list from ``trainvalsplit_places205.tar.gz`` (the csv in
    ``trainvalsplit_places205/`` or at the top of the archive)."""
    split = check_split(split, SPLITS, "Places205")
    wanted = PLACES205_LISTS[split]
    accepted = {wanted, f"{SPLIT_FOLDER}/{wanted}"}
    found: dict[str, bytes] = {}
    try:
        with tarfile.open(split_archive, mode="r|*") as tar:
            for info in tar_members(tar, split_archive):
                name = member_name(info)
                if info.isfile() and name in accepted:
                    found[name] = tar.extractfile(info).read()
    except TAR_ERRORS as error:
        raise DatasetError(f"Cannot read archive {split_archive}: {error}") from error
    if len(found) != 1:
        detail = f"found {sorted(found)}" if found else "found none"
        raise DatasetError(f"{split_archive}: expected one {SPLIT_FOLDER}/{wanted} member, "
                           f"{detail}; is it the official {SPLIT_ARCHIVE}?")
    (name, raw), = found.items()
    return parse_image_list(raw, f"{split_archive}:{name}", PLACES205_CLASSES)


def read_places205(split_archive: Path, images: Path, split: str, *,
                   image_size: int = DEFAULT_IMAGE_SIZE, per_class: int = 0,
                   workers: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(x uint8 (n, s, s, 3), y int64 (n,)) of a Places205 split, in list order.

    ``split_archive`` is ``trainvalsplit_places205.tar.gz``, ``images``
    ``imagesPlaces205_resize.tar.gz`` (or the same tar uncompressed).
    """
    size, per_class = check_size(image_size), check_per_class(per_class)
    listing = read_places205_list(Path(split_archive), split)
    rows = first_per_class(listing.labels, per_class, keys=listing.paths)
    names = [f"{PLACES205_PREFIX}/{listing.paths[i]}" for i in rows]
    x = read_tar_images(Path(images), names, size, desc=f"Places205 {split} images",
                        workers=workers)
    return x, listing.labels[rows]


def category_of(path: str) -> str:
    """Places205 category of an image path: ``a/abbey/gsun_x.jpg`` -> ``abbey``,
    ``f/field/cultivated/gsun_x.jpg`` -> ``field/cultivated``."""
    parts = posixpath.dirname(path).split("/")
    return "/".join(parts[1:] if len(parts) > 1 else parts)


# ------------------------------------------------------------------ files and loading
@cache
def file_specs() -> dict[str, FileSpec]:
    """Every file of both distributions, by name (``sha256=None``: none is published)."""
    from repro.data.registry import UNVERIFIED_NOTE, FileSpec

    def spec(name: str, subfolder: str, page: str, note: str = "") -> FileSpec:
        return FileSpec(name, subfolder, None, manual_page=page,
                        manual_note=UNVERIFIED_NOTE + note)

    specs = {name: spec(name, PLACES365_SUBFOLDER, PLACES365_BASE + name)
             for name in (FILELIST, *PLACES365_FOLDERS)}
    specs[SPLIT_ARCHIVE] = spec(SPLIT_ARCHIVE, PLACES205_SUBFOLDER, PLACES205_BASE + SPLIT_ARCHIVE)
    for archive in PLACES205_IMAGES:
        specs[archive] = spec(archive, PLACES205_SUBFOLDER, PLACES205_PAGE,
                              " (the .tar is the .tar.gz gunzipped; either one is enough)")
    return specs


@cache
def places365_spec(split: str = DEFAULT_SPLIT) -> DatasetSpec:
    """``places365-<split>``: the file lists and the 256 x 256 (else the large) image
    archive of the split; the registry's DatasetSpec, not registered."""
    from repro.data.registry import DatasetSpec

    split = check_split(split, SPLITS, "Places365-Standard")
    specs = file_specs()
    sources = tuple((specs[FILELIST], specs[archive])
                    for archive, _ in PLACES365_IMAGES[split])

    def loader(paths: Mapping[str, Path], _split: str | None = None, **options):
        archive = next(a for a, _ in PLACES365_IMAGES[split] if a in paths)
        return read_places365(paths[FILELIST], paths[archive], split, **options)
    return DatasetSpec(f"places365-{split}",
                       f"Places365-Standard {split} images, 365 scene classes; uint8 images "
                       "image_size^2 x 3 (default 64)", sources, loader, options=OPTIONS)


@cache
def places205_spec(split: str = DEFAULT_SPLIT) -> DatasetSpec:
    """``places205-<split>``: the split archive and the image archive (.tar.gz or .tar)."""
    from repro.data.registry import DatasetSpec

    split = check_split(split, SPLITS, "Places205")
    specs = file_specs()
    sources = tuple((specs[SPLIT_ARCHIVE], specs[archive]) for archive in PLACES205_IMAGES)

    def loader(paths: Mapping[str, Path], _split: str | None = None, **options):
        archive = next(a for a in PLACES205_IMAGES if a in paths)
        return read_places205(paths[SPLIT_ARCHIVE], paths[archive], split, **options)
    return DatasetSpec(f"places205-{split}",
                       f"Places205 {split} images, 205 scene classes; uint8 images "
                       "image_size^2 x 3 (default 64)", sources, loader, options=OPTIONS)


def load_places365(split: str = DEFAULT_SPLIT, image_size: int = DEFAULT_IMAGE_SIZE,
                   per_class: int = 0, workers: int | None = None) -> Dataset:
    """Places365-Standard ``split`` ("val" or "train"): x uint8 (n, s, s, 3), y int64.

    Files are looked up in ``data/raw/places365/`` then in the mirrors of
    ``REPRO_DATA_MIRRORS`` (never downloaded); ``Dataset.files`` records their sha256.
    """
    split = check_split(split, SPLITS, "Places365-Standard")
    return load_spec(places365_spec(split), split, image_size, per_class, workers)


def load_places205(split: str = DEFAULT_SPLIT, image_size: int = DEFAULT_IMAGE_SIZE,
                   per_class: int = 0, workers: int | None = None) -> Dataset:
    """Places205 ``split`` ("val" or "train"): x uint8 (n, s, s, 3), y int64.

    Files are looked up in ``data/raw/places205/`` then in the mirrors of
    ``REPRO_DATA_MIRRORS`` (never downloaded); ``Dataset.files`` records their sha256.
    """
    split = check_split(split, SPLITS, "Places205")
    return load_spec(places205_spec(split), split, image_size, per_class, workers)


def places365_class_names(filelist: Path | None = None) -> tuple[str, ...]:
    """The 365 category paths of ``categories_places365.txt`` (``/a/airfield``, ...), by
    class index; reads only the file-list archive (found along the lookup path if not given)."""
    filelist = Path(filelist) if filelist else find_file("places365", file_specs()[FILELIST])
    raw = read_members(filelist, [CATEGORIES])[CATEGORIES]
    return parse_categories(raw, f"{filelist}:{CATEGORIES}")


def places205_class_names(split_archive: Path | None = None) -> tuple[str, ...]:
    """The 205 category names by class index, derived from the training list's paths
    (``a/abbey/...`` -> ``abbey``; ``""`` for an index no training image has)."""
    archive = (Path(split_archive) if split_archive
               else find_file("places205", file_specs()[SPLIT_ARCHIVE]))
    listing = read_places205_list(archive, "train")
    names = [""] * PLACES205_CLASSES
    for row in first_per_class(listing.labels, 1):
        names[int(listing.labels[row])] = category_of(listing.paths[row])
    return tuple(names)
