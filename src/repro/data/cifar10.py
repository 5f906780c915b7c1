"""CIFAR-10 (Krizhevsky, 2009) from either official archive.

- ``cifar-10-python.tar.gz``: ``cifar-10-batches-py/data_batch_1..5`` and ``test_batch``,
  each a pickle of a dict with ``b"data"`` (10000 x 3072 uint8, channel-major: 1024 red, 1024
  green, 1024 blue, each row-major 32 x 32) and ``b"labels"`` (10000 ints 0..9).
  The pickles are only loaded from an archive whose sha256 was verified beforehand (the
  caller, :func:`repro.data.load`, passes verified paths only).
- ``cifar-10-binary.tar.gz``: ``cifar-10-batches-bin/data_batch_1..5.bin`` and
  ``test_batch.bin``, each 10000 records of 1 label byte + 3072 pixel bytes (same order).
Members are read in memory; nothing is extracted to disk. Returned as x float32
(n, 32, 32, 3) in [0, 1] and y int64 (n,); split "train" (50000), "test" (10000) or "all"
(train then test, 60000).
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from repro.data.archives import read_members
from repro.data.errors import DatasetError

PYTHON_ARCHIVE = "cifar-10-python.tar.gz"
BINARY_ARCHIVE = "cifar-10-binary.tar.gz"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCHES = ("test_batch",)
PIXELS = 3 * 32 * 32
RECORD_BYTES = 1 + PIXELS


def batch_names(split: str) -> tuple[str, ...]:
    """The batch names (without folder / suffix) of a split, in order."""
    return {"train": TRAIN_BATCHES, "test": TEST_BATCHES,
            "all": TRAIN_BATCHES + TEST_BATCHES}[split]


def to_images(rows: np.ndarray) -> np.ndarray:
    """uint8 (n, 3072) channel-major rows -> float32 (n, 32, 32, 3) in [0, 1]."""
    x = rows.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).astype(np.float32, order="C")
    x /= 255.0
    return x


def parse_python_batch(raw: bytes, member: str) -> tuple[np.ndarray, np.ndarray]:
    """(rows uint8 (n, 3072), labels int64 (n,)) of one pickled batch (verified archive)."""
    batch = pickle.load(io.BytesIO(raw), encoding="bytes")
    try:
        rows = np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, PIXELS)
        labels = np.asarray(batch[b"labels"], dtype=np.int64)
    except (KeyError, TypeError, ValueError) as error:
        raise DatasetError(f"CIFAR-10 batch {member} is malformed: {error!r}") from error
    if len(rows) != len(labels):
        raise DatasetError(f"CIFAR-10 batch {member}: {len(rows)} images, {len(labels)} labels.")
    return rows, labels


def parse_binary_batch(raw: bytes, member: str) -> tuple[np.ndarray, np.ndarray]:
    """(rows uint8 (n, 3072), labels int64 (n,)) of one binary batch of 3073-byte records."""
    if len(raw) % RECORD_BYTES:
        raise DatasetError(f"CIFAR-10 batch {member}: {len(raw)} bytes is not a whole "
                           f"number of {RECORD_BYTES}-byte records.")
    records = np.frombuffer(raw, np.uint8).reshape(-1, RECORD_BYTES)
    return records[:, 1:], records[:, 0].astype(np.int64)


def load(paths: Mapping[str, Path], split: str | None = "all") -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-10 split from whichever verified archive is in ``paths`` (python preferred)."""
    split = split or "all"
    if PYTHON_ARCHIVE in paths:
        archive, parse = paths[PYTHON_ARCHIVE], parse_python_batch
        members = [f"cifar-10-batches-py/{name}" for name in batch_names(split)]
    else:
        archive, parse = paths[BINARY_ARCHIVE], parse_binary_batch
        members = [f"cifar-10-batches-bin/{name}.bin" for name in batch_names(split)]
    contents = read_members(archive, members)
    parsed = [parse(contents[member], member) for member in members]
    rows = np.concatenate([rows for rows, _ in parsed])
    return to_images(rows), np.concatenate([labels for _, labels in parsed])
