"""Teachers: a zoo folder, an ONNX file, a Hugging Face directory, or ``catalog:NAME``.

``load_teacher(ref)`` picks the kind from what is on disk; pickles are refused outright.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import BadInput
from ..zoo import is_zoo_folder
from .base import Teacher, align_classes

PICKLE_SUFFIXES = {".pt", ".pth", ".bin", ".pkl", ".pickle", ".ckpt", ".joblib"}

__all__ = ["Teacher", "align_classes", "load_teacher", "resolve_teacher_path"]


def resolve_teacher_path(ref: str) -> Path:
    if ref.startswith("catalog:"):
        try:
            from ..catalog import resolve
        except ImportError:
            raise BadInput("catalog teachers are not installed in this copy of prsm") from None
        return Path(resolve(ref))
    path = Path(ref).expanduser()
    if not path.exists():
        raise BadInput(f"{ref}: no such teacher file or folder")
    return path


def load_teacher(ref: str, max_length: int = 128) -> Teacher:
    path = resolve_teacher_path(ref)
    if path.suffix.lower() in PICKLE_SUFFIXES:
        raise BadInput(f"{path.name}: pickled models are refused (they can run code); use safetensors or ONNX")
    if path.is_dir() and is_zoo_folder(path):
        from .zoo import ZooTeacher

        return ZooTeacher(ref, path)
    if path.is_dir() and (path / "config.json").is_file():
        from .huggingface import HuggingFaceTeacher

        return HuggingFaceTeacher(ref, path, max_length)
    if path.is_file() and path.suffix.lower() == ".onnx":
        from .onnx import OnnxTeacher

        return OnnxTeacher(ref, path)
    raise BadInput(f"{ref}: not a teacher (expected a zoo folder, a Hugging Face directory or an .onnx file)")
