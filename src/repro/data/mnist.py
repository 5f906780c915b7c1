"""MNIST from the four original gzipped IDX files (LeCun et al., 1998).

IDX format: 2 zero bytes, a type byte (0x08 = unsigned byte), a byte with the number of
dimensions d, then d big-endian uint32 sizes, then the values in C order.
"MNIST-full" = train (60000) then test (10000); "MNIST-test" = the 10000 test images.
Images are returned as float32 (n, 28, 28, 1) scaled to [0, 1], labels as int64 (n,).
"""

from __future__ import annotations

import gzip
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from repro.data.errors import DatasetError

TRAIN_IMAGES = "train-images-idx3-ubyte.gz"
TRAIN_LABELS = "train-labels-idx1-ubyte.gz"
TEST_IMAGES = "t10k-images-idx3-ubyte.gz"
TEST_LABELS = "t10k-labels-idx1-ubyte.gz"
IDX_UBYTE = 0x08


def read_idx(path: Path) -> np.ndarray:
    """The uint8 array stored in a gzipped IDX file (shape from its header)."""
    with gzip.open(path, "rb") as handle:
        raw = handle.read()
    if len(raw) < 4 or raw[:2] != b"\x00\x00" or raw[2] != IDX_UBYTE:
        raise DatasetError(f"{path} is not an IDX file of unsigned bytes "
                           f"(header {raw[:4].hex()!r}).")
    ndim = raw[3]
    header = 4 + 4 * ndim
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    if len(raw) != header + int(np.prod(shape)):
        raise DatasetError(f"{path}: IDX header announces shape {shape} "
                           f"but the file holds {len(raw) - header} values.")
    return np.frombuffer(raw, np.uint8, offset=header).reshape(shape)


def read_split(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images uint8 (n, 28, 28) and labels uint8 (n,) of one split, checked for agreement."""
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DatasetError(f"{images_path} {images.shape} and {labels_path} {labels.shape} "
                           "are not an images/labels pair.")
    return images, labels


def to_arrays(images: list[np.ndarray], labels: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate splits: x float32 (n, 28, 28, 1) in [0, 1], y int64 (n,)."""
    pixels = np.concatenate(images)[..., np.newaxis]
    x = np.divide(pixels, np.float32(255.0), dtype=np.float32)  # one pass, no uint8->float copy
    return x, np.concatenate(labels).astype(np.int64)


def load_full(paths: Mapping[str, Path], split: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """MNIST-full: the 60000 train then the 10000 test digits (verified ``paths``)."""
    train = read_split(paths[TRAIN_IMAGES], paths[TRAIN_LABELS])
    test = read_split(paths[TEST_IMAGES], paths[TEST_LABELS])
    return to_arrays([train[0], test[0]], [train[1], test[1]])


def load_test(paths: Mapping[str, Path], split: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """MNIST-test: the 10000 test digits (verified ``paths``)."""
    images, labels = read_split(paths[TEST_IMAGES], paths[TEST_LABELS])
    return to_arrays([images], [labels])
