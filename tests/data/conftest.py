"""Fixtures for the dataset tests.

Every test runs with ``REPRO_DATA_DIR`` in its own temporary folder, ``REPRO_OFFLINE=1`` and
no mirror, so nothing touches the project's ``data/raw`` or the network. Tests on the real
MNIST / USPS files ask for the suite-wide ``real_data`` (tests/conftest.py), which points
``REPRO_DATA_MIRRORS`` back at the real mirror and returns the loaded dataset.

Builders of tiny files in the exact official formats (IDX, CIFAR-10 python / binary
archives, STL-10 binary archive, NUS-WIDE's Groundtruth.zip / ImageList.zip / Flickr folder,
MIRFlickr-25k's two zip archives, small JPEGs) are exposed as the ``tiny`` fixture.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import pickle
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

from repro.data import registry

def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    return sha256_bytes(Path(path).read_bytes())


@pytest.fixture(autouse=True)
def isolated_data_env(monkeypatch, tmp_path) -> Path:
    """Private data/raw, offline, no mirror; returns the data/raw folder."""
    raw = tmp_path / "raw"
    monkeypatch.setenv("REPRO_DATA_DIR", str(raw))
    monkeypatch.setenv("REPRO_OFFLINE", "1")
    monkeypatch.delenv("REPRO_DATA_MIRRORS", raising=False)
    return raw


@pytest.fixture
def patch_files(monkeypatch):
    """``patch(name, {filename: {field: value}})``: replace FileSpec fields in the registry
    (e.g. the sha256 of a tiny test archive) for this test only."""

    def patch(name: str, changes: dict[str, dict]) -> registry.DatasetSpec:
        spec = registry.DATASETS[name]
        sources = tuple(
            tuple(dataclasses.replace(f, **changes.get(f.filename, {})) for f in source)
            for source in spec.sources
        )
        new = dataclasses.replace(spec, sources=sources)
        monkeypatch.setitem(registry.DATASETS, name, new)
        return new

    return patch


# ----------------------------------------------------------------------------- builders
def idx_gz_bytes(array: np.ndarray) -> bytes:
    """A gzipped IDX file of unsigned bytes holding ``array``."""
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    return gzip.compress(header + np.ascontiguousarray(array, np.uint8).tobytes())


def write_tar(path: Path, members: list[tuple[str, bytes]]) -> Path:
    """A .tar.gz with the given (name, bytes) regular-file members, in order."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def py2_style_pickle(obj) -> bytes:
    """Protocol-2 pickle naming ``numpy.core.multiarray`` as the official batches do."""
    return pickle.dumps(obj, protocol=2).replace(b"numpy._core.multiarray",
                                                 b"numpy.core.multiarray")


def random_images(rng, n: int, side: int) -> np.ndarray:
    """uint8 (n, side, side, 3) images (row, column, channel)."""
    return rng.integers(0, 256, size=(n, side, side, 3), dtype=np.uint8)


def cifar_batches(rng, per_batch: int = 2) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """batch name -> (images uint8 (n, 32, 32, 3), labels int (n,)) for the 6 batches."""
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    return {name: (random_images(rng, per_batch, 32), rng.integers(0, 10, per_batch))
            for name in names}


def cifar_rows(images: np.ndarray) -> np.ndarray:
    """Official row layout: 1024 red, 1024 green, 1024 blue bytes, each row-major."""
    return images.transpose(0, 3, 1, 2).reshape(len(images), -1)


def cifar_python_archive(path: Path, batches) -> Path:
    members = [("cifar-10-batches-py/batches.meta",
                py2_style_pickle({b"label_names": [b"airplane"] * 10}))]
    for name, (images, labels) in batches.items():
        batch = {b"batch_label": name.encode(), b"labels": [int(v) for v in labels],
                 b"data": cifar_rows(images), b"filenames": [b"x.png"] * len(labels)}
        members.append((f"cifar-10-batches-py/{name}", py2_style_pickle(batch)))
    members.append(("cifar-10-batches-py/readme.html", b"<html></html>"))
    return write_tar(path, members)


def cifar_binary_archive(path: Path, batches) -> Path:
    members = [("cifar-10-batches-bin/batches.meta.txt", b"airplane\n" * 10)]
    for name, (images, labels) in batches.items():
        records = np.concatenate([np.asarray(labels, np.uint8)[:, None], cifar_rows(images)], 1)
        members.append((f"cifar-10-batches-bin/{name}.bin", records.tobytes()))
    members.append(("cifar-10-batches-bin/readme.html", b"<html></html>"))
    return write_tar(path, members)


def stl_bytes(images: np.ndarray) -> bytes:
    """Official STL-10 layout: per image 3 x 96 x 96, column-major (channel, column, row)."""
    return images.transpose(0, 3, 2, 1).tobytes()


def stl10_archive(path: Path, parts, unlabeled: bytes | None = None) -> Path:
    """``parts``: {"train": (images, labels 1..10), "test": (...)}; unlabeled stored last."""
    members = [("stl10_binary/class_names.txt", b"airplane\n" * 10)]
    for part in ("test", "train"):
        images, labels = parts[part]
        members += [(f"stl10_binary/{part}_X.bin", stl_bytes(images)),
                    (f"stl10_binary/{part}_y.bin", np.asarray(labels, np.uint8).tobytes())]
    members.append(("stl10_binary/fold_indices.txt", b"0 1\n"))
    members.append(("stl10_binary/unlabeled_X.bin",
                    unlabeled if unlabeled is not None else stl_bytes(parts["test"][0][:1])))
    return write_tar(path, members)


def jpeg_bytes(color, size=(12, 9), mode="RGB", image_format="JPEG") -> bytes:
    """A solid-colour image (``size`` = (width, height)) encoded as JPEG (or ``image_format``)."""
    from PIL import Image

    buffer = io.BytesIO()
    image = Image.new("RGB", size, tuple(int(c) for c in color))
    image.convert(mode).save(buffer, format=image_format, quality=95)
    return buffer.getvalue()


def colour(i: int) -> tuple[int, int, int]:
    """A distinct, well-separated solid colour for image number ``i``."""
    return (40 + (67 * i) % 180, 40 + (113 * i + 60) % 180, 40 + (29 * i + 120) % 180)


def write_zip(path: Path, members: list[tuple[str, bytes | None]]) -> Path:
    """A zip archive of (name, bytes) members in order; ``None`` bytes = a folder entry."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            if data is None:
                archive.writestr(zipfile.ZipInfo(name.rstrip("/") + "/"), b"")
            else:
                archive.writestr(name, data)
    return path


def nuswide_files(folder: Path, images: list[tuple[str, bytes]],
                  positives: dict[str, list[int]], *, newline: str = "\r\n",
                  label_lines: dict[str, list[str]] | None = None) -> dict[str, Path]:
    """NUS-WIDE's official files in ``folder``: ``Groundtruth.zip`` (``AllLabels/`` with one
    ``Labels_<concept>.txt`` per concept of the 81, plus ``TrainTestLabels/`` decoys),
    ``ImageList.zip`` (``ImageList/Imagelist.txt`` with Windows paths, plus the Train / Test
    lists) and the image folder ``Flickr/<subfolder>/<file>``.

    ``images``: (``<subfolder>/<file>``, bytes) in Imagelist order; ``positives``: concept ->
    image positions labelled 1. ``label_lines`` replaces the lines of given label files.
    """
    from repro.data.nuswide import CONCEPTS

    n = len(images)
    members: list[tuple[str, bytes | None]] = [("AllLabels/", None)]
    for concept in CONCEPTS:
        lines = ["1" if i in positives.get(concept, ()) else "0" for i in range(n)]
        lines = (label_lines or {}).get(concept, lines)
        members.append((f"AllLabels/Labels_{concept}.txt",
                        "".join(line + newline for line in lines).encode()))
    members.append(("TrainTestLabels/", None))
    members += [(f"TrainTestLabels/Labels_{c}_{part}.txt", b"1\r\n" * n)
                for c in CONCEPTS[:3] for part in ("Train", "Test")]
    paths = {"Groundtruth.zip": write_zip(folder / "Groundtruth.zip", members)}
    windows = [name.replace("/", "\\") for name, _ in images]
    listing = "".join(line + newline for line in windows).encode()
    paths["ImageList.zip"] = write_zip(folder / "ImageList.zip", [
        ("ImageList/", None), ("ImageList/Imagelist.txt", listing),
        ("ImageList/TrainImagelist.txt", "".join(l + newline for l in windows[::2]).encode()),
        ("ImageList/TestImagelist.txt", "".join(l + newline for l in windows[1::2]).encode()),
    ])
    for name, data in images:
        target = folder / "Flickr" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    paths["Flickr"] = folder / "Flickr"
    return paths


def mirflickr_files(folder: Path, images: dict[int, bytes], annotations: dict[str, list],
                    relevant: dict[str, list] | None = None) -> dict[str, Path]:
    """MIRFlickr-25k's official archives in ``folder``: ``mirflickr25k.zip`` (``mirflickr/``
    with ``im<number>.jpg`` for the given numbers, plus ``meta/`` and ``doc/`` decoys) and
    ``mirflickr25k_annotations_v080.zip`` (``<concept>.txt`` for every concept of the 24,
    ``<concept>_r1.txt`` for ``relevant``, ``README.txt``), lines ending in CR LF."""
    from repro.data.mirflickr import CONCEPTS

    members: list[tuple[str, bytes | None]] = [("mirflickr/", None)]
    members += [(f"mirflickr/im{number}.jpg", data) for number, data in sorted(images.items())]
    members += [("mirflickr/doc/common_tags.txt", b"sky 1\n"), ("mirflickr/meta/tags/", None),
                ("mirflickr/meta/tags/tags1.txt", b"sky\n")]
    archive = write_zip(folder / "mirflickr25k.zip", members)

    def listing(numbers) -> bytes:
        return "".join(f"{n}\r\n" for n in numbers).encode()

    notes = [("README.txt", b"MIRFLICKR-25000 annotations v080\r\n")]
    notes += [(f"{c}.txt", listing(annotations.get(c, []))) for c in CONCEPTS]
    notes += [(f"{c}_r1.txt", listing(v)) for c, v in (relevant or {}).items()]
    return {"mirflickr25k.zip": archive,
            "mirflickr25k_annotations_v080.zip":
                write_zip(folder / "mirflickr25k_annotations_v080.zip", notes)}


class Builders:
    """Namespace handed to tests by the ``tiny`` fixture."""

    idx_gz_bytes = staticmethod(idx_gz_bytes)
    write_tar = staticmethod(write_tar)
    py2_style_pickle = staticmethod(py2_style_pickle)
    random_images = staticmethod(random_images)
    cifar_batches = staticmethod(cifar_batches)
    cifar_rows = staticmethod(cifar_rows)
    cifar_python_archive = staticmethod(cifar_python_archive)
    cifar_binary_archive = staticmethod(cifar_binary_archive)
    stl_bytes = staticmethod(stl_bytes)
    stl10_archive = staticmethod(stl10_archive)
    sha256_bytes = staticmethod(sha256_bytes)
    sha256_file = staticmethod(sha256_file)
    jpeg_bytes = staticmethod(jpeg_bytes)
    colour = staticmethod(colour)
    write_zip = staticmethod(write_zip)
    nuswide_files = staticmethod(nuswide_files)
    mirflickr_files = staticmethod(mirflickr_files)


@pytest.fixture
def tiny() -> type[Builders]:
    return Builders


@pytest.fixture
def tiny_mnist_test(tmp_path, tiny, patch_files):
    """Tiny MNIST test files (5 digits) in ``tmp_path/tiny``; registry sha256 patched.

    Returns (folder, {filename: bytes}, images uint8 (5, 28, 28), labels (5,)).
    """
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
    labels = np.array([7, 2, 1, 0, 4], dtype=np.uint8)
    contents = {"t10k-images-idx3-ubyte.gz": tiny.idx_gz_bytes(images),
                "t10k-labels-idx1-ubyte.gz": tiny.idx_gz_bytes(labels)}
    patch_files("mnist-test", {name: {"sha256": sha256_bytes(data)}
                               for name, data in contents.items()})
    folder = tmp_path / "tiny"
    folder.mkdir()
    for name, data in contents.items():
        (folder / name).write_bytes(data)
    return folder, contents, images, labels
