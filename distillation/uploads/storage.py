"""Where uploads live (``MEDIA_ROOT/uploads/<kind>/<uuid>/``), receiving the bytes, extracting an
archive after every check, and discarding a refused upload's folder."""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path, PurePath

from django.conf import settings

from ..archives import ArchiveError, ArchiveLimits, extract_archive, strip_common_root
from .errors import UploadError, UploadTooLarge

CHUNK = 1 << 20
HEAD_BYTES = 64 * 1024


@dataclass(frozen=True)
class Received:
    path: Path
    sha256: str
    size: int
    head: bytes
    original_name: str


def upload_folder(kind: str, public_id) -> Path:
    return Path(settings.MEDIA_ROOT) / "uploads" / kind / str(public_id)


def relative_to_media(path: Path) -> str:
    return path.relative_to(Path(settings.MEDIA_ROOT)).as_posix()


def media_path(relative: str) -> Path:
    """The absolute path of a stored upload; refuses anything that would leave MEDIA_ROOT."""
    root = Path(settings.MEDIA_ROOT).resolve()
    path = (root / relative).resolve()
    if root not in path.parents:
        raise ValueError(f"stored path {relative!r} is outside MEDIA_ROOT")
    return path


def receive(file, folder: Path, *, max_bytes: int) -> Received:
    """Stream the uploaded file into ``folder/upload.part``; 413 past ``max_bytes``."""
    folder.mkdir(parents=True, exist_ok=False)
    target = folder / "upload.part"
    digest, size, head = hashlib.sha256(), 0, b""
    chunks = file.chunks(CHUNK) if hasattr(file, "chunks") else iter(lambda: file.read(CHUNK), b"")
    with open(target, "xb") as out:
        for chunk in chunks:
            size += len(chunk)
            if size > max_bytes:
                raise UploadTooLarge(max_bytes)
            if len(head) < HEAD_BYTES:
                head += chunk[: HEAD_BYTES - len(head)]
            digest.update(chunk)
            out.write(chunk)
    if size == 0:
        raise UploadError("the file is empty")
    return Received(target, digest.hexdigest(), size, head, PurePath(getattr(file, "name", "") or "").name)


def file_head(path: Path) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(HEAD_BYTES)


def discard(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


def archive_limits(kind: str) -> ArchiveLimits:
    """The caps for a ``TEACHER`` or ``DATASET`` archive."""
    return ArchiveLimits(max_entries=settings.UPLOAD_MAX_ARCHIVE_ENTRIES,
                         max_total_bytes=getattr(settings, f"UPLOAD_MAX_{kind}_UNCOMPRESSED_BYTES"),
                         max_ratio=settings.UPLOAD_MAX_COMPRESSION_RATIO)


def extract(archive: Path, dest: Path, limits: ArchiveLimits) -> Path:
    """Extract (after every check) and return the folder that holds the content."""
    try:
        entries = extract_archive(archive, dest, limits)
    except ArchiveError as error:
        raise UploadError(f"archive refused: {error}") from None
    finally:
        archive.unlink(missing_ok=True)
    if not any(not entry.is_dir for entry in entries):
        raise UploadError("the archive is empty")
    wrapper = strip_common_root(entries)
    return dest.joinpath(*wrapper.parts) if wrapper else dest
