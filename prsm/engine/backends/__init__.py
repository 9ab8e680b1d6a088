"""The backend registry: a name to a module holding one ``Backend`` subclass.

Adding a backend means adding a folder beside ``pytorch/`` and a line here.
"""

from __future__ import annotations

import importlib

from ..errors import BadInput
from .base import Backend, Student

REGISTRY = {
    "pytorch": "prsm.engine.backends.pytorch",
    "transformers": "prsm.engine.backends.transformers",
}

__all__ = ["Backend", "Student", "get_backend", "select_backend", "REGISTRY"]


def get_backend(name: str) -> Backend:
    if name == "tensorflow":
        raise BadInput("the tensorflow backend is not available in this version; use pytorch or transformers")
    if name not in REGISTRY:
        raise BadInput(f"unknown backend {name!r} (expected auto, {', '.join(REGISTRY)})")
    return importlib.import_module(REGISTRY[name]).BACKEND


def select_backend(requested: str, task: str, teacher_kind: str) -> str:
    """``auto``: text goes to transformers (the student is a smaller transformer), the rest to pytorch."""
    name = ("transformers" if task == "text" else "pytorch") if requested == "auto" else requested
    backend = get_backend(name)
    if task not in backend.tasks:
        raise BadInput(f"the {name} backend does not handle {task} data (it handles {', '.join(backend.tasks)})")
    return name
