"""USPS handwritten digits (Hull, 1994) from ``usps.h5``.

Layout (the file circulated as the Kaggle "usps-dataset"): HDF5 groups ``train`` and
``test``, each with ``data`` (float32, n x 256 = 16 x 16 pixels in [0, 1]) and ``target``
(integer labels 0..9). The deep clustering papers use all 9298 digits: 7291 train then 2007
test. Returned as x float32 (n, 16, 16, 1) with the stored values, y int64 (n,).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from repro.data.errors import DatasetError

FILENAME = "usps.h5"
GROUPS = ("train", "test")
SIDE = 16


def load(paths: Mapping[str, Path], split: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """All USPS digits, train then test, from the verified ``usps.h5``."""
    import h5py  # imported here: only USPS needs it

    path = paths[FILENAME]
    images, labels = [], []
    with h5py.File(path, "r") as handle:
        for group in GROUPS:
            if group not in handle or not {"data", "target"} <= set(handle[group]):
                raise DatasetError(f"{path} lacks the HDF5 datasets {group}/data and "
                                   f"{group}/target; is it the Kaggle usps.h5?")
            images.append(np.asarray(handle[group]["data"], dtype=np.float32))
            labels.append(np.asarray(handle[group]["target"]).astype(np.int64))
    x = np.concatenate(images)
    if x.ndim != 2 or x.shape[1] != SIDE * SIDE:
        raise DatasetError(f"{path}: expected n x {SIDE * SIDE} pixels, found {x.shape}.")
    return x.reshape(-1, SIDE, SIDE, 1), np.concatenate(labels)
