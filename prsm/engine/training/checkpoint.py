"""Atomic checkpoints: written to a temporary file, then renamed, so a crash never leaves half a file."""

from __future__ import annotations

import os
from pathlib import Path

import torch


def save_atomic(state: dict, path: Path) -> None:
    _write_atomic(path, lambda handle: torch.save(state, handle))


def write_text_atomic(path: Path, text: str) -> None:
    _write_atomic(path, lambda handle: handle.write(text.encode()))


def _write_atomic(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "wb") as handle:
        write(handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def load_checkpoint(path: Path) -> dict | None:
    """The checkpoint at ``path``, or None; ``weights_only`` so loading never runs pickled code."""
    if not path.is_file():
        return None
    return torch.load(path, map_location="cpu", weights_only=True)
