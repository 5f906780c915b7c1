"""Read members of a zip archive into memory, safely (the zip counterpart of
:mod:`repro.data.archives`).

Nothing is written to disk. When the archive is opened every member is checked: an absolute
path (``/x``, ``\\x``, ``C:x``), a ``..`` component or a symbolic link (Unix mode stored in
the member's external attributes) is refused with :class:`UnsafeArchiveError` naming the
member, whether or not it is wanted. Member names are used as stored (``/``-separated).
"""

from __future__ import annotations

import stat
import zipfile
import zlib
from collections.abc import Collection
from pathlib import Path, PurePosixPath
from types import TracebackType

from repro.data.errors import DatasetError, UnsafeArchiveError

READ_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, zlib.error,
               NotImplementedError, RuntimeError)


def member_problem(info: zipfile.ZipInfo) -> str | None:
    """Why extracting ``info`` would be unsafe, or None for a plain file or folder."""
    name = info.filename
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return "absolute path"
    if ".." in PurePosixPath(name.replace("\\", "/")).parts:
        return "'..' path component (would land outside the target folder)"
    mode = info.external_attr >> 16
    if mode and stat.S_ISLNK(mode):
        return "symbolic link"
    return None


class ZipReader:
    """An open, checked zip archive: ``names`` (its file members) and :meth:`read`.

    Use as a context manager. Raises DatasetError if the file is not a readable zip archive,
    UnsafeArchiveError if a member is unsafe.
    """

    def __init__(self, archive: Path):
        self.archive = Path(archive)
        try:
            self._zip = zipfile.ZipFile(self.archive)
        except READ_ERRORS as error:
            raise DatasetError(f"Cannot read zip archive {self.archive}: {error}") from error
        try:
            for info in self._zip.infolist():
                problem = member_problem(info)
                if problem:
                    raise UnsafeArchiveError(
                        f"Refusing archive {self.archive}: member {info.filename!r} is unsafe "
                        f"({problem})."
                    )
        except BaseException:
            self._zip.close()
            raise
        self.names = frozenset(info.filename for info in self._zip.infolist()
                               if not info.is_dir())

    def read(self, name: str) -> bytes:
        """The bytes of member ``name``; DatasetError if it is absent or corrupt."""
        if name not in self.names:
            raise DatasetError(f"Archive {self.archive} lacks the member {name!r}; "
                               "is it the official file?")
        try:
            return self._zip.read(name)
        except READ_ERRORS as error:
            raise DatasetError(f"Cannot read member {name!r} of {self.archive}: "
                               f"{error}") from error

    def require(self, names: Collection[str]) -> None:
        """DatasetError listing the members of ``names`` the archive lacks (up to 10)."""
        missing = sorted(set(names) - self.names)
        if missing:
            shown = ", ".join(repr(m) for m in missing[:10])
            more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
            raise DatasetError(f"Archive {self.archive} lacks {len(missing)} member(s): "
                               f"{shown}{more}; is it the official file?")

    def close(self) -> None:
        self._zip.close()

    def __enter__(self) -> ZipReader:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

