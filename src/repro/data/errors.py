"""Errors raised by the dataset layer.

Every error message is meant to be read by a person: it names the dataset, the file, the
expected checksum and what to do next.
"""


class DatasetError(RuntimeError):
    """A dataset cannot be provided: missing file, unknown name, bad file content, ..."""


class ChecksumError(DatasetError):
    """A file is present but its checksum differs from the declared one.

    The file is never used, overwritten or deleted; the message names its path and both
    hashes (expected, actual).
    """


class UnsafeArchiveError(DatasetError):
    """An archive member would land outside its target folder (absolute path, ``..``,
    symbolic or hard link, device file); the archive is refused."""


class UnknownDatasetError(DatasetError):
    """A dataset name that is not in the registry; the message lists the known names."""
