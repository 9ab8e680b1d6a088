"""``load_data(ref)``: one entry point for every data reference the CLI and the platform accept.

A reference is ``builtin:NAME``, a CSV or JSONL file, an image folder, or a zip of image folders.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import BadInput
from .files import load_csv, load_jsonl
from .images import load_image_folder, load_image_zip
from .types import TASKS, TaskData


def load_data(ref: str, task: str = "auto") -> TaskData:
    """The labelled data at ``ref``; ``task`` (text/image/tabular/auto) disambiguates a CSV."""
    if task != "auto" and task not in TASKS:
        raise BadInput(f"unknown task {task!r} (expected auto, {', '.join(TASKS)})")
    data = _builtin(ref[len("builtin:"):]) if ref.startswith("builtin:") else _file(Path(ref).expanduser(), task)
    if task != "auto" and data.task != task:
        raise BadInput(f"{ref} holds {data.task} data, but the task is {task}")
    return data


def _builtin(name: str) -> TaskData:
    try:
        from .builtin import load_builtin
    except ImportError:
        raise BadInput("built-in data sets are not installed in this copy of prsm") from None
    return load_builtin(name)


def _file(path: Path, task: str) -> TaskData:
    if not path.exists():
        raise BadInput(f"{path}: no such file or folder")
    if path.is_dir():
        return load_image_folder(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return load_csv(path, task)
    if suffix in (".jsonl", ".ndjson"):
        return load_jsonl(path, task)
    if suffix == ".zip":
        return load_image_zip(path)
    raise BadInput(f"{path.name}: unknown data format {suffix or '(no suffix)'} (expected .csv, .jsonl, a folder or .zip)")
