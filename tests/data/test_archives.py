"""Safe in-memory reading of archive members."""

import io
import tarfile

import pytest

from repro.data import DatasetError, UnsafeArchiveError, load
from repro.data.archives import read_members


def tar_with(path, infos):
    """A .tar.gz of (TarInfo, bytes | None) entries."""
    with tarfile.open(path, "w:gz") as tar:
        for info, data in infos:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def regular(name, data=b"data"):
    return tarfile.TarInfo(name), data


def link(name, target, kind):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info, None


UNSAFE = {
    "absolute": regular("/tmp/evil"),
    "dotdot": regular("folder/../../evil"),
    "symlink": link("folder/wanted", "/etc/passwd", tarfile.SYMTYPE),
    "hardlink": link("folder/hard", "folder/other", tarfile.LNKTYPE),
    "device": link("folder/dev", "", tarfile.CHRTYPE),
}


@pytest.mark.parametrize("kind", sorted(UNSAFE))
def test_unsafe_member_is_refused_by_name(tmp_path, kind):
    info, data = UNSAFE[kind]
    archive = tar_with(tmp_path / "a.tar.gz", [regular("folder/ok"), (info, data),
                                               regular("folder/wanted")])
    with pytest.raises(UnsafeArchiveError) as error:
        read_members(archive, ["folder/wanted"])
    assert repr(info.name) in str(error.value) and str(archive) in str(error.value)


def test_wanted_members_are_read_and_missing_ones_named(tmp_path):
    archive = tar_with(tmp_path / "a.tar.gz", [regular("f/a", b"A"), regular("f/b", b"BB")])
    assert read_members(archive, ["f/b", "f/a"]) == {"f/a": b"A", "f/b": b"BB"}
    with pytest.raises(DatasetError, match=r"lacks the member\(s\) \['f/c'\]"):
        read_members(archive, ["f/a", "f/c"])


def test_scan_stops_after_the_last_wanted_member(tmp_path):
    good = tar_with(tmp_path / "a.tar.gz", [regular("f/a", b"A"), regular("f/big", b"x" * 50000)])
    truncated = tmp_path / "t.tar.gz"
    truncated.write_bytes(good.read_bytes()[:-40])  # the tail (f/big) is unreadable
    assert read_members(truncated, ["f/a"]) == {"f/a": b"A"}
    with pytest.raises(DatasetError, match="Cannot read archive"):
        read_members(truncated, ["f/big"])


def test_not_an_archive(tmp_path):
    path = tmp_path / "x.tar.gz"
    path.write_bytes(b"not a tar file at all" * 100)
    with pytest.raises(DatasetError, match="Cannot read archive"):
        read_members(path, ["a"])


def test_load_refuses_a_verified_archive_with_a_link_member(
        tmp_path, isolated_data_env, patch_files, tiny):
    folder = isolated_data_env / "cifar-10"
    folder.mkdir(parents=True)
    archive = tar_with(folder / "cifar-10-binary.tar.gz", [
        link("cifar-10-batches-bin/test_batch.bin", "../../../secret", tarfile.SYMTYPE)])
    patch_files("cifar-10", {archive.name: {"sha256": tiny.sha256_file(archive)}})
    with pytest.raises(UnsafeArchiveError, match="cifar-10-batches-bin/test_batch.bin"):
        load("cifar-10", split="test")
