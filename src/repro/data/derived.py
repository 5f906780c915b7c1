"""Data derived deterministically from real datasets, for the stand-in protocols.

Nothing here is a dataset of any paper: each function builds images from real, checksum-
verified digits (MNIST, USPS) by a fixed rule, and the report says so beside every number
computed on them (data/README.md, "Derived data").

- :func:`usps_on_mnist_canvas`: USPS digits (16 x 16, the digit fills the frame) resized to
  20 x 20 and centred on a 28 x 28 canvas -- MNIST's layout (digits normalised to 20 x 20,
  centred in 28 x 28) -- so a network pretrained on USPS reads MNIST-sized inputs.
- :func:`digit_pairs`: a multi-label stand-in ("MNIST-pairs"): each image holds two MNIST
  digits, each downsampled 2x to 14 x 14 and placed in two different quadrants of a 28 x 28
  canvas; its labels are the digits present (multi-hot over 0-9; a pair of equal digits
  has one label). Every MNIST image is used once.
- :func:`digits_loader`: the MNIST-train or MNIST-test digits of some classes (UCNN's sets).
- :func:`retrieval_split`: the query / training / database split of the DQN-era protocols
  (a fixed number of queries and training images per class or concept, the database is the
  rest), for single-label and multi-label data.

The registry (:mod:`repro.data.registry`) declares the derived sets by name (``mnist-pairs``,
``usps-28``, ``mnist-train-04`` ...) with the loaders below, so ``repro.data.load(name)``
builds them from the verified files of the set they derive from (and records those files).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from repro.data import mnist, usps

PAIRS_SEED = 0  # the construction of MNIST-pairs is fixed (it is data, not a run's seed)


def usps_on_mnist_canvas(x: np.ndarray) -> np.ndarray:
    """``(n, 16, 16, 1)`` USPS in [0, 1] -> ``(n, 28, 28, 1)`` float32, the digit 20 x 20 at the
    centre (bilinear resize, scipy.ndimage.zoom, order 1)."""
    from scipy.ndimage import zoom

    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 4 or x.shape[1:] != (16, 16, 1):
        raise ValueError(f"usps_on_mnist_canvas: expected (n, 16, 16, 1) images, got {x.shape}")
    digits = np.clip(zoom(x[..., 0], (1, 20 / 16, 20 / 16), order=1), 0.0, 1.0)
    canvas = np.zeros((len(x), 28, 28, 1), dtype=np.float32)
    canvas[:, 4:24, 4:24, 0] = digits
    return canvas


def digit_pairs(x: np.ndarray, y: np.ndarray, *, seed: int = PAIRS_SEED
                ) -> tuple[np.ndarray, np.ndarray]:
    """Two real digits per image (see the module docstring) -> (images (n//2, 28, 28, 1)
    float32, multi-hot labels (n//2, 10) uint8). Deterministic in ``seed``."""
    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y)
    if x.ndim != 4 or x.shape[1:] != (28, 28, 1):
        raise ValueError(f"digit_pairs: expected (n, 28, 28, 1) images, got {x.shape}")
    if y.shape != (len(x),):
        raise ValueError(f"digit_pairs: expected {len(x)} class labels, got shape {y.shape}")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(x))
    n = len(x) // 2
    first, second = order[:n], order[n:2 * n]
    small = x.reshape(len(x), 14, 2, 14, 2).mean(axis=(2, 4))        # 2 x 2 average pooling
    quadrants = np.array([(0, 0), (0, 14), (14, 0), (14, 14)])
    # two different quadrants per image: a random first one, the second one of the other three
    q1 = rng.integers(0, 4, n)
    q2 = (q1 + rng.integers(1, 4, n)) % 4
    images = np.zeros((n, 28, 28), dtype=np.float32)
    rows = np.arange(14)
    for which, quadrant in ((first, q1), (second, q2)):   # two placements, vectorised over images
        top, left = quadrants[quadrant, 0], quadrants[quadrant, 1]
        r = top[:, None, None] + rows[None, :, None]
        c = left[:, None, None] + rows[None, None, :]
        images[np.arange(n)[:, None, None], r, c] = small[which]
    labels = np.zeros((n, 10), dtype=np.uint8)
    labels[np.arange(n), y[first]] = 1
    labels[np.arange(n), y[second]] = 1
    return images[..., None], labels


# ------------------------------------------------- loaders of the registered derived sets
# (``loader(paths, split) -> (x, y)`` as :data:`repro.data.registry.Loader`)

def load_pairs(paths: Mapping[str, Path], split: str | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
    """``mnist-pairs``: :func:`digit_pairs` of MNIST-full."""
    return digit_pairs(*mnist.load_full(paths))


def load_usps_on_canvas(paths: Mapping[str, Path], split: str | None = None
                        ) -> tuple[np.ndarray, np.ndarray]:
    """``usps-28``: every USPS digit (train then test) on MNIST's canvas."""
    x, y = usps.load(paths)
    return usps_on_mnist_canvas(x), y


def digits_loader(part: str, digits: tuple[int, ...]):
    """The loader of ``mnist-<part>-<first><last>``: the MNIST-``part`` ("train" or "test")
    digits whose label is one of ``digits``, in file order. (The set declares MNIST-full's
    four files, as the stages recorded it before it had a name.)"""
    names = {"train": (mnist.TRAIN_IMAGES, mnist.TRAIN_LABELS),
             "test": (mnist.TEST_IMAGES, mnist.TEST_LABELS)}[part]

    def load(paths: Mapping[str, Path], split: str | None = None):
        images, labels = mnist.read_split(paths[names[0]], paths[names[1]])
        x, y = mnist.to_arrays([images], [labels])
        keep = np.isin(y, digits)
        return x[keep], y[keep]
    return load


def retrieval_split(labels: np.ndarray, *, n_query: int, n_train: int, seed: int
                    ) -> dict[str, np.ndarray]:
    """Indices of queries, training images and the database (the rest, disjoint from both).

    ``labels``: ``(n,)`` classes or ``(n, C)`` multi-hot. Per class (or concept, in index
    order), ``n_query`` queries and ``n_train`` training images are drawn at random among the
    images of that class not drawn yet (for multi-label data an image counts for every
    concept it carries, as in the NUS-WIDE protocol). Deterministic in ``seed``.
    """
    labels = np.asarray(labels)
    multi = labels.reshape(len(labels), -1) if labels.ndim == 2 else None
    classes = range(multi.shape[1]) if multi is not None else np.unique(labels)
    rng = np.random.default_rng(seed)
    taken = np.zeros(len(labels), dtype=bool)
    query, train = [], []
    for c in classes:   # a loop over classes, not samples
        members = np.flatnonzero((multi[:, c] > 0 if multi is not None else labels == c) & ~taken)
        if len(members) < n_query + n_train:
            raise ValueError(f"retrieval_split: class {c} has {len(members)} free images, "
                             f"{n_query + n_train} needed")
        chosen = rng.permutation(members)[:n_query + n_train]
        query.append(chosen[:n_query])
        train.append(chosen[n_query:])
        taken[chosen] = True
    return {"query": np.concatenate(query), "train": np.concatenate(train),
            "database": np.flatnonzero(~taken)}
