"""STL-10 labelled images (Coates et al., 2011) from the official ``stl10_binary.tar.gz``.

Members used: ``stl10_binary/train_X.bin`` + ``train_y.bin`` (5000 images) and
``test_X.bin`` + ``test_y.bin`` (8000). ``*_X.bin`` holds uint8 images of 3 x 96 x 96 bytes
each, stored column-major (per channel, column after column); ``*_y.bin`` one uint8 label
1..10 per image. The 100000 unlabelled images (``unlabeled_X.bin``) are never read.
Members are read in memory from the verified archive. Returned as x float32
(n, 96, 96, 3) in [0, 1] and y int64 (n,) in 0..9; split "train", "test" or "all"
(train then test, 13000).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from repro.data.archives import read_members
from repro.data.errors import DatasetError

ARCHIVE = "stl10_binary.tar.gz"
FOLDER = "stl10_binary"
SIDE = 96
IMAGE_BYTES = 3 * SIDE * SIDE
N_CLASSES = 10


def split_parts(split: str) -> tuple[str, ...]:
    """The member prefixes (``train``, ``test``) of a split, in order."""
    return {"train": ("train",), "test": ("test",), "all": ("train", "test")}[split]


def to_pixels(raw: bytes, member: str) -> np.ndarray:
    """Column-major 3 x 96 x 96 uint8 records -> uint8 view (n, 96, 96, 3) (row, col, channel)."""
    if len(raw) % IMAGE_BYTES:
        raise DatasetError(f"STL-10 {member}: {len(raw)} bytes is not a whole number of "
                           f"{IMAGE_BYTES}-byte images.")
    images = np.frombuffer(raw, np.uint8).reshape(-1, 3, SIDE, SIDE)  # (n, c, col, row)
    return images.transpose(0, 3, 2, 1)


def to_labels(raw: bytes, member: str) -> np.ndarray:
    """uint8 labels 1..10 -> int64 labels 0..9."""
    labels = np.frombuffer(raw, np.uint8).astype(np.int64)
    if labels.size and (labels.min() < 1 or labels.max() > N_CLASSES):
        raise DatasetError(f"STL-10 {member}: labels outside 1..{N_CLASSES}.")
    return labels - 1


def load(paths: Mapping[str, Path], split: str | None = "all") -> tuple[np.ndarray, np.ndarray]:
    """STL-10 labelled split from the verified archive in ``paths``."""
    parts = split_parts(split or "all")
    members = [f"{FOLDER}/{part}_{kind}.bin" for part in parts for kind in ("X", "y")]
    contents = read_members(paths[ARCHIVE], members)
    xs, ys = [], []
    for part in parts:
        x_member, y_member = f"{FOLDER}/{part}_X.bin", f"{FOLDER}/{part}_y.bin"
        x = to_pixels(contents.pop(x_member), x_member)
        y = to_labels(contents.pop(y_member), y_member)
        if len(x) != len(y):
            raise DatasetError(f"STL-10 {part}: {len(x)} images but {len(y)} labels.")
        xs.append(x)
        ys.append(y)
    x = np.concatenate(xs).astype(np.float32, order="C")  # one float copy only
    x /= 255.0
    return x, np.concatenate(ys)
