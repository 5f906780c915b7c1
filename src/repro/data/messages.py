"""The "files missing" message: every missing file, its sha256, where to put it, its URL."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from repro.data import files

if TYPE_CHECKING:
    from repro.data.registry import DatasetSpec, FileSpec


def _mirror_hint() -> str:
    current = os.environ.get(files.ENV_MIRRORS, "")
    return f"currently {current!r}" if current.strip() else "currently unset"


def file_block(spec: FileSpec) -> list[str]:
    """Lines describing one missing file: name, sha256, where to put it, where to get it."""
    if spec.folder:
        checksum = "not applicable (a folder; recorded by the sha256 of its listing)"
    elif spec.sha256 is None:
        checksum = "none published (the file is used unverified; see data/README.md)"
    else:
        checksum = spec.sha256
    kind = "the folder " if spec.folder else ""
    lines = [
        f"  - {spec.filename}{'/' if spec.folder else ''}",
        f"      sha256:    {checksum}",
        f"      put it in: {files.raw_dir() / spec.subfolder}{os.sep}",
        f"                 or in a mirror folder named by {files.ENV_MIRRORS} "
        f"(as {kind}<mirror>/{spec.subfolder}/{spec.filename} or <mirror>/{spec.filename}; "
        f"{_mirror_hint()})",
    ]
    if spec.manual_page:
        lines.append(f"      get it at: {spec.manual_page} (manual download: {spec.manual_note})")
    lines += [f"      URL:       {url}" for url in spec.urls]
    return lines


def _why_not_downloaded(spec: DatasetSpec, can_download: bool, allow_download: bool,
                        failures: list[tuple[str, Exception]]) -> list[str]:
    if not any(all(f.downloadable for f in source) for source in spec.sources):
        return ["No automatic download exists for this dataset: download it by hand."]
    if not allow_download:
        return [f"Nothing was downloaded; `python -m repro data fetch {spec.name}` "
                "downloads the official files."]
    if not can_download:
        return [f"Automatic download is disabled ({files.ENV_OFFLINE} is set)."]
    return ["Download failed (unreachable or wrong content):"] + [
        f"  {url}: {error}" for url, error in failures
    ]


def missing_files_message(spec: DatasetSpec, can_download: bool, allow_download: bool,
                          failures: list[tuple[str, Exception]]) -> str:
    """The DatasetError text for a dataset none of whose sources is complete."""
    missing = [[f for f in source if files.locate(f.subfolder, f.filename, f.folder) is None]
               for source in spec.sources]
    if len(spec.sources) == 1:
        lines = [f"Dataset {spec.name!r} cannot be loaded: {len(missing[0])} file(s) missing."]
        lines += [line for f in missing[0] for line in file_block(f)]
    else:
        lines = [f"Dataset {spec.name!r} cannot be loaded: it needs any one of "
                 f"{len(spec.sources)} alternatives, none of which is complete."]
        for number, absent in enumerate(missing, start=1):
            lines.append(f" alternative {number}: missing {len(absent)} file(s)")
            lines += [line for f in absent for line in file_block(f)]
    lines += _why_not_downloaded(spec, can_download, allow_download, failures)
    return "\n".join(lines)
