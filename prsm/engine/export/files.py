"""Checksums and sizes of export files and folders, and the report record for one export."""

from __future__ import annotations

import hashlib
from pathlib import Path


def sha256_of(path: Path) -> str:
    """A file's sha256; a folder's is over its files' relative names and contents, sorted."""
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        if path.is_dir():
            digest.update(file.relative_to(path).as_posix().encode() + b"\0")
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def size_of(path: Path) -> int:
    return path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def export_record(path: Path, root: Path, verified: bool, max_abs_diff: float | None, **extra) -> dict:
    return {"path": path.relative_to(root).as_posix(), "sha256": sha256_of(path), "size_bytes": size_of(path),
            "verified": bool(verified), "max_abs_diff": None if max_abs_diff is None else float(max_abs_diff), **extra}


def within_tolerance(actual, expected, atol: float = 1e-4, rtol: float = 1e-3) -> tuple[bool, float]:
    """(close enough, max |actual - expected|): the tolerance scales with the logits' magnitude."""
    import numpy as np

    diff = float(np.abs(actual - expected).max())
    return diff <= atol + rtol * float(np.abs(expected).max()), diff
