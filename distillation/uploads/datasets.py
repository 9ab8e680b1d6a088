"""A data set upload checked with the engine's own loaders (CSV or JSONL text, or an archive of one
folder of PNG or JPEG images per class) after the caps the loaders do not know about."""

from __future__ import annotations

import csv
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from PIL import Image

from prsm.engine.data.files import json_depth
from prsm.engine.errors import BadInput
from prsm.engine.untrusted.kinds import IMAGE_SUFFIXES

from .errors import UploadError
from .pickles import refuse_forbidden_imports
from .sniffing import KIND_WORDS, is_image, sniff
from .storage import Received, archive_limits, extract, file_head, relative_to_media


@dataclass(frozen=True)
class StoredDataset:
    format: str  # csv | jsonl | images
    path: str
    task: str
    rows: int
    classes: list[str]


def dataset_store(received: Received, folder: Path) -> StoredDataset:
    """Validate a received data file with the engine's loaders and lay it out in ``folder``."""
    kind = sniff(received.head, received.size)
    if kind == "pickle":
        refuse_forbidden_imports(received.path, "the file")
        raise UploadError("the file is a Python pickle; data sets are CSV, JSONL, or a zip of image folders")
    if kind == "text":
        fmt = "jsonl" if received.head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{") else "csv"
        target = folder / f"data.{fmt}"
        received.path.rename(target)
        _check_jsonl(target) if fmt == "jsonl" else _check_csv(target)
        return _loaded(fmt, target)
    if kind in ("zip", "tar", "tar.gz"):
        root = extract(received.path, folder / "images", archive_limits("DATASET"))
        _check_images(root)
        return _loaded("images", root)
    raise UploadError(f"the file is {KIND_WORDS[kind]}, not a data set (expected CSV or JSONL text, "
                      "or a zip or tar of one folder per class with PNG or JPEG images)")


def _loaded(fmt: str, path: Path) -> StoredDataset:
    from prsm.engine.data.loaders import load_data

    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            data = load_data(str(path))
        except BadInput as error:
            raise UploadError(str(error).replace(str(path.parent) + os.sep, "")) from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
            raise UploadError(f"an image is too large: {error}") from None
    return StoredDataset(fmt, relative_to_media(path), data.task, len(data.labels), list(data.classes))


def _check_csv(path: Path) -> None:
    limit = settings.UPLOAD_CSV_MAX_FIELD_CHARS
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as handle:
        reader = csv.reader(handle)
        try:
            for row in reader:
                if any(len(field) > limit for field in row):
                    raise UploadError(f"line {reader.line_num}: a field is longer than {limit} characters")
        except csv.Error as error:
            if "field larger than field limit" in str(error):
                limit = min(limit, csv.field_size_limit())
                raise UploadError(f"line {reader.line_num}: a field is longer than {limit} characters") from None
            raise UploadError(f"line {reader.line_num}: not readable CSV ({error})") from None


def _check_jsonl(path: Path) -> None:
    limit = settings.UPLOAD_JSONL_MAX_DEPTH
    with open(path, encoding="utf-8-sig", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            if line.count("[") + line.count("{") > limit and json_depth(line) > limit:
                raise UploadError(f"line {number}: JSON nested deeper than {limit} levels")


def _check_images(root: Path) -> None:
    """Only PNG and JPEG, each and all together under the pixel caps, before the engine decodes one."""
    per_image, total = settings.UPLOAD_MAX_IMAGE_PIXELS, 0
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES):
        name = path.relative_to(root).as_posix()
        if not is_image(file_head(path)[:8]):
            raise UploadError(f"{name}: not a PNG or JPEG image (by its content)")
        width, height = _image_size(path, name)
        if width * height > per_image:
            raise UploadError(f"{name}: {width}x{height} pixels is more than the {per_image} accepted per image")
        total += width * height
        if total > settings.UPLOAD_MAX_DATASET_PIXELS:
            raise UploadError(f"the images hold more than {settings.UPLOAD_MAX_DATASET_PIXELS} pixels in all")


def _image_size(path: Path, name: str) -> tuple[int, int]:
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(path) as image:  # reads the header only
                return image.size
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise UploadError(f"{name}: the image is too large (a decompression bomb?)") from None
        except (OSError, SyntaxError, ValueError):
            raise UploadError(f"{name}: unreadable image") from None
