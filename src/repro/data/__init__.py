"""Real datasets as numpy arrays, loaded only from sha256-verified files.

    from repro.data import load
    ds = load("mnist-full")            # ds.x float32 (70000, 28, 28, 1) in [0, 1], ds.y int64

Registered names (``DATASETS``): ``mnist-full``, ``mnist-test``, ``usps``, ``cifar-10``
(split "train" / "test" / "all"), ``stl-10`` (same splits), ``nus-wide`` and
``mirflickr-25k`` (multi-label; uint8 images, ``load(name, image_size=224)``; their files
have no published checksum and are used unverified); the derived sets of
:mod:`repro.data.derived` (``mnist-pairs``, ``usps-28``, ``mnist-{train,test}-{04,59}``),
built from the verified MNIST / USPS files. ``ds.scaled()`` is the one normalisation rule
(float32 images in [0, 1] for every set). Files are looked up in
``data/raw/<subfolder>/`` (or ``$REPRO_DATA_DIR``), then in the folders of
``REPRO_DATA_MIRRORS``, then downloaded from the official URL unless ``REPRO_OFFLINE=1``.
See ``data/README.md`` and ``python -m repro data --help``.
"""

from repro.data.dataset import Dataset, fetch, load, verify
from repro.data.errors import (
    ChecksumError,
    DatasetError,
    UnknownDatasetError,
    UnsafeArchiveError,
)
from repro.data.registry import DATASETS, DatasetSpec, FileSpec

__all__ = [
    "DATASETS",
    "ChecksumError",
    "Dataset",
    "DatasetError",
    "DatasetSpec",
    "FileSpec",
    "UnknownDatasetError",
    "UnsafeArchiveError",
    "fetch",
    "load",
    "verify",
]
