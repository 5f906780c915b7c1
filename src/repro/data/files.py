"""Where dataset files live and how they are checksum-verified.

Lookup order for a file ``<subfolder>/<filename>``:
1. ``data/raw/<subfolder>/<filename>``: ``data/raw`` is ``<repo>/data/raw`` (``<repo>`` is the
   checkout holding this package if it has a ``pyproject.toml``, else the current directory),
   or the folder named by ``REPRO_DATA_DIR``;
2. for each folder in ``REPRO_DATA_MIRRORS`` (``os.pathsep``-separated):
   ``<mirror>/<subfolder>/<filename>`` then ``<mirror>/<filename>``;
3. (elsewhere, :mod:`repro.data.download`) the official URL, unless ``REPRO_OFFLINE`` is set.

The first file found is verified with sha256; a mismatch raises :class:`ChecksumError` and
the file is never used, moved or deleted. A file declared without a checksum (``sha256=None``:
none is published) is hashed but not compared; a *folder* entry (NUS-WIDE's image folder) is
looked up the same way and identified by :func:`folder_digest`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

from repro.data.errors import ChecksumError

ENV_DATA_DIR = "REPRO_DATA_DIR"
ENV_MIRRORS = "REPRO_DATA_MIRRORS"
ENV_OFFLINE = "REPRO_OFFLINE"
CHUNK_BYTES = 1 << 20

# (resolved path, size, mtime_ns) -> sha256 hex: a file is hashed once per process.
_SHA256_MEMO: dict[tuple[str, int, int], str] = {}


def repo_root() -> Path:
    """The checkout root (holds ``pyproject.toml``) or, for an installed package, the cwd."""
    candidate = Path(__file__).resolve().parents[3]
    if (candidate / "pyproject.toml").is_file():
        return candidate
    return Path.cwd()


def raw_dir() -> Path:
    """The project's data folder ``data/raw`` (or ``$REPRO_DATA_DIR``)."""
    override = os.environ.get(ENV_DATA_DIR, "").strip()
    if override:
        return Path(override).expanduser()
    return repo_root() / "data" / "raw"


def mirror_dirs() -> list[Path]:
    """Folders named by ``REPRO_DATA_MIRRORS``, in order (empty entries ignored)."""
    value = os.environ.get(ENV_MIRRORS, "")
    return [Path(part).expanduser() for part in value.split(os.pathsep) if part.strip()]


def offline() -> bool:
    """True when ``REPRO_OFFLINE`` is set to anything but ``""``, ``0``, ``false`` or ``no``."""
    value = os.environ.get(ENV_OFFLINE, "").strip().lower()
    return value not in ("", "0", "false", "no")


def raw_path(subfolder: str, filename: str) -> Path:
    """Where the file lives (or will be downloaded to) inside ``data/raw``."""
    return raw_dir() / subfolder / filename


def candidate_paths(subfolder: str, filename: str) -> list[Path]:
    """Every place a file is looked for, in lookup order."""
    paths = [raw_path(subfolder, filename)]
    for mirror in mirror_dirs():
        paths += [mirror / subfolder / filename, mirror / filename]
    return paths


def _memo_key(path: Path) -> tuple[str, int, int]:
    stat = path.stat()
    return str(path.resolve()), stat.st_size, stat.st_mtime_ns


def remember_sha256(path: Path, sha256: str) -> None:
    """Record the sha256 of a file just written whose bytes were hashed while writing."""
    _SHA256_MEMO[_memo_key(path)] = sha256


def sha256_of(path: Path) -> str:
    """sha256 hex digest of a file, read in 1 MiB chunks; memoised per (path, size, mtime)."""
    key = _memo_key(path)
    if key not in _SHA256_MEMO:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            while chunk := handle.read(CHUNK_BYTES):
                digest.update(chunk)
        _SHA256_MEMO[key] = digest.hexdigest()
    return _SHA256_MEMO[key]


KEPT_NOTE = ("The file was refused and left untouched; replace it with a good copy of the "
             "official file.")


def checksum_error(path: Path | str, expected: str, actual: str, dataset: str,
                   note: str = KEPT_NOTE) -> ChecksumError:
    """The error for a file (or URL) whose sha256 is not the declared one."""
    return ChecksumError(
        f"Checksum mismatch for {path} (dataset {dataset!r}): expected sha256 {expected}, "
        f"actual sha256 {actual}. {note}"
    )


def verify_file(path: Path, expected_sha256: str | None, dataset: str) -> str:
    """Return the sha256 of ``path`` if it equals the expected one, else raise ChecksumError.

    ``expected_sha256=None`` (no published checksum): the sha256 is computed and returned,
    nothing is compared.
    """
    actual = sha256_of(path)
    if expected_sha256 is None:
        return actual
    if actual != expected_sha256.lower():
        raise checksum_error(path, expected_sha256, actual, dataset)
    return actual


def locate(subfolder: str, filename: str, folder: bool = False) -> Path | None:
    """The first existing candidate path of a file (a folder if ``folder``), or None."""
    for path in candidate_paths(subfolder, filename):
        if path.is_dir() if folder else path.is_file():
            return path
    return None


def folder_digest(folder: Path) -> str:
    """sha256 of a folder's listing: one ``<relative path>\\t<size>\\n`` line per file below
    it (``/``-separated, sorted). It identifies the set of files and their sizes cheaply; it
    is *not* a hash of their bytes."""
    digest = hashlib.sha256()
    for name, size in sorted(_files_below(Path(folder), "")):
        digest.update(f"{name}\t{size}\n".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def _files_below(folder: Path, prefix: str) -> Iterator[tuple[str, int]]:
    """(relative ``/``-separated path, size) of every file below ``folder``."""
    with os.scandir(folder) as entries:
        for entry in entries:
            name = prefix + entry.name
            if entry.is_dir():
                yield from _files_below(Path(entry.path), name + "/")
            elif entry.is_file():
                yield name, entry.stat().st_size
