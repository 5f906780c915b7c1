"""ILSVRC2012 image classification ("ImageNet-1k"), read from the official distribution.

Files of the official distribution (image-net.org, ILSVRC 2012 downloads; an image-net.org
account is needed, so they are downloaded by hand), read in place, without extracting:

- ``ILSVRC2012_devkit_t12.tar.gz``, the development kit. Two members are read:

  * ``ILSVRC2012_devkit_t12/data/meta.mat``: a MATLAB file whose variable ``synsets`` is a
    struct array of the synsets of the trimmed hierarchy (1000 low-level + 860 high-level in
    the official file), fields ``ILSVRC2012_ID``, ``WNID``, ``words``, ``gloss``,
    ``num_children``, ``children``, ``wordnet_height``, ``num_train_images``. The 1000
    classes are the low-level (leaf) synsets, those with ``num_children == 0`` (their
    ILSVRC2012_IDs are 1..1000; the high-level ones have larger IDs and are ignored).
  * ``ILSVRC2012_devkit_t12/data/ILSVRC2012_validation_ground_truth.txt``: one line per
    validation image (50,000); line i holds the ILSVRC2012_ID of image i.

- ``ILSVRC2012_img_val.tar``: an uncompressed tar of 50,000 flat members
  ``ILSVRC2012_val_00000001.JPEG`` .. ``ILSVRC2012_val_00050000.JPEG``.
- ``ILSVRC2012_img_train.tar``: an uncompressed tar of 1000 uncompressed tars ``<wnid>.tar``
  (e.g. ``n01440764.tar``), one per class, each holding flat ``<wnid>_<k>.JPEG`` members
  (1,281,167 images in all).

Instead of an image archive, the folder it is commonly extracted to is accepted:
``ILSVRC2012_img_val/`` holding the flat ``ILSVRC2012_val_<8 digits>.JPEG`` files (not the
per-class re-sorted layout), or ``ILSVRC2012_img_train/`` holding one folder ``<wnid>/`` per
class with its images (the per-class tars extracted into their own folders). A folder is
recorded by :func:`repro.data.files.folder_digest` (its listing), not by a hash of its bytes.
The devkit is always read from its archive.

Classes: class index ``k`` is the position of the class's WNID among the 1000 leaf WNIDs
sorted as strings (``n01440764`` "tench" is 0, ``n15075141`` "toilet tissue" is 999): the
convention of torchvision's ``ImageNet`` / ``ImageFolder`` and of ``keras.applications``'
``imagenet_class_index.json``. It is *not* ``ILSVRC2012_ID - 1`` (the devkit's IDs follow
another order). Labels are int64.

Images are decoded with Pillow, converted to RGB and resized to ``image_size x image_size``
(bilinear, aspect ratio not kept; :mod:`repro.data.images`), returned as uint8
``(n, image_size, image_size, 3)``. Order: the validation images in file-name order (image
number); the training images by class index, then by file name (plain string order).
``per_class > 0`` keeps only the first ``per_class`` images of each class in that file-name
order (deterministic subsets). The whole validation set takes 0.6 GB at 64 pixels and 7.5 GB
at 224; the whole training set 15.7 GB at 64 pixels and 193 GB at 224, which does not fit in
the memory of most machines: use ``per_class`` for the training split.

Reading: a plain tar is read in place with random access: its headers (and those of the
per-class tars) are scanned, then only the selected images are read, each once, straight
into the decoder (:func:`repro.data.images.decode_images`); nothing is written to disk and
memory is about the output array plus a few hundred bytes of index per selected image. Every
member met is checked (absolute paths, ``..``, links and device entries are refused,
:mod:`repro.data.archives`). With ``per_class`` small, loading the training split reads the
headers and the few selected images only.

No sha256 is published for these files (only the md5 values below, which torchvision's
``datasets/imagenet.py`` lists, given here for cross-checking by hand only; they are not used):
``ILSVRC2012_img_train.tar`` 1d675b47d978889d74fa0da5fadfb00e, ``ILSVRC2012_img_val.tar``
29b22e2961454d5413ddabcf34fc5622, ``ILSVRC2012_devkit_t12.tar.gz``
fa75699e90414af021442c21a62c3abf; a third-party loader also quotes SHA1 values as given on
the download page (not confirmed here): train 43eda4fe35c1705d6606a6a7a633bc965d194284, val
5f3f73da3395154b60528b2b2a2caf2374f5f178, devkit 092a94ed6a05454b8b72d1c4ecf336fa48d37fda.
The files are therefore declared with ``sha256=None``
(:func:`file_specs`), used unverified, and the sha256 computed is recorded in
``Dataset.files``; computing it reads the whole file once per process (minutes for the
~140 GB training archive).

Some helpers here (tar scanning and image reading, per-class selection) are also used by
:mod:`repro.data.places`.
"""

from __future__ import annotations

import io
import os
import posixpath
import re
import tarfile
import zlib
from collections.abc import Collection, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from functools import cache
from pathlib import Path
from typing import IO, TYPE_CHECKING, NamedTuple

import numpy as np
from tqdm import tqdm

from repro.data.archives import member_problem, read_members
from repro.data.errors import DatasetError, UnsafeArchiveError
from repro.data.images import PROGRESS_MIN, check_size, decode_images

if TYPE_CHECKING:  # (imported lazily: registry.py may import this module)
    from repro.data.dataset import Dataset, FileRecord
    from repro.data.registry import DatasetSpec, FileSpec

SUBFOLDER = "imagenet"
DEVKIT = "ILSVRC2012_devkit_t12.tar.gz"
VAL_ARCHIVE = "ILSVRC2012_img_val.tar"
TRAIN_ARCHIVE = "ILSVRC2012_img_train.tar"
VAL_FOLDER = "ILSVRC2012_img_val"
TRAIN_FOLDER = "ILSVRC2012_img_train"
SPLIT_IMAGES = {"train": (TRAIN_ARCHIVE, TRAIN_FOLDER), "val": (VAL_ARCHIVE, VAL_FOLDER)}
META_MEMBER = "ILSVRC2012_devkit_t12/data/meta.mat"
GROUND_TRUTH_MEMBER = "ILSVRC2012_devkit_t12/data/ILSVRC2012_validation_ground_truth.txt"
SPLITS = ("train", "val")
DEFAULT_SPLIT = "val"
DEFAULT_IMAGE_SIZE = 64
OPTIONS = ("image_size", "per_class", "workers")
#: Where the files are downloaded by hand (after logging in).
DOWNLOAD_PAGE = "https://image-net.org/challenges/LSVRC/2012/2012-downloads.php"
MANUAL_NOTE = ("the page needs an image-net.org login and no sha256 is published, so there "
               "is no automatic download; the file is used unverified")
FOLDER_NOTE = ("the folder the official archive is extracted to ({layout}); it is used "
               "unverified")
#: Fields of the devkit's ``synsets`` struct array that are read.
META_FIELDS = ("ILSVRC2012_ID", "WNID", "words", "num_children")

_WNID = re.compile(r"n\d{8}")
_TRAIN_MEMBER = re.compile(r"(n\d{8})\.tar")
_VAL_NAME = re.compile(r"ILSVRC2012_val_(\d{8})\.JPEG")
#: Errors of the tarfile module (and of the file and decompressor under it).
TAR_ERRORS = (tarfile.TarError, EOFError, OSError, zlib.error)
#: Images read from a compressed (streamed) archive before they are decoded together.
STREAM_CHUNK = 1024


# ------------------------------------------------------------------ shared helpers
def check_per_class(per_class: object) -> int:
    """``per_class`` as an int >= 0 (0 = every image), else DatasetError."""
    if isinstance(per_class, bool) or not isinstance(per_class, (int, np.integer)) \
            or int(per_class) < 0:
        raise DatasetError("per_class must be an integer >= 0 (the number of images kept "
                           f"per class; 0 keeps all), got {per_class!r}.")
    return int(per_class)


def check_split(split: object, splits: Sequence[str], dataset: str) -> str:
    """``split`` if it is one of ``splits``, else DatasetError listing them."""
    if split not in splits:
        raise DatasetError(f"Unknown split {split!r} for {dataset}; choose one of "
                           f"{', '.join(splits)}.")
    return str(split)


def first_per_class(labels: np.ndarray, per_class: int,
                    keys: Sequence[str] | None = None) -> np.ndarray:
    """Ascending indices of the first ``per_class`` items of each label, "first" in the
    order of ``keys`` (strings; default: the items' own order); all indices if 0."""
    labels = np.asarray(labels)
    n = len(labels)
    if per_class == 0:
        return np.arange(n)
    if keys is None:
        by_key = np.arange(n)
    else:  # (an object array: no fixed-width copy of millions of paths)
        key_array = np.empty(n, dtype=object)
        key_array[:] = list(keys)
        by_key = np.argsort(key_array, kind="stable")
    order = by_key[np.argsort(labels[by_key], kind="stable")]  # by label, then by key
    ordered = labels[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]]) if n else np.zeros(0, int)
    rank = np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n]))
    return np.sort(order[rank < per_class])


def tar_members(tar: tarfile.TarFile, where: object) -> Iterator[tarfile.TarInfo]:
    """The members of an open tar archive, in order, each checked for safety.

    The TarFile's own member list is emptied as it goes, so memory does not grow with the
    number of members (millions for the image archives). Raises UnsafeArchiveError for an
    unsafe member, DatasetError for a sparse one (its bytes are not stored contiguously).
    """
    while True:
        info = tar.next()
        if info is None:
            return
        tar.members.clear()
        problem = member_problem(info)
        if problem:
            raise UnsafeArchiveError(f"Refusing archive {where}: member {info.name!r} is "
                                     f"unsafe ({problem}).")
        if info.issparse():
            raise DatasetError(f"{where}: member {info.name!r} is a sparse file, which is "
                               "not supported; is it the official file?")
        yield info


def member_name(info: tarfile.TarInfo) -> str:
    """A member's name as compared with the expected ones (``./x`` -> ``x``)."""
    return posixpath.normpath(info.name)


def open_plain_tar(archive: Path) -> tarfile.TarFile | None:
    """``archive`` opened for random access if it is an uncompressed tar, else None."""
    try:
        return tarfile.open(archive, mode="r:")
    except tarfile.ReadError:
        return None
    except TAR_ERRORS as error:
        raise DatasetError(f"Cannot read archive {archive}: {error}") from error


def index_tar(archive: Path, wanted: Collection[str] | None = None
              ) -> dict[str, tuple[int, int]] | None:
    """name -> (data offset, size) of the regular members of an uncompressed tar (only those
    in ``wanted`` if given), from its headers only; None if the file is not a plain tar."""
    tar = open_plain_tar(archive)
    if tar is None:
        return None
    entries: dict[str, tuple[int, int]] = {}
    try:
        with tar:
            for info in tar_members(tar, archive):
                if info.isfile():
                    name = member_name(info)
                    if wanted is None or name in wanted:
                        entries[name] = (info.offset_data, info.size)
    except TAR_ERRORS as error:
        raise DatasetError(f"Cannot read archive {archive}: {error}") from error
    return entries


def require_members(archive: Path, names: Sequence[str], present: Collection[str]) -> None:
    """DatasetError naming the members of ``names`` (up to 10) absent from ``present``."""
    missing = [name for name in names if name not in present]
    if missing:
        shown = ", ".join(repr(m) for m in missing[:10])
        more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        raise DatasetError(f"Archive {archive} lacks {len(missing)} of the {len(names)} "
                           f"images needed: {shown}{more}; is it the official file, and "
                           "does it match the list file?")


class OffsetReader:
    """``read(name)``: the bytes of a member of an uncompressed tar, by its (offset, size),
    from one open file handle (the members' bytes are stored contiguously)."""

    def __init__(self, handle: IO[bytes], entries: Mapping[str, tuple[int, int]],
                 where: object):
        self.handle, self.entries, self.where = handle, entries, where

    def __call__(self, name: str) -> bytes:
        offset, size = self.entries[name]
        try:
            self.handle.seek(offset)
            data = self.handle.read(size)
        except OSError as error:
            raise DatasetError(f"Cannot read member {name!r} of {self.where}: "
                               f"{error}") from error
        if len(data) != size:
            raise DatasetError(f"{self.where}: member {name!r} is truncated ({len(data)} of "
                               f"{size} bytes); is the file complete?")
        return data


def decode_indexed(archive: Path, names: Sequence[str],
                   entries: Mapping[str, tuple[int, int]], size: int, *, desc: str,
                   workers: int | None = None) -> np.ndarray:
    """uint8 (len(names), size, size, 3): the members ``names`` of an uncompressed tar,
    located by ``entries`` (absolute offsets), read once each and decoded in order."""
    try:
        handle = open(archive, "rb")
    except OSError as error:
        raise DatasetError(f"Cannot read archive {archive}: {error}") from error
    with handle:
        return decode_images(names, OffsetReader(handle, entries, archive), size, desc=desc,
                             where=f"{archive}:", workers=workers)


def decode_streamed(archive: Path, names: Sequence[str], size: int, *, desc: str,
                    workers: int | None = None) -> np.ndarray:
    """uint8 (len(names), size, size, 3): the members ``names`` of a (compressed) tar read in
    one pass, front to back; each chunk of images read is decoded in the background while
    the next one is read. Stops as soon as every image is read."""
    rows = {name: row for row, name in enumerate(names)}
    out = np.empty((len(names), size, size, 3), dtype=np.uint8)
    found: set[str] = set()

    def decode(chunk: list[tuple[str, bytes]]) -> int:
        data = dict(chunk)
        chunk_names = [name for name, _ in chunk]
        out[[rows[name] for name in chunk_names]] = decode_images(
            chunk_names, data.__getitem__, size, where=f"{archive}:", workers=workers)
        return len(chunk)

    with ThreadPoolExecutor(max_workers=1) as background, tqdm(
        total=len(names), desc=desc, unit="img", mininterval=1.0, leave=False,
        disable=len(names) < PROGRESS_MIN,
    ) as bar:
        pending: Future | None = None
        chunk: list[tuple[str, bytes]] = []
        try:
            with tarfile.open(archive, mode="r|*") as tar:
                for info in tar_members(tar, archive):
                    name = member_name(info)
                    if not info.isfile() or name not in rows or name in found:
                        continue
                    chunk.append((name, tar.extractfile(info).read()))
                    found.add(name)
                    if len(chunk) == STREAM_CHUNK:
                        if pending is not None:
                            bar.update(pending.result())
                        pending, chunk = background.submit(decode, chunk), []
                    if len(found) == len(rows):
                        break
        except TAR_ERRORS as error:
            raise DatasetError(f"Cannot read archive {archive}: {error}") from error
        if pending is not None:
            bar.update(pending.result())
        require_members(archive, names, found)
        if chunk:
            bar.update(decode(chunk))
    return out


def read_tar_images(archive: Path, names: Sequence[str], size: int, *, desc: str,
                    workers: int | None = None) -> np.ndarray:
    """uint8 (len(names), size, size, 3): the members ``names`` (distinct) of a tar archive,
    decoded in the order given; each is read once, nothing is extracted. An uncompressed
    tar is read in place (headers scanned, then only these members read); a compressed one
    is streamed once (:func:`decode_streamed`). DatasetError names missing members."""
    entries = index_tar(archive, set(names))
    if entries is None:
        return decode_streamed(archive, names, size, desc=desc, workers=workers)
    require_members(archive, names, entries)
    return decode_indexed(archive, names, entries, size, desc=desc, workers=workers)


def text_lines(raw: bytes, where: str) -> list[str]:
    """The lines of a text file (UTF-8, BOM and trailing blank lines dropped)."""
    try:
        lines = raw.decode("utf-8-sig").splitlines()
    except UnicodeDecodeError as error:
        raise DatasetError(f"{where} is not a text file: {error}") from error
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise DatasetError(f"{where} is empty.")
    return lines


def resolve_files(spec: DatasetSpec) -> list[FileRecord]:
    """The files of the first complete source of ``spec`` (never downloaded), hashed;
    DatasetError naming every missing file, where it was looked for and where to get it."""
    from repro.data.dataset import resolve

    return resolve(spec, allow_download=False)


def no_loader(paths: Mapping[str, Path], split: str | None = None, **options):
    """The loader of a DatasetSpec only used to find files (it loads nothing)."""
    raise DatasetError("This file set is only looked up, not loaded.")


def find_file(name: str, file: FileSpec) -> Path:
    """The local path of one file (never downloaded), as :func:`resolve_files` finds it."""
    from repro.data.registry import DatasetSpec

    return resolve_files(DatasetSpec(name, file.filename, ((file,),), no_loader))[0].path


def load_spec(spec: DatasetSpec, split: str, image_size: int, per_class: int,
              workers: int | None) -> Dataset:
    """``spec``'s files found (never downloaded) and hashed, loaded as a Dataset of ``split``."""
    from repro.data.dataset import Dataset

    size, per_class = check_size(image_size), check_per_class(per_class)
    records = resolve_files(spec)
    x, y = spec.loader({r.filename: r.path for r in records}, split, image_size=size,
                       per_class=per_class, workers=workers)
    return Dataset(spec.name, x, y, {r.filename: r.sha256 for r in records}, split)


# ------------------------------------------------------------------ the devkit
class Synset(NamedTuple):
    """One class (a low-level synset of the devkit)."""

    ilsvrc2012_id: int  #: the devkit's ILSVRC2012_ID (1..1000), used by the ground truth
    wnid: str           #: WordNet ID, e.g. ``n01440764``
    words: str          #: e.g. ``tench, Tinca tinca``


class Devkit(NamedTuple):
    """What the loader needs from the devkit."""

    synsets: tuple[Synset, ...]  #: the classes; class index = position (WNIDs sorted)
    val_labels: np.ndarray       #: int64 (n_val,): class index of validation image i + 1


def _scalar(value: object, where: str, number: int, field: str) -> object:
    array = np.asarray(value)
    if array.size != 1:
        raise DatasetError(f"{where}: synset number {number} has {array.size} values in field "
                           f"{field!r}, expected one; is it the devkit's meta.mat?")
    return array.reshape(()).item()


def _integer(value: object, where: str, number: int, field: str) -> int:
    item = _scalar(value, where, number, field)
    if isinstance(item, bool) or not isinstance(item, (int, float)) or item != int(item):
        raise DatasetError(f"{where}: synset number {number} has {field} = {item!r}, "
                           "expected an integer; is it the devkit's meta.mat?")
    return int(item)


def _text(value: object, where: str, number: int, field: str) -> str:
    array = np.asarray(value)
    if array.size == 0 and array.dtype.kind in "USO":
        return ""
    item = _scalar(value, where, number, field)
    if not isinstance(item, str):
        raise DatasetError(f"{where}: synset number {number} has {field} = {item!r}, "
                           "expected text; is it the devkit's meta.mat?")
    return item


def parse_meta(raw: bytes, where: str) -> tuple[Synset, ...]:
    """The classes (leaf synsets, ``num_children == 0``) of a devkit ``meta.mat``, sorted by
    WNID; DatasetError naming ``where`` for a file without the expected content."""
    from scipy.io import loadmat
    from scipy.io.matlab import MatReadError

    try:
        mat = loadmat(io.BytesIO(raw), squeeze_me=True)
    except (MatReadError, ValueError, TypeError, NotImplementedError, OSError, EOFError,
            IndexError, KeyError) as error:
        raise DatasetError(f"{where} is not a MATLAB file that can be read: {error}") from error
    synsets = mat.get("synsets")
    if not isinstance(synsets, np.ndarray) or synsets.dtype.names is None:
        variables = sorted(k for k in mat if not k.startswith("__"))
        raise DatasetError(f"{where} has no struct array 'synsets' (its variables: "
                           f"{variables}); is it the devkit's meta.mat?")
    missing = [f for f in META_FIELDS if f not in synsets.dtype.names]
    if missing:
        raise DatasetError(f"{where}: the 'synsets' struct array lacks the field(s) "
                           f"{', '.join(missing)} (it has {', '.join(synsets.dtype.names)}); "
                           "is it the devkit's meta.mat?")
    leaves, ids, wnids = [], set(), set()
    for number, record in enumerate(np.atleast_1d(synsets).ravel(), start=1):
        ilsvrc_id = _integer(record["ILSVRC2012_ID"], where, number, "ILSVRC2012_ID")
        wnid = _text(record["WNID"], where, number, "WNID")
        if not _WNID.fullmatch(wnid):
            raise DatasetError(f"{where}: synset number {number} has WNID {wnid!r}, not a "
                               "WordNet ID of the form n<8 digits>.")
        if ilsvrc_id in ids or wnid in wnids:
            raise DatasetError(f"{where}: synset number {number} repeats the ILSVRC2012_ID "
                               f"{ilsvrc_id} or the WNID {wnid} of an earlier synset.")
        ids.add(ilsvrc_id)
        wnids.add(wnid)
        if _integer(record["num_children"], where, number, "num_children") == 0:
            words = _text(record["words"], where, number, "words")
            leaves.append(Synset(ilsvrc_id, wnid, words))
    if not leaves:
        raise DatasetError(f"{where} holds no low-level synset (num_children == 0).")
    return tuple(sorted(leaves, key=lambda s: s.wnid))


def parse_ground_truth(raw: bytes, where: str, synsets: Sequence[Synset]) -> np.ndarray:
    """int64 class indices of the validation images (line i -> image i) from the devkit's
    ``ILSVRC2012_validation_ground_truth.txt`` (one ILSVRC2012_ID per line)."""
    lines = text_lines(raw, where)
    values = np.array([line.strip() for line in lines])
    bad = np.flatnonzero(~np.char.isdigit(values) | (np.char.str_len(values) > 9))
    if bad.size:
        raise DatasetError(f"{where}, line {bad[0] + 1}: {lines[bad[0]]!r} is not an "
                           "ILSVRC2012_ID (a positive integer).")
    ids = values.astype(np.int64)
    leaf_ids = np.array([s.ilsvrc2012_id for s in synsets], dtype=np.int64)
    by_id = np.argsort(leaf_ids)
    where_in = np.minimum(np.searchsorted(leaf_ids[by_id], ids), len(leaf_ids) - 1)
    labels = by_id[where_in].astype(np.int64)
    bad = np.flatnonzero(leaf_ids[labels] != ids)
    if bad.size:
        raise DatasetError(f"{where}, line {bad[0] + 1}: ILSVRC2012_ID {ids[bad[0]]} is not "
                           f"one of the {len(synsets)} low-level synsets of meta.mat.")
    return labels


def read_synsets(devkit: Path) -> tuple[Synset, ...]:
    """The classes of the devkit archive, in class-index order (WNIDs sorted)."""
    member = read_members(devkit, [META_MEMBER])[META_MEMBER]
    return parse_meta(member, f"{devkit}:{META_MEMBER}")


def read_devkit(devkit: Path) -> Devkit:
    """The classes and the validation labels of ``ILSVRC2012_devkit_t12.tar.gz``."""
    members = read_members(devkit, [META_MEMBER, GROUND_TRUTH_MEMBER])
    synsets = parse_meta(members[META_MEMBER], f"{devkit}:{META_MEMBER}")
    labels = parse_ground_truth(members[GROUND_TRUTH_MEMBER],
                                f"{devkit}:{GROUND_TRUTH_MEMBER}", synsets)
    return Devkit(synsets, labels)


# ------------------------------------------------------------------ validation images
def val_name(number: int) -> str:
    """File name of validation image ``number`` (1-based)."""
    return f"ILSVRC2012_val_{number:08d}.JPEG"


def check_val_names(names: Collection[str], where: object, n_images: int) -> None:
    """DatasetError unless ``names`` are exactly the file names of images 1..n_images."""
    numbers = []
    for name in names:
        match = _VAL_NAME.fullmatch(name)
        if match is None:
            raise DatasetError(f"{where} holds {name!r}, which is not a validation image "
                               "ILSVRC2012_val_<8 digits>.JPEG; is it the official file?")
        numbers.append(int(match.group(1)))
    if len(numbers) != n_images:
        raise DatasetError(f"{where} holds {len(numbers)} validation images but the devkit's "
                           f"ground truth lists {n_images}; the two files must come from "
                           "the same (complete) ILSVRC2012 release.")
    outside = sorted(set(range(1, n_images + 1)) - set(numbers))
    if outside:
        raise DatasetError(f"{where} lacks validation image(s) "
                           f"{', '.join(val_name(i) for i in outside[:5])} (it holds "
                           f"{n_images} images, but not numbered 1..{n_images}).")


def _folder_files(folder: Path, what: str) -> tuple[list[str], list[str]]:
    """(file names, folder names) directly in ``folder``, sorted."""
    try:
        with os.scandir(folder) as entries:
            items = [(entry.name, entry.is_dir()) for entry in entries]
    except OSError as error:
        raise DatasetError(f"Cannot list the {what} folder {folder}: {error}") from error
    return (sorted(n for n, is_dir in items if not is_dir),
            sorted(n for n, is_dir in items if is_dir))


def _decode(images: Path, names: Sequence[str], entries: Mapping[str, tuple[int, int]] | None,
            size: int, *, desc: str, workers: int | None) -> np.ndarray:
    """The images ``names`` of an extracted folder (``entries`` None) or of the uncompressed
    tar ``images`` indexed by ``entries``."""
    if entries is not None:
        return decode_indexed(images, names, entries, size, desc=desc, workers=workers)

    def read(relative: str) -> bytes:
        try:
            return (images / relative).read_bytes()
        except OSError as error:
            raise DatasetError(f"Cannot read image {images / relative}: {error}") from error
    return decode_images(names, read, size, desc=desc, where=f"{images}/", workers=workers)


def read_val(images: Path, devkit: Devkit | Path, *, image_size: int = DEFAULT_IMAGE_SIZE,
             per_class: int = 0, workers: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(x uint8 (n, s, s, 3), y int64 (n,)) of the validation images, in file-name order.

    ``images`` is ``ILSVRC2012_img_val.tar`` or the folder of its extracted (flat) images;
    ``devkit`` the devkit archive (or its :class:`Devkit`, already read).
    """
    size, per_class = check_size(image_size), check_per_class(per_class)
    kit = devkit if isinstance(devkit, Devkit) else read_devkit(Path(devkit))
    images = Path(images)
    n_images = len(kit.val_labels)
    if images.is_dir():
        names, folders = _folder_files(images, "validation")
        if folders:
            raise DatasetError(f"{images} holds folders ({', '.join(folders[:5])}); the flat "
                               "layout of the extracted official archive (only "
                               "ILSVRC2012_val_<8 digits>.JPEG files) is expected.")
        check_val_names(names, images, n_images)
        entries = None
    else:
        entries = index_tar(images)
        if entries is None:
            raise DatasetError(f"{images} is not an uncompressed tar archive (the official "
                               f"{VAL_ARCHIVE} is one); is it the official file?")
        check_val_names(entries, images, n_images)
    rows = first_per_class(kit.val_labels, per_class)
    names = [val_name(int(i) + 1) for i in rows]
    x = _decode(images, names, entries, size, desc="ILSVRC2012 val images", workers=workers)
    return x, kit.val_labels[rows]


# ------------------------------------------------------------------ training images
def _missing_classes(where: object, synsets: Sequence[Synset], present: Collection[str],
                     what: str) -> None:
    missing = [s.wnid for s in synsets if s.wnid not in present]
    if missing:
        shown = ", ".join(w + what for w in missing[:10])
        more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        raise DatasetError(f"{where} lacks the images of {len(missing)} of the "
                           f"{len(synsets)} classes: {shown}{more}; is it the complete "
                           "official file?")


def _unknown_class(where: object, entry: str, wnid: str, n_classes: int) -> DatasetError:
    return DatasetError(f"{where} holds {entry!r}, the images of synset {wnid}, which is not "
                        f"one of the {n_classes} classes (low-level synsets) of the devkit's "
                        "meta.mat; do the two files come from the same release?")


def index_train_tar(archive: Path, synsets: Sequence[Synset], per_class: int = 0
                    ) -> tuple[dict[str, list[str]], dict[str, tuple[int, int]]]:
    """(wnid -> its selected images' names ``<wnid>.tar/<file>``, sorted by file name;
    name -> (absolute offset, size) in ``archive``) for ``ILSVRC2012_img_train.tar``, from
    the headers of the outer tar and of the 1000 per-class tars only (``per_class > 0``:
    the first ``per_class`` file names of each class)."""
    wnids = {s.wnid for s in synsets}
    outer = open_plain_tar(archive)
    if outer is None:
        raise DatasetError(f"{archive} is not an uncompressed tar archive (the official "
                           f"{TRAIN_ARCHIVE} is one); is it the official file?")
    classes: dict[str, list[str]] = {}
    entries: dict[str, tuple[int, int]] = {}
    try:
        with outer:
            for info in tar_members(outer, archive):
                if info.isdir():
                    continue
                name = member_name(info)
                match = _TRAIN_MEMBER.fullmatch(name)
                if match is None or not info.isfile():
                    raise DatasetError(f"{archive} holds {name!r}, which is not a per-class "
                                       "archive <wnid>.tar; is it the official file?")
                wnid = match.group(1)
                if wnid not in wnids:
                    raise _unknown_class(archive, name, wnid, len(wnids))
                if wnid in classes:
                    raise DatasetError(f"{archive} holds {name!r} twice.")
                where = f"{archive}:{name}"
                try:
                    inner = tarfile.open(fileobj=outer.extractfile(info), mode="r:")
                except tarfile.ReadError as error:
                    raise DatasetError(f"{where} is not an uncompressed tar archive "
                                       f"({error}); is it the official file?") from error
                with inner:
                    items = sorted((member_name(i), i.offset_data, i.size)
                                   for i in tar_members(inner, where) if i.isfile())
                if per_class:
                    items = items[:per_class]
                classes[wnid] = [f"{name}/{file}" for file, _, _ in items]
                entries.update((f"{name}/{file}", (info.offset_data + offset, length))
                               for file, offset, length in items)
    except TAR_ERRORS as error:
        raise DatasetError(f"Cannot read archive {archive}: {error}") from error
    _missing_classes(archive, synsets, classes, ".tar")
    return classes, entries


def index_train_folder(folder: Path, synsets: Sequence[Synset], per_class: int = 0
                       ) -> dict[str, list[str]]:
    """wnid -> its selected images' names ``<wnid>/<file>`` (sorted by file name) in the
    extracted layout ``ILSVRC2012_img_train/<wnid>/<file>``."""
    wnids = {s.wnid for s in synsets}
    files_here, folders = _folder_files(folder, "training")
    for name in folders:
        if name not in wnids:
            raise _unknown_class(folder, name + "/", name, len(wnids))
    tars = [name for name in files_here if _TRAIN_MEMBER.fullmatch(name)]
    if tars and not folders:
        raise DatasetError(f"{folder} holds the per-class archives ({tars[0]}, ...) rather "
                           "than one folder of images per class: extract each <wnid>.tar "
                           f"into <wnid>/, or use the official {TRAIN_ARCHIVE} itself.")
    _missing_classes(folder, synsets, folders, "/")
    classes = {}
    for wnid in folders:
        images, _ = _folder_files(folder / wnid, "training")
        classes[wnid] = [f"{wnid}/{file}" for file in (images[:per_class] if per_class
                                                       else images)]
    return classes


def read_train(images: Path, devkit: Devkit | Path | Sequence[Synset], *,
               image_size: int = DEFAULT_IMAGE_SIZE, per_class: int = 0,
               workers: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(x uint8 (n, s, s, 3), y int64 (n,)) of the training images, by class then file name.

    ``images`` is ``ILSVRC2012_img_train.tar`` or the folder ``<wnid>/<file>`` of its
    extracted images; ``devkit`` the devkit archive, its :class:`Devkit` or its synsets.
    """
    size, per_class = check_size(image_size), check_per_class(per_class)
    if isinstance(devkit, Devkit):
        synsets = devkit.synsets
    elif isinstance(devkit, (str, os.PathLike)):
        synsets = read_synsets(Path(devkit))
    else:
        synsets = tuple(devkit)
    images = Path(images)
    if images.is_dir():
        classes, entries = index_train_folder(images, synsets, per_class), None
    else:
        classes, entries = index_train_tar(images, synsets, per_class)
    names = [name for s in synsets for name in classes[s.wnid]]
    y = np.repeat(np.arange(len(synsets), dtype=np.int64),
                  [len(classes[s.wnid]) for s in synsets])
    return _decode(images, names, entries, size, desc="ILSVRC2012 train images",
                   workers=workers), y


# ------------------------------------------------------------------ files and loading
@cache
def file_specs() -> dict[str, FileSpec]:
    """The files (and accepted folders) of the official distribution, by name: no sha256 is
    published (``sha256=None``), so none is downloaded automatically."""
    from repro.data.registry import FileSpec

    def archive(name: str) -> FileSpec:
        return FileSpec(name, SUBFOLDER, None, manual_page=DOWNLOAD_PAGE,
                        manual_note=MANUAL_NOTE)

    def folder(name: str, layout: str) -> FileSpec:
        return FileSpec(name, SUBFOLDER, None, manual_page=DOWNLOAD_PAGE,
                        manual_note=FOLDER_NOTE.format(layout=layout), folder=True)

    return {
        DEVKIT: archive(DEVKIT),
        VAL_ARCHIVE: archive(VAL_ARCHIVE),
        TRAIN_ARCHIVE: archive(TRAIN_ARCHIVE),
        VAL_FOLDER: folder(VAL_FOLDER, "flat ILSVRC2012_val_<8 digits>.JPEG files"),
        TRAIN_FOLDER: folder(TRAIN_FOLDER, "one folder <wnid>/ of images per class"),
    }


@cache
def dataset_spec(split: str = DEFAULT_SPLIT) -> DatasetSpec:
    """``imagenet-<split>``: the devkit and the split's image archive (or, as a second
    alternative, its extracted folder); the registry's DatasetSpec, not registered."""
    from repro.data.registry import DatasetSpec

    split = check_split(split, SPLITS, "ILSVRC2012")
    specs = file_specs()
    archive, folder = SPLIT_IMAGES[split]
    count = "1,281,167" if split == "train" else "50,000"
    read = read_train if split == "train" else read_val

    def loader(paths: Mapping[str, Path], _split: str | None = None, **options):
        """(x, y) from the files found (``paths``: file name -> local path), the image
        archive if present, else its extracted folder."""
        return read(paths[archive] if archive in paths else paths[folder], paths[DEVKIT],
                    **options)
    return DatasetSpec(
        f"imagenet-{split}",
        f"ILSVRC2012 {split} images ({count}), 1000 classes (sorted WNIDs); uint8 images "
        "image_size^2 x 3 (default 64), per_class keeps the first images of each class",
        ((specs[DEVKIT], specs[archive]), (specs[DEVKIT], specs[folder])),
        loader, options=OPTIONS)


def synsets(devkit: Path | None = None) -> tuple[Synset, ...]:
    """The 1000 classes (ILSVRC2012_ID, WNID, words) in class-index order; reads only the
    devkit (found along the usual lookup path when not given)."""
    if devkit is None:
        devkit = find_file("imagenet", file_specs()[DEVKIT])
    return read_synsets(Path(devkit))


def wnids(devkit: Path | None = None) -> tuple[str, ...]:
    """The WNIDs of the classes, class index = position (they are sorted)."""
    return tuple(s.wnid for s in synsets(devkit))


def class_names(devkit: Path | None = None) -> tuple[str, ...]:
    """The ``words`` of the classes (e.g. ``tench, Tinca tinca``), by class index."""
    return tuple(s.words for s in synsets(devkit))


def load(split: str = DEFAULT_SPLIT, image_size: int = DEFAULT_IMAGE_SIZE, per_class: int = 0,
         workers: int | None = None) -> Dataset:
    """ILSVRC2012 ``split`` ("val" or "train") as a Dataset: x uint8 (n, s, s, 3), y int64.

    Files are looked up in ``data/raw/imagenet/`` then in the mirrors of
    ``REPRO_DATA_MIRRORS`` (never downloaded); ``Dataset.files`` records the sha256 computed
    for each file used (the listing digest for a folder). ``per_class > 0`` keeps the first
    ``per_class`` images of each class in file-name order; ``workers`` decoding threads.
    """
    split = check_split(split, SPLITS, "ILSVRC2012")
    return load_spec(dataset_spec(split), split, image_size, per_class, workers)
