"""Zip and tar archives from users: every entry is checked before anything is written, then the
regular files are extracted by us (never by ``extractall``) into a folder of the upload's own.

Refused: ``..`` and absolute names, links, devices and FIFOs, duplicate names, too many entries,
too many bytes once uncompressed, and compression ratios only a bomb reaches.
"""

from __future__ import annotations

import gzip
import io
import os
import stat
import tarfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

CHUNK = 1 << 20
RATIO_EXEMPT_BYTES = 1 << 20  # tiny files of zeros compress absurdly well and harm nobody
IGNORED_PARTS = {"__MACOSX", ".DS_Store"}
MAX_NAME_CHARS = 1024


class ArchiveError(ValueError):
    """An archive that is refused; the message says why, in words for the uploader."""


@dataclass(frozen=True)
class ArchiveLimits:
    max_entries: int = 10_000
    max_total_bytes: int = 2 << 30
    max_ratio: float = 100.0


@dataclass(frozen=True)
class Entry:
    name: PurePosixPath  # normalised, relative, never ``..``
    is_dir: bool
    size: int


def archive_format(head: bytes) -> str | None:
    """``zip``, ``tar`` or ``tar.gz`` from the first bytes (at least 512 for a plain tar)."""
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "zip"
    if head[:2] == b"\x1f\x8b":
        return "tar.gz"  # confirmed (or refused) when its first member is read
    if head[257:262] == b"ustar":
        return "tar"
    return None


def safe_name(raw: str) -> PurePosixPath | None:
    """The entry's relative path; None for entries to skip (Finder litter). Raises for unsafe names."""
    if len(raw) > MAX_NAME_CHARS or "\x00" in raw:
        raise ArchiveError(f"an entry name is not acceptable ({raw[:60]!r}...)")
    name = raw.replace("\\", "/")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise ArchiveError(f"entry {raw!r} has an absolute path")
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise ArchiveError(f"entry {raw!r} points outside the archive (..)")
    if not parts or any(part in IGNORED_PARTS for part in parts):
        return None
    return PurePosixPath(*parts)


def inspect_archive(path: Path, limits: ArchiveLimits) -> list[Entry]:
    """Every entry, checked; raises ArchiveError before anything is extracted."""
    kind = archive_format(_head(path))
    if kind == "zip":
        entries = _zip_entries(path, limits)
    elif kind in ("tar", "tar.gz"):
        entries = [entry for entry, _ in _tar_walk(path, limits)]
    else:
        raise ArchiveError("not a zip or tar archive")
    _check_totals(path, entries, limits)
    return entries


def extract_archive(path: Path, dest: Path, limits: ArchiveLimits) -> list[Entry]:
    """Check every entry, then write the regular files below ``dest`` (created, must not exist yet)."""
    entries = inspect_archive(path, limits)
    dest.mkdir(parents=True)
    budget = _Budget(limits.max_total_bytes)
    if archive_format(_head(path)) == "zip":
        try:
            with zipfile.ZipFile(path) as archive:
                for info in archive.infolist():
                    entry = _zip_entry(info)
                    if entry is not None and not entry.is_dir:
                        with archive.open(info) as source:
                            _write(source, dest, entry, budget)
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as error:
            raise ArchiveError(f"a damaged or unsupported zip entry ({error})") from None
    else:
        for entry, source in _tar_walk(path, limits, reading=True):
            if source is not None:
                _write(source, dest, entry, budget)
    return entries


def strip_common_root(entries: list[Entry]) -> PurePosixPath | None:
    """The one folder that wraps every file (``my-model/config.json``), or None."""
    files = [entry.name for entry in entries if not entry.is_dir]
    roots = {name.parts[0] for name in files}
    if len(roots) == 1 and all(len(name.parts) >= 2 for name in files):
        return PurePosixPath(roots.pop())
    return None


# --- zip


def _zip_entries(path: Path, limits: ArchiveLimits) -> list[Entry]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        raise ArchiveError(f"not a readable zip archive ({error})") from None
    with archive:
        infos = archive.infolist()
        if len(infos) > limits.max_entries:
            raise ArchiveError(f"the archive has {len(infos)} entries; at most {limits.max_entries} are accepted")
        entries = []
        for info in infos:
            entry = _zip_entry(info)
            if entry is None:
                continue
            if info.flag_bits & 0x1:
                raise ArchiveError(f"entry {info.filename!r} is encrypted")
            compressed = max(info.compress_size, 1)
            if info.file_size > RATIO_EXEMPT_BYTES and info.file_size / compressed > limits.max_ratio:
                raise ArchiveError(f"entry {info.filename!r} expands {info.file_size // compressed}x "
                                   f"(more than {limits.max_ratio:g}x): refused as a zip bomb")
            entries.append(entry)
        return entries


def _zip_entry(info: zipfile.ZipInfo) -> Entry | None:
    name = safe_name(info.filename)
    mode = info.external_attr >> 16
    kind = stat.S_IFMT(mode)
    if kind == stat.S_IFLNK:
        raise ArchiveError(f"entry {info.filename!r} is a symbolic link; links are refused")
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        raise ArchiveError(f"entry {info.filename!r} is not a regular file or folder")
    if name is None:
        return None
    return Entry(name=name, is_dir=info.is_dir() or kind == stat.S_IFDIR, size=0 if info.is_dir() else info.file_size)


# --- tar (plain or gzip), read as a stream so a huge member is refused before it is decompressed


def _tar_walk(path: Path, limits: ArchiveLimits, reading: bool = False):
    """(entry, file object or None) per member, checked as its header is read."""
    raw = open(path, "rb")
    compressed = os.fstat(raw.fileno()).st_size
    magic = raw.read(2)
    raw.seek(0)
    stream = gzip.GzipFile(fileobj=raw) if magic == b"\x1f\x8b" else raw
    # Headers and padding add a little to the members' sizes; a bomb of headers alone stops here too.
    ceiling = limits.max_total_bytes + 1024 * (limits.max_entries + 2)
    if compressed * limits.max_ratio > RATIO_EXEMPT_BYTES:
        ceiling = min(ceiling, max(int(compressed * limits.max_ratio), RATIO_EXEMPT_BYTES))
    counted = _CountingReader(stream, ceiling)
    try:
        with tarfile.open(fileobj=counted, mode="r|") as archive:
            total, count = 0, 0
            for member in archive:
                count += 1
                if count > limits.max_entries:
                    raise ArchiveError(f"the archive has more than {limits.max_entries} entries")
                entry = _tar_entry(member)
                if entry is None:
                    continue
                total += entry.size
                if total > limits.max_total_bytes:
                    raise ArchiveError(f"the archive expands past {limits.max_total_bytes} bytes")
                source = archive.extractfile(member) if reading and not entry.is_dir else None
                yield entry, source
    except (tarfile.TarError, EOFError, gzip.BadGzipFile, zlib.error) as error:
        raise ArchiveError(f"not a readable tar archive ({error})") from None
    finally:
        raw.close()


def _tar_entry(member: tarfile.TarInfo) -> Entry | None:
    if member.issym() or member.islnk():
        raise ArchiveError(f"entry {member.name!r} is a link; links are refused")
    if member.ischr() or member.isblk() or member.isfifo() or member.isdev():
        raise ArchiveError(f"entry {member.name!r} is a device or FIFO; only files and folders are accepted")
    if not (member.isfile() or member.isdir()):
        raise ArchiveError(f"entry {member.name!r} is not a regular file or folder")
    name = safe_name(member.name)
    if name is None:
        return None
    return Entry(name=name, is_dir=member.isdir(), size=0 if member.isdir() else member.size)


class _CountingReader(io.RawIOBase):
    """Reads through, and raises once more than ``ceiling`` decompressed bytes went by."""

    def __init__(self, stream, ceiling: int) -> None:
        self.stream, self.ceiling, self.seen = stream, ceiling, 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size if size >= 0 else CHUNK)
        self.seen += len(data)
        if self.seen > self.ceiling:
            raise ArchiveError(f"the archive expands past {self.ceiling} bytes (more than the cap or the "
                               "accepted compression ratio): refused as a bomb")
        return data

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


# --- shared


def _head(path: Path) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(512)


def _check_totals(path: Path, entries: list[Entry], limits: ArchiveLimits) -> None:
    if len(entries) > limits.max_entries:
        raise ArchiveError(f"the archive has {len(entries)} entries; at most {limits.max_entries} are accepted")
    total = sum(entry.size for entry in entries)
    if total > limits.max_total_bytes:
        raise ArchiveError(f"the archive expands to {total} bytes; at most {limits.max_total_bytes} are accepted")
    size = max(path.stat().st_size, 1)
    if total > RATIO_EXEMPT_BYTES and total / size > limits.max_ratio:
        raise ArchiveError(f"the archive expands {total // size}x (more than {limits.max_ratio:g}x): refused as a zip bomb")
    seen: dict[str, bool] = {}
    for entry in entries:
        key = str(entry.name)
        if key in seen and not (entry.is_dir and seen[key]):
            raise ArchiveError(f"entry {key!r} appears twice")
        seen[key] = entry.is_dir
    folders = {str(parent) for entry in entries for parent in entry.name.parents}
    clash = next((str(e.name) for e in entries if not e.is_dir and str(e.name) in folders), None)
    if clash:
        raise ArchiveError(f"entry {clash!r} is both a file and a folder")


class _Budget:
    def __init__(self, limit: int) -> None:
        self.left = limit

    def spend(self, amount: int) -> None:
        self.left -= amount
        if self.left < 0:
            raise ArchiveError("the archive expands past its declared sizes: refused")


def _write(source, dest: Path, entry: Entry, budget: _Budget) -> None:
    target = dest.joinpath(*entry.name.parts)
    target.parent.mkdir(parents=True, exist_ok=True)
    if dest.resolve() not in target.parent.resolve().parents and target.parent.resolve() != dest.resolve():
        raise ArchiveError(f"entry {str(entry.name)!r} would land outside its folder")
    # O_EXCL and O_NOFOLLOW: never through a link, never over a file written before.
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o640)
    written = 0
    with os.fdopen(fd, "wb") as out:
        while chunk := source.read(CHUNK):
            written += len(chunk)
            if written > entry.size:
                raise ArchiveError(f"entry {str(entry.name)!r} is larger than its header says: refused")
            budget.spend(len(chunk))
            out.write(chunk)
