"""Declarations of every dataset: its files, their sha256, official URLs and loader.

Where each checksum comes from (all sha256; every file that has one is verified with it):
- MNIST (4 IDX files) and USPS ``usps.h5``: ``shared/data/README.md`` (the offline copies,
  byte-identical to the official MNIST files; their md5 equal the published ones).
- CIFAR-10 python archive: the ``file_hash`` published in Keras' ``keras.datasets.cifar10``.
- CIFAR-10 binary archive and STL-10 binary archive: TensorFlow Datasets'
  ``url_checksums/cifar10.txt`` and ``url_checksums/stl10.txt``.
- NUS-WIDE (``Groundtruth.zip``, ``ImageList.zip``, the ``Flickr/`` image folder) and
  MIRFlickr-25k (``mirflickr25k.zip``, ``mirflickr25k_annotations_v080.zip``): no published
  sha256 was found, so none is declared (``sha256=None``): these files are used unverified,
  never downloaded automatically, and their computed sha256 is recorded (``Dataset.files``).
The md5 values published by the dataset authors / torchvision are listed in ``data/README.md``
for cross-checking only; they are not used for verification.

A dataset has one or more *sources* (alternative sets of files, first one found wins):
CIFAR-10 accepts the official python archive or the official binary archive.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from repro.data import cifar10, derived, mirflickr, mnist, nuswide, stl10, usps
from repro.data.errors import UnknownDatasetError

#: ``loader(paths, split, **options) -> (x, y)``; ``paths`` maps file name -> verified local
#: path; ``options`` are the keyword options the dataset declares (``DatasetSpec.options``).
Loader = Callable[..., tuple[np.ndarray, np.ndarray]]
LOGIN_NOTE = "the page needs a login, so there is no automatic download"
UNVERIFIED_NOTE = ("no sha256 is published, so the file is not downloaded automatically; "
                   "it is used unverified")


@dataclass(frozen=True)
class FileSpec:
    """One file of a dataset.

    ``urls`` are tried in order for automatic download; ``manual_page`` is set instead for
    files without one (``manual_note`` says why: a login, no published checksum, images
    given on request). ``subfolder`` is the folder under ``data/raw`` (and under each mirror)
    where the file is expected. ``sha256=None`` declares that no checksum is published: the
    file is used unverified and is never downloaded automatically. ``folder=True`` declares a
    folder (NUS-WIDE's images) instead of a file; it has no sha256.
    """

    filename: str
    subfolder: str
    sha256: str | None
    urls: tuple[str, ...] = ()
    manual_page: str | None = None
    manual_note: str = LOGIN_NOTE
    folder: bool = False

    def __post_init__(self) -> None:
        if self.sha256 is None and self.urls:
            raise ValueError(f"{self.filename}: a file without sha256 cannot be downloaded "
                             "automatically (its bytes could not be verified).")
        if self.folder and self.sha256 is not None:
            raise ValueError(f"{self.filename}: a folder has no sha256.")

    @property
    def downloadable(self) -> bool:
        return bool(self.urls)

    @property
    def verified(self) -> bool:
        """Whether the file is checked against a declared sha256."""
        return self.sha256 is not None


@dataclass(frozen=True)
class DatasetSpec:
    """A registered dataset: alternative file sets (``sources``) and the loader."""

    name: str
    description: str
    sources: tuple[tuple[FileSpec, ...], ...]
    loader: Loader
    splits: tuple[str, ...] = ()
    default_split: str | None = None
    options: tuple[str, ...] = ()  #: keyword options of ``load`` passed to the loader
    n_train: int | None = None  #: a set stored train then test: the size of its train split

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
NUSWIDE_BASE = "https://lms.comp.nus.edu.sg/wp-content/uploads/2019/research/nuswide/"
NUSWIDE_PAGE = NUSWIDE_BASE + "NUS-WIDE.html"
MIRFLICKR_BASE = "https://press.liacs.nl/mirflickr/mirflickr25k.v3b/"


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
NUSWIDE_GROUNDTRUTH = FileSpec(nuswide.GROUNDTRUTH, "nus-wide", None,
                               manual_page=NUSWIDE_BASE + nuswide.GROUNDTRUTH,
                               manual_note=UNVERIFIED_NOTE)
NUSWIDE_IMAGE_LIST = FileSpec(nuswide.IMAGE_LIST, "nus-wide", None,
                              manual_page=NUSWIDE_BASE + nuswide.IMAGE_LIST,
                              manual_note=UNVERIFIED_NOTE)
NUSWIDE_IMAGES = FileSpec(
    nuswide.IMAGE_FOLDER, "nus-wide", None, manual_page=NUSWIDE_PAGE, folder=True,
    manual_note="NUS distributes the images on request (see the page), as the folder "
                "Flickr/<folder>/<file>.jpg; it is used unverified")
MIRFLICKR_IMAGES = FileSpec(mirflickr.IMAGES_ARCHIVE, "mirflickr-25k", None,
                            manual_page=MIRFLICKR_BASE + mirflickr.IMAGES_ARCHIVE,
                            manual_note=UNVERIFIED_NOTE)
MIRFLICKR_ANNOTATIONS = FileSpec(mirflickr.ANNOTATIONS_ARCHIVE, "mirflickr-25k", None,
                                 manual_page=MIRFLICKR_BASE + mirflickr.ANNOTATIONS_ARCHIVE,
                                 manual_note=UNVERIFIED_NOTE)
SPLITS = ("train", "test", "all")
MNIST_TRAIN_SIZE = 60000  # mnist-full: the 60000 training digits, then the 10000 test digits
USPS_TRAIN_SIZE = 7291  # usps.h5: the 7291 training digits, then the 2007 test digits
IMAGE_OPTIONS = ("image_size",)

DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec("mnist-full", "MNIST train + test, 70000 digits 28x28x1 (train first)",
                    (MNIST_TRAIN + MNIST_TEST,), mnist.load_full,
                    n_train=MNIST_TRAIN_SIZE),
        DatasetSpec("mnist-test", "MNIST test set, 10000 digits 28x28x1",
                    (MNIST_TEST,), mnist.load_test),
        DatasetSpec("usps", "USPS, 9298 digits 16x16x1 (7291 train then 2007 test)",
                    ((USPS_H5,),), usps.load, n_train=USPS_TRAIN_SIZE),
        DatasetSpec("cifar-10", "CIFAR-10, 50000 train + 10000 test colour images 32x32x3",
                    ((CIFAR10_PYTHON,), (CIFAR10_BINARY,)), cifar10.load,
                    SPLITS, "all"),
        DatasetSpec("stl-10", "STL-10 labelled images, 5000 train + 8000 test, 96x96x3",
                    ((STL10_BINARY,),), stl10.load, SPLITS, "all"),
        DatasetSpec("nus-wide", "NUS-WIDE, images with one of the 21 most frequent "
                    "concepts, multi-hot (n, 21); uint8 images image_size^2 x 3 (default 64)",
                    ((NUSWIDE_GROUNDTRUTH, NUSWIDE_IMAGE_LIST, NUSWIDE_IMAGES),),
                    nuswide.load, options=IMAGE_OPTIONS),
        DatasetSpec("mirflickr-25k", "MIRFlickr-25k, images with one of the 24 concepts, "
                    "multi-hot (n, 24); uint8 images image_size^2 x 3 (default 64)",
                    ((MIRFLICKR_IMAGES, MIRFLICKR_ANNOTATIONS),), mirflickr.load,
                    options=IMAGE_OPTIONS),
        # derived sets (repro.data.derived): built from the verified files of MNIST / USPS
        DatasetSpec("mnist-pairs", "derived: MNIST-full as 35000 images of two half-size "
                    "digits, multi-hot (n, 10) (repro.data.derived.digit_pairs)",
                    (MNIST_TRAIN + MNIST_TEST,), derived.load_pairs),
        DatasetSpec("usps-28", "derived: USPS on MNIST's 28x28 canvas, the digit 20x20 at "
                    "the centre (7291 train then 2007 test)",
                    ((USPS_H5,),), derived.load_usps_on_canvas, n_train=USPS_TRAIN_SIZE),
        *(DatasetSpec(f"mnist-{part}-{digits[0]}{digits[-1]}",
                      f"derived: the MNIST-{part} digits {digits[0]}-{digits[-1]}",
                      (MNIST_TRAIN + MNIST_TEST,), derived.digits_loader(part, digits))
          for part, digits in (("train", (0, 1, 2, 3, 4)), ("train", (5, 6, 7, 8, 9)),
                               ("test", (0, 1, 2, 3, 4)), ("test", (5, 6, 7, 8, 9)))),
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
