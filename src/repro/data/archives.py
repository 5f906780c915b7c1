"""Read chosen members of a (checksum-verified) tar archive into memory, safely.

Nothing is written to disk. Every member met while scanning is checked: an absolute path, a
``..`` component, a symbolic or hard link, or a device / fifo entry is refused with
:class:`UnsafeArchiveError` naming the member, whether or not it was wanted. The scan stops
as soon as every wanted member has been read, so large unwanted members stored after them
(STL-10's ``unlabeled_X.bin``) are never decompressed.
"""

from __future__ import annotations

import posixpath
import tarfile
import zlib
from collections.abc import Collection
from pathlib import Path, PurePosixPath

from repro.data.errors import DatasetError, UnsafeArchiveError


def member_problem(member: tarfile.TarInfo) -> str | None:
    """Why extracting ``member`` would be unsafe, or None if it is a plain file or folder."""
    name = member.name
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return "absolute path"
    if ".." in PurePosixPath(name.replace("\\", "/")).parts:
        return "'..' path component (would land outside the target folder)"
    if member.issym() or member.islnk():
        return f"link to {member.linkname!r}"
    if not (member.isfile() or member.isdir()):
        return "special file (device, fifo, ...)"
    return None


def read_members(archive: Path, wanted: Collection[str]) -> dict[str, bytes]:
    """Bytes of each ``wanted`` member (names as stored, e.g. ``cifar-10-batches-py/test_batch``).

    Raises UnsafeArchiveError for an unsafe member, DatasetError if the archive cannot be
    read or lacks a wanted member.
    """
    remaining = set(wanted)
    found: dict[str, bytes] = {}
    try:
        with tarfile.open(archive, mode="r|*") as tar:
            for member in tar:
                problem = member_problem(member)
                if problem:
                    raise UnsafeArchiveError(
                        f"Refusing archive {archive}: member {member.name!r} is unsafe "
                        f"({problem})."
                    )
                name = posixpath.normpath(member.name)
                if name in remaining and member.isfile():
                    found[name] = tar.extractfile(member).read()
                    remaining.discard(name)
                    if not remaining:
                        break
    except (tarfile.TarError, EOFError, OSError, zlib.error) as error:
        raise DatasetError(f"Cannot read archive {archive}: {error}") from error
    if remaining:
        raise DatasetError(
            f"Archive {archive} lacks the member(s) {sorted(remaining)}; "
            "is it the official file?"
        )
    return found
