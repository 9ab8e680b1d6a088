"""Image classification data: a folder or a zip with one subfolder per class (PNG or JPEG).

Every image must share one size and one mode; pixels become float32 ``[n, c, h, w]`` in 0..1.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..errors import BadInput
from ..untrusted.kinds import IMAGE_SUFFIXES
from .files import labelled
from .types import TaskData, sha256_of_bytes

GRAY_MODES = {"1", "L", "I", "I;16", "F"}


def load_image_folder(path: Path) -> TaskData:
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    entries = [(PurePosixPath(p.relative_to(path).as_posix()), p.read_bytes()) for p in files]
    return _from_entries(path, entries)


def load_image_zip(path: Path) -> TaskData:
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise BadInput(f"{path.name}: not a readable zip archive") from None
    with archive:
        names = sorted(n for n in archive.namelist()
                       if not n.endswith("/") and PurePosixPath(n).suffix.lower() in IMAGE_SUFFIXES
                       and "__MACOSX" not in n)
        entries = [(PurePosixPath(n), archive.read(n)) for n in names]
    return _from_entries(path, entries)


def _from_entries(path: Path, entries: list[tuple[PurePosixPath, bytes]]) -> TaskData:
    entries = _strip_common_root(entries)
    entries = [(name, content) for name, content in entries if len(name.parts) >= 2]
    if not entries:
        raise BadInput(f"{path.name}: no PNG or JPEG images in class subfolders")
    pixels, labels, shape, mode = [], [], None, None
    for name, content in entries:
        image = _open(path, name, content)
        if shape is None:
            shape, mode, first = image.size, image.mode, name
        if image.size != shape or image.mode != mode:
            raise BadInput(f"{path.name}: mixed image sizes or modes: {first} is {shape[0]}x{shape[1]} {mode}, "
                           f"{name} is {image.size[0]}x{image.size[1]} {image.mode}")
        pixels.append(_array(image))
        labels.append(name.parts[0])
    data = labelled(path, labels, "image", images=np.stack(pixels))
    data.sha256 = sha256_of_bytes(*(part for name, content in entries for part in (str(name).encode() + b"\0", content)))
    return data


def _strip_common_root(entries):
    """Drop one wrapping folder (``archive/cat/1.png`` -> ``cat/1.png``) when every file sits below it."""
    roots = {name.parts[0] for name, _ in entries}
    if len(roots) == 1 and all(len(name.parts) >= 3 for name, _ in entries):
        return [(PurePosixPath(*name.parts[1:]), content) for name, content in entries]
    return entries


def _open(path: Path, name: PurePosixPath, content: bytes) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(content))
        image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise BadInput(f"{path.name}: unreadable image {name} ({type(error).__name__})") from None
    return image


def _array(image: Image.Image) -> np.ndarray:
    if image.mode in GRAY_MODES:
        array = np.asarray(image.convert("L"), dtype=np.float32)[None]
    else:
        array = np.asarray(image.convert("RGB"), dtype=np.float32).transpose(2, 0, 1)
    return array / 255.0
