"""Bring a file into ``data/raw``: download it from a URL or copy it from a mirror.

Bytes go to a temporary file next to the destination and are hashed while written; only a
file whose sha256 matches is renamed into place, so a half-written or corrupt file is never
left under its real name.
"""

from __future__ import annotations

import hashlib
import os
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from tqdm import tqdm

from repro.data.errors import DatasetError
from repro.data.files import CHUNK_BYTES, checksum_error, remember_sha256

TIMEOUT_S = 60
USER_AGENT = "repro-data/0.1 (python urllib)"


def _chunks(stream: BinaryIO) -> Iterator[bytes]:
    while chunk := stream.read(CHUNK_BYTES):
        yield chunk


def _write_verified(chunks: Iterator[bytes], dest: Path, expected_sha256: str,
                    source: str, dataset: str, total: int | None, progress: bool) -> str:
    """Write ``chunks`` to ``dest`` atomically if their sha256 is ``expected_sha256``."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.part")
    digest = hashlib.sha256()
    try:
        with open(tmp, "xb") as handle, tqdm(
            total=total, unit="B", unit_scale=True, desc=dest.name, mininterval=1.0,
            leave=False, disable=not progress,
        ) as bar:
            for chunk in chunks:
                handle.write(chunk)
                digest.update(chunk)
                bar.update(len(chunk))
        actual = digest.hexdigest()
        if actual != expected_sha256.lower():
            raise checksum_error(source, expected_sha256, actual, dataset,
                                 note="The bytes read from it were discarded.")
        os.replace(tmp, dest)
        remember_sha256(dest, actual)
        return actual
    finally:
        tmp.unlink(missing_ok=True)


def download(url: str, dest: Path, expected_sha256: str, dataset: str) -> str:
    """Download ``url`` to ``dest`` (verified); return the sha256.

    Raises ChecksumError if the downloaded bytes have another sha256 (nothing is kept),
    and OSError / urllib errors when the URL cannot be read.
    """
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
        length = response.headers.get("Content-Length") if response.headers else None
        total = int(length) if length and length.isdigit() else None
        return _write_verified(_chunks(response), dest, expected_sha256, url, dataset, total,
                               progress=True)


def copy_verified(source: Path, dest: Path, expected_sha256: str, dataset: str) -> str:
    """Copy ``source`` (e.g. from a mirror) to ``dest``, verified; return the sha256."""
    if source.resolve() == dest.resolve():
        raise DatasetError(f"Cannot copy {source} onto itself.")
    with open(source, "rb") as stream:
        return _write_verified(_chunks(stream), dest, expected_sha256, str(source), dataset,
                               source.stat().st_size, progress=False)
