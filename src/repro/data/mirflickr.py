"""MIRFlickr-25k (Huiskes and Lew, MIR 2008) under the DQN-era retrieval protocol.

Files of the official distribution (LIACS Medialab, press.liacs.nl/mirflickr), read in
memory:

- ``mirflickr25k.zip``: folder ``mirflickr/`` with the 25,000 images ``im1.jpg`` ..
  ``im25000.jpg`` (plus ``meta/`` and ``doc/``, not read).
- ``mirflickr25k_annotations_v080.zip``: one ``<concept>.txt`` per concept of the 24
  :data:`CONCEPTS`, listing the 1-based numbers of the images showing it, one per line;
  ``<concept>_r1.txt`` (only the images where the concept is clearly relevant, 14 concepts)
  and ``README.txt`` are not read. The members may sit at the top of the archive or in one
  folder.

Protocol (DQN, Cao et al. AAAI 2016, and the hashing work it compares with): the 24 concepts
(the files without ``_r1``), images annotated with at least one of them. Labels are
multi-hot uint8 ``(n, 24)``, columns in the alphabetical order of :data:`CONCEPTS`; images in
increasing number. Images are decoded and resized to ``image_size x image_size`` RGB
(:mod:`repro.data.images`; default :data:`DEFAULT_IMAGE_SIZE` = 64, the DQN paper's network
takes 224), returned as uint8 ``(n, image_size, image_size, 3)``. No official split exists
(queries / training / database are drawn by the retrieval stage), so there is no ``split``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

import numpy as np

from repro.data.errors import DatasetError
from repro.data.images import check_size, decode_images
from repro.data.zips import ZipReader

IMAGES_ARCHIVE = "mirflickr25k.zip"
ANNOTATIONS_ARCHIVE = "mirflickr25k_annotations_v080.zip"
N_IMAGES = 25000
DEFAULT_IMAGE_SIZE = 64

#: The 24 concepts of the v080 annotations (the files without ``_r1``), alphabetical.
CONCEPTS = (
    "animals", "baby", "bird", "car", "clouds", "dog", "female", "flower", "food", "indoor",
    "lake", "male", "night", "people", "plant_life", "portrait", "river", "sea", "sky",
    "structures", "sunset", "transport", "tree", "water",
)


class Annotations(NamedTuple):
    """The protocol's images and labels, before any image is read."""

    numbers: np.ndarray        #: int64 (n,) image numbers 1..25000 (``im<number>.jpg``)
    labels: np.ndarray         #: uint8 (n, 24) multi-hot
    concepts: tuple[str, ...]  #: the 24 concept names, one per label column


def image_member(number: int) -> str:
    """Member name of image ``number`` (1-based) in ``mirflickr25k.zip``."""
    return f"mirflickr/im{number}.jpg"


def concept_members(reader: ZipReader) -> dict[str, str]:
    """concept -> member name of ``<concept>.txt`` (top level or one folder deep)."""
    members: dict[str, list[str]] = {}
    for name in reader.names:
        parts = name.split("/")
        if len(parts) <= 2 and parts[-1].endswith(".txt") and parts[-1][:-4] in CONCEPTS:
            members.setdefault(parts[-1][:-4], []).append(name)
    missing = [c for c in CONCEPTS if c not in members]
    if missing:
        raise DatasetError(f"{reader.archive} lacks the annotation file(s) "
                           f"{', '.join(c + '.txt' for c in missing)}; is it the official "
                           f"{ANNOTATIONS_ARCHIVE}?")
    doubled = {c: sorted(m) for c, m in members.items() if len(m) > 1}
    if doubled:
        raise DatasetError(f"{reader.archive} holds several files per concept: {doubled}.")
    return {c: members[c][0] for c in CONCEPTS}


def parse_numbers(raw: bytes, where: str) -> np.ndarray:
    """One ``<concept>.txt`` -> int64 image numbers, each checked to be in 1..25000."""
    numbers = []
    for token in raw.split():
        try:
            numbers.append(int(token))
        except ValueError:
            raise DatasetError(f"{where}: {token!r} is not an image number.") from None
    values = np.asarray(numbers, dtype=np.int64)
    bad = values[(values < 1) | (values > N_IMAGES)]
    if bad.size:
        raise DatasetError(f"{where}: image number {int(bad[0])} is outside 1..{N_IMAGES}.")
    return values


def read_annotations(annotations: Path) -> np.ndarray:
    """uint8 (25000, 24) multi-hot labels of all images (row i = image i + 1)."""
    labels = np.zeros((N_IMAGES, len(CONCEPTS)), dtype=np.uint8)
    with ZipReader(annotations) as reader:
        for column, (concept, member) in enumerate(concept_members(reader).items()):
            numbers = parse_numbers(reader.read(member), f"{annotations}:{member}")
            labels[numbers - 1, column] = 1
    return labels


def protocol_annotations(annotations: Path) -> Annotations:
    """The images annotated with at least one of the 24 concepts, and their labels."""
    labels = read_annotations(annotations)
    rows = np.flatnonzero(labels.any(axis=1))
    return Annotations(rows + 1, np.ascontiguousarray(labels[rows]), CONCEPTS)


def load(paths: Mapping[str, Path], split: str | None = None, *,
         image_size: int = DEFAULT_IMAGE_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """(x uint8 (n, image_size, image_size, 3), y uint8 (n, 24) multi-hot) of the protocol.

    ``paths`` maps the two archive names to their local paths; ``split`` must be None.
    """
    if split is not None:
        raise DatasetError(f"MIRFlickr-25k has no splits (got split={split!r}).")
    size = check_size(image_size)
    annotations = protocol_annotations(paths[ANNOTATIONS_ARCHIVE])
    names = [image_member(int(n)) for n in annotations.numbers]
    with ZipReader(paths[IMAGES_ARCHIVE]) as reader:
        reader.require(names)
        x = decode_images(names, reader.read, size, desc="MIRFlickr-25k images",
                          where=f"{paths[IMAGES_ARCHIVE]}:")
    return x, annotations.labels
