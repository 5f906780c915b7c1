"""Declarations of every dataset: its files, their sha256, official URLs and loader.

Where each checksum comes from (all sha256, every file is verified with sha256):
- MNIST (4 IDX files) and USPS ``usps.h5``: ``shared/data/README.md`` (the offline copies,
  byte-identical to the official MNIST files; their md5 equal the published ones).
- CIFAR-10 python archive: the ``file_hash`` published in Keras' ``keras.datasets.cifar10``.
- CIFAR-10 binary archive and STL-10 binary archive: TensorFlow Datasets'
  ``url_checksums/cifar10.txt`` and ``url_checksums/stl10.txt``.
The md5 values published by the dataset authors / torchvision are listed in ``data/README.md``
for cross-checking only; they are not used for verification.

A dataset has one or more *sources* (alternative sets of files, first one found wins):
CIFAR-10 accepts the official python archive or the official binary archive.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from repro.data import cifar10, mnist, stl10, usps
from repro.data.errors import UnknownDatasetError

#: ``loader(paths, split) -> (x, y)``; ``paths`` maps file name -> verified local path.
Loader = Callable[[Mapping[str, Path], "str | None"], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class FileSpec:
    """One file of a dataset.

    ``urls`` are tried in order for automatic download; ``manual_page`` is set instead for
    files that need a login (no automatic download). ``subfolder`` is the folder under
    ``data/raw`` (and under each mirror) where the file is expected.
    """

    filename: str
    subfolder: str
    sha256: str
    urls: tuple[str, ...] = ()
    manual_page: str | None = None

    @property
    def downloadable(self) -> bool:
        return bool(self.urls)


@dataclass(frozen=True)
class DatasetSpec:
    """A registered dataset: alternative file sets (``sources``) and the loader."""

    name: str
    description: str
    sources: tuple[tuple[FileSpec, ...], ...]
    loader: Loader
    splits: tuple[str, ...] = ()
    default_split: str | None = None

    @property
    def all_files(self) -> tuple[FileSpec, ...]:
        return tuple(f for source in self.sources for f in source)


MNIST_URL_BASES = (
    "http://yann.lecun.com/exdb/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
)
USPS_KAGGLE_PAGE = "https://www.kaggle.com/datasets/bistaumanga/usps-dataset"
CIFAR10_URL_BASE = "https://www.cs.toronto.edu/~kriz/"
STL10_URL = "http://ai.stanford.edu/~acoates/stl10/stl10_binary.tar.gz"


def _mnist(filename: str, sha256: str) -> FileSpec:
    urls = tuple(base + filename for base in MNIST_URL_BASES)
    return FileSpec(filename, "mnist", sha256, urls)


MNIST_TRAIN = (
    _mnist(mnist.TRAIN_IMAGES, "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
    _mnist(mnist.TRAIN_LABELS, "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
)
MNIST_TEST = (
    _mnist(mnist.TEST_IMAGES, "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
    _mnist(mnist.TEST_LABELS, "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
)
USPS_H5 = FileSpec(
    usps.FILENAME, "usps",
    "734f88c541104a956d88be2c95d03b4a463ffd74ccc2ba9c80841fb98e3fcb36",
    manual_page=USPS_KAGGLE_PAGE,
)
CIFAR10_PYTHON = FileSpec(
    cifar10.PYTHON_ARCHIVE, "cifar-10",
    "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
    (CIFAR10_URL_BASE + cifar10.PYTHON_ARCHIVE,),
)
CIFAR10_BINARY = FileSpec(
    cifar10.BINARY_ARCHIVE, "cifar-10",
    "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd",
    (CIFAR10_URL_BASE + cifar10.BINARY_ARCHIVE,),
)
STL10_BINARY = FileSpec(
    stl10.ARCHIVE, "stl-10",
    "f31fd99273a1acb8609c8db427cebb1de3f71de77758cdc0e22956e1289b9866",
    (STL10_URL,),
)
SPLITS = ("train", "test", "all")

DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec("mnist-full", "MNIST train + test, 70000 digits 28x28x1 (train first)",
                    (MNIST_TRAIN + MNIST_TEST,), mnist.load_full),
        DatasetSpec("mnist-test", "MNIST test set, 10000 digits 28x28x1",
                    (MNIST_TEST,), mnist.load_test),
        DatasetSpec("usps", "USPS, 9298 digits 16x16x1 (7291 train then 2007 test)",
                    ((USPS_H5,),), usps.load),
        DatasetSpec("cifar-10", "CIFAR-10, 50000 train + 10000 test colour images 32x32x3",
                    ((CIFAR10_PYTHON,), (CIFAR10_BINARY,)), cifar10.load,
                    SPLITS, "all"),
        DatasetSpec("stl-10", "STL-10 labelled images, 5000 train + 8000 test, 96x96x3",
                    ((STL10_BINARY,),), stl10.load, SPLITS, "all"),
    )
}


def get_spec(name: str) -> DatasetSpec:
    """The registered dataset ``name``; an unknown name raises an error listing the known."""
    try:
        return DATASETS[name]
    except KeyError:
        known = ", ".join(sorted(DATASETS))
        raise UnknownDatasetError(
            f"Unknown dataset {name!r}. Known datasets: {known}."
        ) from None
