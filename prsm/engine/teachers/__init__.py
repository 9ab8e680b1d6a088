"""Teachers: a zoo folder, an ONNX file, a Hugging Face directory, a Keras ``.keras`` file (checked,
then loaded once in a confined process: see ``keras``), ``catalog:NAME``, or a teacher over HTTP
(``endpoint:URL``, ``openai:MODEL``: see ``http``). Legacy HDF5 Keras files and TensorFlow
SavedModels are refused.

``load_teacher(ref)`` picks the kind from what is on disk. A zoo or Hugging Face folder whose
weights are a PyTorch pickle (``model.pth``, ``pytorch_model.bin``) is converted once into a
safetensors copy under ``$PRSM_HOME/converted`` (``safe_convert``: scanned, then loaded with
``weights_only`` in a confined process) and the copy is loaded; every other pickle is refused.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import BadInput
from ..safe_convert import converted_teacher_folder, needs_conversion
from ..untrusted.kinds import (
    KERAS_SUFFIX,
    LEGACY_KERAS_SUFFIXES,
    PICKLE_SUFFIXES,
    SAVED_MODEL_GRAPH,
    WEIGHT_SUFFIXES,
)
from ..zoo import ARCHITECTURE_FILE, is_zoo_folder
from .base import Teacher, align_classes

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


def load_teacher(ref: str, max_length: int = 128, http=None) -> Teacher:
    """The teacher ``ref`` names; ``http`` (:class:`.http.HttpOptions`) configures one over HTTP."""
    if ref.startswith(("endpoint:", "openai:")):
        from .http import HttpOptions, HttpTeacher

        return HttpTeacher(ref, http or HttpOptions())
    path = resolve_teacher_path(ref)
    if path.is_file() and path.suffix.lower() in WEIGHT_SUFFIXES and _is_model_folder(path.parent):
        path = path.parent  # the weights of a zoo or Hugging Face folder: the folder is the teacher
    if path.suffix.lower() in PICKLE_SUFFIXES:
        raise BadInput(f"{path.name}: pickled weights alone are not a teacher; PyTorch weights (.pth, .pt, .bin) are converted "
                       "to safetensors when they sit in a zoo folder (architecture.json) or a Hugging Face directory "
                       "(config.json)")
    _refuse_tensorflow_formats(path)
    if path.is_dir() and _is_model_folder(path) and needs_conversion(path):
        if (path / "config.json").is_file() and not is_zoo_folder(path):
            from .huggingface import refuse_custom_code

            refuse_custom_code(path)  # the converted copy leaves code files out: refuse the original first
        path = converted_teacher_folder(path)
    if path.is_dir() and is_zoo_folder(path):
        from .zoo import ZooTeacher

        return ZooTeacher(ref, path)
    if path.is_dir() and (path / "config.json").is_file():
        from .huggingface import HuggingFaceTeacher

        return HuggingFaceTeacher(ref, path, max_length)
    if path.is_file() and path.suffix.lower() == ".onnx":
        from .onnx import OnnxTeacher

        return OnnxTeacher(ref, path)
    if path.is_file() and path.suffix.lower() == KERAS_SUFFIX:
        from .keras import KerasTeacher

        return KerasTeacher(ref, path)
    raise BadInput(f"{ref}: not a teacher (expected a zoo folder, a Hugging Face directory, an .onnx or a .keras file)")


def _refuse_tensorflow_formats(path: Path) -> None:
    """The Keras and TensorFlow formats that are not ``.keras``: the messages say how to save one."""
    if path.suffix.lower() in LEGACY_KERAS_SUFFIXES:
        raise BadInput(f"{path.name}: legacy HDF5 Keras files are not accepted; save the model as .keras "
                       "(model.save('name.keras')) and give that file")
    graph = path / SAVED_MODEL_GRAPH if path.is_dir() else path
    if graph.name == SAVED_MODEL_GRAPH and graph.is_file():
        raise BadInput(f"{path.name}: a TensorFlow SavedModel is a graph that can read and write files, so it is not "
                       "accepted; export the model as .keras (model.save('name.keras')) instead")


def _is_model_folder(folder: Path) -> bool:
    return (folder / ARCHITECTURE_FILE).is_file() or (folder / "config.json").is_file()
