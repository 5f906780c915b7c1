"""NUS-WIDE (Chua et al., CIVR 2009) under the DQN-era retrieval protocol.

Files of the official distribution (NUS Lab for Media Search, ``NUS-WIDE.html`` on
lms.comp.nus.edu.sg), used as distributed:

- ``Groundtruth.zip``: ``AllLabels/Labels_<concept>.txt`` for the 81 concepts (alphabetical
  :data:`CONCEPTS`), one ``0`` / ``1`` per line, one line per image in the order of
  ``Imagelist.txt``. (A single top folder above ``AllLabels/``, as some re-packed copies
  have, is accepted; ``TrainTestLabels/`` is not read.)
- ``ImageList.zip``: ``ImageList/Imagelist.txt``, one image per line (269,648 in the
  official file), as a Windows path relative to the image folder: ``actor\\0001_2124494179.jpg``.
  A line carrying the absolute prefix of NUS's own machine (``C:\\ImageData\\Flickr\\actor\\...``,
  as in ``NUS-WIDE-urls.txt``) is read relative to its ``Flickr`` component.
- the image folder ``Flickr/`` (``Flickr/<subfolder>/<name>.jpg``), which NUS distributes on
  request rather than as a download (see ``data/README.md``).

Protocol (DQN, Cao et al. AAAI 2016, after DNNH / CNNH): keep the 21 concepts with the most
positive images (:data:`KEPT_CONCEPTS`; ties broken by the alphabetical concept order) and
the images positive for at least one of them (195,834 in the official files). Labels are
multi-hot uint8 ``(n, 21)``, columns in decreasing order of frequency; images keep the order
of ``Imagelist.txt``. Images are decoded and resized to ``image_size x image_size`` RGB
(:mod:`repro.data.images`; default :data:`DEFAULT_IMAGE_SIZE` = 64, the DQN paper's network
takes 224), returned as uint8 ``(n, image_size, image_size, 3)``. At 64 pixels the full set
takes about 2.4 GB of memory, at 224 about 29.5 GB. No official split exists for this
protocol (queries / training / database are drawn by the retrieval stage), so there is no
``split``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

import numpy as np

from repro.data.errors import DatasetError
from repro.data.images import check_size, decode_images
from repro.data.zips import ZipReader

GROUNDTRUTH = "Groundtruth.zip"
IMAGE_LIST = "ImageList.zip"
IMAGE_FOLDER = "Flickr"
KEPT_CONCEPTS = 21
DEFAULT_IMAGE_SIZE = 64

#: The 81 concepts of the ground truth, in the official (alphabetical) order of Concepts81.txt.
CONCEPTS = (
    "airport", "animal", "beach", "bear", "birds", "boats", "book", "bridge", "buildings",
    "cars", "castle", "cat", "cityscape", "clouds", "computer", "coral", "cow", "dancing",
    "dog", "earthquake", "elk", "fire", "fish", "flags", "flowers", "food", "fox", "frost",
    "garden", "glacier", "grass", "harbor", "horses", "house", "lake", "leaf", "map",
    "military", "moon", "mountain", "nighttime", "ocean", "person", "plane", "plants",
    "police", "protest", "railroad", "rainbow", "reflection", "road", "rocks", "running",
    "sand", "sign", "sky", "snow", "soccer", "sports", "statue", "street", "sun", "sunset",
    "surf", "swimmers", "tattoo", "temple", "tiger", "tower", "town", "toy", "train", "tree",
    "valley", "vehicle", "water", "waterfall", "wedding", "whales", "window", "zebra",
)
_LABEL_MEMBER = re.compile(r"^(?:[^/]+/)?AllLabels/Labels_([^/]+)\.txt$")
_LIST_MEMBER = re.compile(r"^(?:[^/]+/)?imagelist\.txt$", re.IGNORECASE)


class Annotations(NamedTuple):
    """The protocol's images and labels, before any image is read."""

    images: list[str]          #: image paths relative to the image folder, ``/``-separated
    labels: np.ndarray         #: uint8 (n, 21) multi-hot
    concepts: tuple[str, ...]  #: the 21 concept names, one per label column


def _single_member(reader: ZipReader, pattern: re.Pattern, what: str) -> str:
    found = sorted(name for name in reader.names if pattern.match(name))
    if len(found) != 1:
        detail = f"found {found}" if found else "found none"
        raise DatasetError(f"{reader.archive}: expected one {what} member, {detail}; "
                           "is it the official file?")
    return found[0]


def label_members(reader: ZipReader) -> dict[str, str]:
    """concept -> member name of its ``AllLabels/Labels_<concept>.txt``, for all 81."""
    members: dict[str, list[str]] = {}
    for name in reader.names:
        match = _LABEL_MEMBER.match(name)
        if match:
            members.setdefault(match.group(1), []).append(name)
    missing = [c for c in CONCEPTS if c not in members]
    if missing:
        raise DatasetError(f"{reader.archive} lacks AllLabels/Labels_<concept>.txt for "
                           f"{len(missing)} of the 81 concepts: {', '.join(missing)}; "
                           "is it the official Groundtruth.zip?")
    doubled = {c: sorted(m) for c, m in members.items() if c in CONCEPTS and len(m) > 1}
    if doubled:
        raise DatasetError(f"{reader.archive} holds several label files per concept: "
                           f"{doubled}.")
    return {c: members[c][0] for c in CONCEPTS}


def parse_image_list(raw: bytes, where: str) -> list[str]:
    """Lines of ``Imagelist.txt`` -> ``<subfolder>/<file>`` paths, in order."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DatasetError(f"{where} is not a text file: {error}") from error
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    images = []
    for number, line in enumerate(lines, start=1):
        parts = line.strip().replace("\\", "/").split("/")
        anchors = [i for i, part in enumerate(parts[:-1]) if part.lower() == "flickr"]
        if len(parts) > 2 and anchors:  # C:\ImageData\Flickr\<folder>\<file>
            parts = parts[anchors[-1] + 1:]
        if len(parts) != 2 or not all(parts) or ".." in parts:
            raise DatasetError(f"{where}, line {number}: {line.strip()!r} is not an image "
                               "path of the form <folder>\\<file>.jpg.")
        images.append("/".join(parts))
    if not images:
        raise DatasetError(f"{where} lists no image.")
    return images


def parse_labels(raw: bytes, where: str, n_images: int) -> np.ndarray:
    """One ``Labels_<concept>.txt`` -> uint8 (n_images,) of 0 / 1."""
    tokens = raw.split()
    if len(tokens) != n_images:
        raise DatasetError(f"{where} holds {len(tokens)} values but Imagelist.txt lists "
                           f"{n_images} images; the two files must come from the same "
                           "NUS-WIDE release.")
    values = np.array(tokens)
    bad = np.flatnonzero((values != b"0") & (values != b"1"))
    if bad.size:
        raise DatasetError(f"{where}: value number {bad[0] + 1} is {tokens[bad[0]]!r}, "
                           "expected 0 or 1.")
    return (values == b"1").astype(np.uint8)


def read_ground_truth(groundtruth: Path, image_list: Path) -> tuple[list[str], np.ndarray]:
    """(image paths, uint8 (n, 81) labels in :data:`CONCEPTS` order) of the whole set."""
    with ZipReader(image_list) as reader:
        member = _single_member(reader, _LIST_MEMBER, "ImageList/Imagelist.txt")
        images = parse_image_list(reader.read(member), f"{image_list}:{member}")
    with ZipReader(groundtruth) as reader:
        members = label_members(reader)
        columns = [parse_labels(reader.read(members[c]), f"{groundtruth}:{members[c]}",
                                len(images)) for c in CONCEPTS]
    return images, np.stack(columns, axis=1)


def most_frequent(labels: np.ndarray, k: int = KEPT_CONCEPTS) -> np.ndarray:
    """Column indices of the ``k`` most frequent concepts, most frequent first (ties: the
    lower column, i.e. the alphabetically first concept, first)."""
    counts = labels.sum(axis=0, dtype=np.int64)
    return np.lexsort((np.arange(labels.shape[1]), -counts))[:k]


def protocol_annotations(groundtruth: Path, image_list: Path,
                         k: int = KEPT_CONCEPTS) -> Annotations:
    """The ``k`` most frequent concepts and the images positive for at least one of them."""
    images, labels = read_ground_truth(groundtruth, image_list)
    columns = most_frequent(labels, k)
    kept = labels[:, columns]
    rows = np.flatnonzero(kept.any(axis=1))
    return Annotations([images[i] for i in rows], np.ascontiguousarray(kept[rows]),
                       tuple(CONCEPTS[c] for c in columns))


def _reader(folder: Path):
    def read(relative: str) -> bytes:
        try:
            return (folder / relative).read_bytes()
        except OSError as error:
            raise DatasetError(f"Cannot read NUS-WIDE image {folder / relative}: "
                               f"{error}") from error
    return read


def check_images_present(folder: Path, images: list[str]) -> None:
    """DatasetError naming the images (up to 5) of ``images`` missing under ``folder``."""
    missing = [name for name in images if not (folder / name).is_file()]
    if missing:
        shown = ", ".join(str(folder / name) for name in missing[:5])
        raise DatasetError(
            f"{len(missing)} of the {len(images)} NUS-WIDE images needed are missing from "
            f"{folder}, e.g. {shown}. The folder must hold the images of the official "
            "distribution as Flickr/<folder>/<file>.jpg (the paths of Imagelist.txt)."
        )


def load(paths: Mapping[str, Path], split: str | None = None, *,
         image_size: int = DEFAULT_IMAGE_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """(x uint8 (n, image_size, image_size, 3), y uint8 (n, 21) multi-hot) of the protocol.

    ``paths`` maps ``Groundtruth.zip``, ``ImageList.zip`` and ``Flickr`` (the image folder)
    to their local paths; ``split`` must be None (there are no splits).
    """
    if split is not None:
        raise DatasetError(f"NUS-WIDE has no splits (got split={split!r}).")
    size = check_size(image_size)
    annotations = protocol_annotations(paths[GROUNDTRUTH], paths[IMAGE_LIST])
    folder = Path(paths[IMAGE_FOLDER])
    check_images_present(folder, annotations.images)
    x = decode_images(annotations.images, _reader(folder), size, desc="NUS-WIDE images",
                      where=f"{folder}/")
    return x, annotations.labels
