"""An export as an HTTP download, shared by the job's artifacts route and the marketplace's.

A file export goes as it is. A folder export (the Transformers format: weights, config and tokenizer)
goes as one zip archive, built once beside the folder with fixed timestamps and kept, so every
download of it is the same bytes with the same checksum.
"""

import hashlib
import os
import tempfile
import zipfile
from pathlib import Path

from django.conf import settings
from django.http import FileResponse, Http404

ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest a zip can hold: the archive does not depend on when it was built


def artifact_download_response(artifact) -> FileResponse:
    """An export's file (a folder zipped) as an attachment (never rendered: nosniff), with its checksum;
    404 when the export or its file is missing, or its path would leave MEDIA_ROOT."""
    if artifact is None:
        raise Http404("No such export.")
    root = Path(settings.MEDIA_ROOT).resolve()
    path = (root / artifact.path).resolve()
    if root not in path.parents or not (path.is_file() or path.is_dir()):
        raise Http404("The export's file is missing.")
    checksum = artifact.sha256
    if path.is_dir():
        path, checksum = folder_archive(path)
    response = FileResponse(open(path, "rb"), as_attachment=True, filename=path.name,
                            content_type="application/zip" if path.suffix == ".zip" else "application/octet-stream")
    response["X-Content-Type-Options"] = "nosniff"
    response["X-Checksum-SHA256"] = checksum
    return response


def folder_archive(folder: Path) -> tuple[Path, str]:
    """``folder``'s zip (``<folder>.zip`` beside it) and the zip's sha256, building both the first time.
    Links and anything outside the folder are left out; a half-written archive is never served (it is
    written to a temporary name and renamed)."""
    archive, digest_file = folder.with_name(folder.name + ".zip"), folder.with_name(folder.name + ".zip.sha256")
    if archive.is_file() and digest_file.is_file():
        return archive, digest_file.read_text().strip()
    handle, temporary = tempfile.mkstemp(dir=folder.parent, prefix=f".{folder.name}.", suffix=".zip")
    try:
        with os.fdopen(handle, "wb") as out, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
            for file in sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()):
                info = zipfile.ZipInfo(f"{folder.name}/{file.relative_to(folder).as_posix()}", ZIP_DATE)
                info.compress_type, info.external_attr = zipfile.ZIP_DEFLATED, 0o644 << 16
                with open(file, "rb") as source, zf.open(info, "w") as target:
                    for block in iter(lambda: source.read(1 << 20), b""):
                        target.write(block)
        digest = hashlib.sha256()
        with open(temporary, "rb") as built:
            for block in iter(lambda: built.read(1 << 20), b""):
                digest.update(block)
        os.replace(temporary, archive)
        digest_file.write_text(digest.hexdigest())
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return archive, digest.hexdigest()
