"""Archives are checked entry by entry before a byte is written; only regular files come out."""

import gzip
import io
import tarfile
import zipfile

import pytest

from distillation.archives import ArchiveError, ArchiveLimits, extract_archive, inspect_archive
from tests.hostile_files import tar_member, tar_of, zip_of

LIMITS = ArchiveLimits(max_entries=50, max_total_bytes=4 << 20, max_ratio=100)


def _refused(tmp_path, content: bytes, match: str, limits: ArchiveLimits = LIMITS):
    archive = tmp_path / "upload.part"
    archive.write_bytes(content)
    dest = tmp_path / "out"
    with pytest.raises(ArchiveError, match=match):
        extract_archive(archive, dest, limits)
    assert not dest.exists(), "nothing may be written before every entry passed"


def test_a_good_zip_and_a_good_tar_gz_extract_their_files(tmp_path):
    for index, content in enumerate([zip_of({"cat/1.png": b"a", "dog/2.png": b"bb"}),
                                     tar_of({"cat/1.png": b"a", "dog/2.png": b"bb"}, gz=True)]):
        archive = tmp_path / f"upload-{index}"
        archive.write_bytes(content)
        extract_archive(archive, tmp_path / f"out-{index}", LIMITS)
        assert (tmp_path / f"out-{index}" / "dog" / "2.png").read_bytes() == b"bb"


@pytest.mark.parametrize("name", ["../evil.txt", "a/../../evil.txt", "..\\evil.txt"])
def test_it_refuses_a_zip_entry_that_climbs_out(tmp_path, name):
    _refused(tmp_path, zip_of({"ok.txt": b"x", name: b"pwned"}), r"outside the archive")


@pytest.mark.parametrize("name", ["/etc/evil", "C:/evil.txt"])
def test_it_refuses_a_zip_entry_with_an_absolute_path(tmp_path, name):
    _refused(tmp_path, zip_of({name: b"pwned"}), "absolute path")


def test_it_refuses_a_zip_holding_a_symlink(tmp_path):
    _refused(tmp_path, zip_of({"ok.txt": b"x"}, symlinks={"link": "/etc/passwd"}), "symbolic link")


def test_it_refuses_a_tar_entry_that_climbs_out(tmp_path):
    _refused(tmp_path, tar_of({"../../evil.txt": b"pwned"}), r"outside the archive")
    _refused(tmp_path, tar_of({"/tmp/evil.txt": b"pwned"}, gz=True), "absolute path")


@pytest.mark.parametrize(("kind", "linkname"), [(tarfile.SYMTYPE, "/etc/passwd"), (tarfile.LNKTYPE, "ok.txt")])
def test_it_refuses_a_tar_holding_a_link(tmp_path, kind, linkname):
    _refused(tmp_path, tar_of({"ok.txt": b"x"}, extra=[tar_member("link", kind, linkname)]), "link")


@pytest.mark.parametrize("kind", [tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.FIFOTYPE])
def test_it_refuses_a_tar_holding_a_device_or_fifo(tmp_path, kind):
    _refused(tmp_path, tar_of({"ok.txt": b"x"}, gz=True, extra=[tar_member("dev/null", kind)]), "device or FIFO")


def test_it_refuses_a_zip_bomb_by_its_compression_ratio(tmp_path):
    bomb = zip_of({"zeros.bin": bytes(3 << 20)})  # 3 MiB of zeros in a few KiB
    assert len(bomb) < 64 << 10
    _refused(tmp_path, bomb, "zip bomb")


def test_it_refuses_a_zip_that_expands_past_the_cap(tmp_path):
    lenient = ArchiveLimits(max_entries=50, max_total_bytes=2 << 20, max_ratio=10_000)
    _refused(tmp_path, zip_of({"a.bin": bytes(1 << 20), "b.bin": bytes(3 << 20)}), "expands to", lenient)


def test_it_refuses_a_tar_gz_bomb_before_decompressing_it(tmp_path):
    bomb = tar_of({"zeros.bin": bytes(8 << 20)}, gz=True)
    assert len(bomb) < 64 << 10
    _refused(tmp_path, bomb, "bomb|expands past")


def test_it_refuses_too_many_entries(tmp_path):
    _refused(tmp_path, zip_of({f"{i}.txt": b"x" for i in range(51)}), "entries")
    _refused(tmp_path, tar_of({f"{i}.txt": b"x" for i in range(51)}), "entries")


def test_it_refuses_a_zip_whose_header_understates_an_entry(tmp_path):
    """A forged central directory that declares 10 bytes for a larger entry is caught while reading."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("a.txt", b"x" * 1000)
    content = bytearray(buffer.getvalue())
    central = content.rindex(b"PK\x01\x02")
    content[central + 24:central + 28] = (10).to_bytes(4, "little")  # uncompressed size in the central directory
    archive = tmp_path / "upload.part"
    archive.write_bytes(bytes(content))
    with pytest.raises(ArchiveError):
        extract_archive(archive, tmp_path / "out", LIMITS)


def test_a_gzip_that_is_not_a_tar_is_refused_plainly(tmp_path):
    archive = tmp_path / "upload.part"
    archive.write_bytes(gzip.compress(b"just some text, not a tar archive" * 20))
    with pytest.raises(ArchiveError, match="not a readable tar"):
        inspect_archive(archive, LIMITS)
