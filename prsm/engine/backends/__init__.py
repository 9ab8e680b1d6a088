"""The backend registry: a name to a module holding one ``Backend`` subclass.

Adding a backend means adding a folder beside ``pytorch/`` and a line here.
"""

from __future__ import annotations

import importlib

from ..errors import BadInput
from ..formats import TENSORFLOW_FORMATS
from .base import Backend, Student, strategy_refused

REGISTRY = {
    "pytorch": "prsm.engine.backends.pytorch",
    "transformers": "prsm.engine.backends.transformers",
    "tensorflow": "prsm.engine.backends.tensorflow",
}

__all__ = ["Backend", "Student", "get_backend", "select_backend", "formats_of", "CONVERTED_FORMATS", "REGISTRY",
           "strategy_refused"]


def get_backend(name: str) -> Backend:
    if name not in REGISTRY:
        raise BadInput(f"unknown backend {name!r} (expected auto, {', '.join(REGISTRY)})")
    return importlib.import_module(REGISTRY[name]).BACKEND


# Formats a backend's students are written in through another backend: a PyTorch zoo student (mlp,
# cnn) is copied into the Keras model of its design (tensorflow.from_torch) for TensorFlow's formats.
CONVERTED_FORMATS = {"pytorch": TENSORFLOW_FORMATS}


def formats_of(name: str) -> tuple[str, ...]:
    """Every format a job on backend ``name`` can export: its own, then those it gets by conversion."""
    return (*get_backend(name).formats, *CONVERTED_FORMATS.get(name, ()))


def select_backend(requested: str, task: str, teacher_kind: str, exports: list[str] | None = None,
                   hardware: list[str] | None = None) -> str:
    """``auto``: tensorflow where a TensorFlow format or a mobile target is asked for (for text, a
    Keras embedding bag); otherwise text goes to transformers (the student is a smaller
    transformer), the rest to pytorch."""
    mobile = "mobile" in (hardware or [])
    if requested == "auto":
        wants_tensorflow = mobile or any(f in TENSORFLOW_FORMATS for f in exports or [])
        name = "tensorflow" if wants_tensorflow else "transformers" if task == "text" else "pytorch"
    else:
        name = requested
    backend = get_backend(name)
    if task not in backend.tasks:
        raise BadInput(f"the {name} backend does not handle {task} data (it handles {', '.join(backend.tasks)})")
    return name
