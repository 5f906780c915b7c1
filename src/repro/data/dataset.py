"""Public entry points: ``load``, ``fetch``, ``verify`` and the ``Dataset`` they return.

A dataset is loaded only from files whose sha256 was verified first (see
:mod:`repro.data.files` for the lookup order: ``data/raw``, then the mirrors named by
``REPRO_DATA_MIRRORS``, then the official download unless ``REPRO_OFFLINE`` is set).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from http.client import HTTPException
from pathlib import Path

import numpy as np

from repro.data import files
from repro.data.download import copy_verified, download
from repro.data.errors import ChecksumError, DatasetError
from repro.data.messages import missing_files_message
from repro.data.registry import DatasetSpec, FileSpec, get_spec


@dataclass(frozen=True, eq=False)
class Dataset:
    """Images ``x`` and labels ``y``: float32 (n, height, width, channels) in [0, 1] and int64
    (n,) for the digit and CIFAR / STL sets; uint8 (n, s, s, 3) in 0..255 and multi-hot uint8
    (n, n_concepts) for the multi-label sets ``nus-wide`` and ``mirflickr-25k``.

    ``files`` maps each file name used to the sha256 verified before loading; for a file
    without a published checksum, to the sha256 computed (not compared), and for a folder
    (NUS-WIDE's images), to the sha256 of its listing (:func:`repro.data.files.folder_digest`).
    ``n_train``: a set stored train then test (``mnist-full``, ``usps``) has its first
    ``n_train`` images as its official training split (:attr:`train`, :attr:`test`).

    The one normalisation rule: :meth:`scaled` gives float32 images in [0, 1] for every set.
    """

    name: str
    x: np.ndarray
    y: np.ndarray
    files: dict[str, str]
    split: str | None = field(default=None)
    n_train: int | None = field(default=None)

    @property
    def n_classes(self) -> int:
        """Number of distinct labels present in ``y`` (multi-hot ``y``: its number of columns)."""
        if self.y.ndim == 2:
            return int(self.y.shape[1])
        return int(np.unique(self.y).size)

    @property
    def image_shape(self) -> tuple[int, ...]:
        """(height, width, channels) of one image."""
        return tuple(int(d) for d in self.x.shape[1:])

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def scaled(self) -> Dataset:
        """The dataset with float32 images in [0, 1]: uint8 pixels divided by 255, float32
        images (already in [0, 1]) as they are."""
        if self.x.dtype == np.float32:
            return self
        if self.x.dtype != np.uint8:
            raise DatasetError(f"{self.name}: scaled() reads uint8 or float32 images, got "
                               f"{self.x.dtype}")
        return replace(self, x=self.x.astype(np.float32) / 255.0)

    def head(self, n: int) -> Dataset:
        """The first ``n`` images (the training split cut at ``n``)."""
        n_train = None if self.n_train is None else min(self.n_train, n)
        return replace(self, x=self.x[:n], y=self.y[:n], n_train=n_train)

    @property
    def train(self) -> np.ndarray:
        """Indices of the training split (the first ``n_train`` images)."""
        return np.arange(self._n_train())

    @property
    def test(self) -> np.ndarray:
        """Indices of the test split (the images after the first ``n_train``)."""
        return np.arange(self._n_train(), len(self))

    def _n_train(self) -> int:
        if self.n_train is None:
            raise DatasetError(f"{self.name} has no train / test split (n_train is None)")
        return self.n_train


def train_then_test(name: str, train: Dataset, test: Dataset) -> Dataset:
    """One dataset of ``train``'s images then ``test``'s (``n_train`` = ``len(train)``), with
    the files of both."""
    return Dataset(name, np.concatenate([train.x, test.x]), np.concatenate([train.y, test.y]),
                   {**train.files, **test.files}, n_train=len(train))


@dataclass(frozen=True)
class FileRecord:
    """One verified file: how it was obtained (``found``, ``present``, ``copied``,
    ``downloaded``, ``in-place`` for a folder used where it was found), where it is and its
    sha256 (see :class:`Dataset` for files without a checksum and folders)."""

    status: str
    path: Path
    sha256: str
    file: FileSpec

    @property
    def filename(self) -> str:
        return self.file.filename


def _find_verified(spec: FileSpec, dataset: str) -> FileRecord | None:
    """The first file found along the lookup path, verified (ChecksumError if bad)."""
    path = files.locate(spec.subfolder, spec.filename, spec.folder)
    if path is None:
        return None
    if spec.folder:
        return FileRecord("found", path, files.folder_digest(path), spec)
    return FileRecord("found", path, files.verify_file(path, spec.sha256, dataset), spec)


Failures = list[tuple[str, Exception]]


def _download(spec: FileSpec, dataset: str, failures: Failures) -> FileRecord | None:
    """Download ``spec`` into ``data/raw`` from its URLs in order; record (url, error)."""
    dest = files.raw_path(spec.subfolder, spec.filename)
    for url in spec.urls:
        try:
            return FileRecord("downloaded", dest, download(url, dest, spec.sha256, dataset),
                              spec)
        except (ChecksumError, OSError, ValueError, HTTPException) as error:  # URLError: OSError
            failures.append((url, error))
    return None


def _download_source(spec: DatasetSpec, failures: Failures) -> list[FileRecord] | None:
    """Download the missing files of the first automatically downloadable source
    (stopping at the first file that no URL could provide)."""
    for source in spec.sources:
        if all(f.downloadable for f in source):
            records = []
            for f in source:
                record = _find_verified(f, spec.name) or _download(f, spec.name, failures)
                if record is None:
                    return None
                records.append(record)
            return records
    return None


def resolve(spec: DatasetSpec, allow_download: bool = True) -> list[FileRecord]:
    """Verified files of the first complete source of ``spec``.

    Raises ChecksumError for a file that is present but wrong, DatasetError (listing every
    missing file, its sha256, where to put it and its URL) when nothing complete is found.
    """
    for source in spec.sources:
        records = [_find_verified(f, spec.name) for f in source]
        if all(records):
            return records
    failures: Failures = []
    can_download = allow_download and not files.offline()
    if can_download:
        records = _download_source(spec, failures)
        if records:
            return records
    message = missing_files_message(spec, can_download, allow_download, failures)
    if any(isinstance(error, ChecksumError) for _, error in failures):
        raise ChecksumError(message)
    raise DatasetError(message)


def _check_split(spec: DatasetSpec, split: str | None) -> str | None:
    if not spec.splits:
        if split is not None:
            raise DatasetError(f"Dataset {spec.name!r} has no splits; call load without "
                               f"split (got split={split!r}).")
        return None
    split = spec.default_split if split is None else split
    if split not in spec.splits:
        raise DatasetError(f"Unknown split {split!r} for dataset {spec.name!r}; "
                           f"choose one of {', '.join(spec.splits)}.")
    return split


def _check_options(spec: DatasetSpec, options: dict) -> None:
    unknown = sorted(set(options) - set(spec.options))
    if unknown:
        accepted = (f"it accepts {', '.join(spec.options)}" if spec.options
                    else "it accepts none")
        raise DatasetError(f"Dataset {spec.name!r} takes no option {unknown[0]!r}; "
                           f"{accepted}.")


def load(name: str, *, split: str | None = None, **options) -> Dataset:
    """Load a registered dataset from checksum-verified files (downloading if allowed).

    ``split`` is only accepted by datasets that have splits (``cifar-10``, ``stl-10``:
    ``"train"``, ``"test"`` or ``"all"``, default ``"all"`` = train then test). ``options``
    are passed to the loader of datasets that declare them (``nus-wide``,
    ``mirflickr-25k``: ``image_size``, the side of the square images, default 64).
    """
    spec = get_spec(name)
    split = _check_split(spec, split)
    _check_options(spec, options)
    records = resolve(spec, allow_download=True)
    x, y = spec.loader({r.filename: r.path for r in records}, split, **options)
    return Dataset(name, x, y, {r.filename: r.sha256 for r in records}, split, spec.n_train)


def fetch_records(name: str) -> list[FileRecord]:
    """Make the dataset's files present and verified in ``data/raw``; one record per file."""
    spec = get_spec(name)
    records = []
    for record in resolve(spec, allow_download=True):
        dest = files.raw_path(record.file.subfolder, record.filename)
        if record.status == "downloaded":
            records.append(record)
        elif record.path.resolve() == dest.resolve():
            records.append(FileRecord("present", dest, record.sha256, record.file))
        elif record.file.folder:  # an image folder is not copied: it is used where it is
            records.append(FileRecord("in-place", record.path, record.sha256, record.file))
        else:  # (a file without a published checksum: copied against the sha256 computed)
            sha = copy_verified(record.path, dest, record.sha256, name)
            records.append(FileRecord("copied", dest, sha, record.file))
    return records


def fetch(name: str) -> list[Path]:
    """Make the dataset's files present in ``data/raw`` (copied from a mirror or
    downloaded), verified; return their paths."""
    return [record.path for record in fetch_records(name)]


def verify_records(name: str) -> list[FileRecord]:
    """Find and verify the files ``load(name)`` would use, without downloading."""
    return resolve(get_spec(name), allow_download=False)


def verify(name: str) -> dict[str, str]:
    """Find and checksum-verify the dataset's files; return file name -> sha256.

    Raises DatasetError if a file is missing, ChecksumError if one is wrong.
    """
    return {record.filename: record.sha256 for record in verify_records(name)}
