"""A teacher upload checked and laid out (an ONNX file, a Keras ``.keras`` file, or an archive of a
Hugging Face directory or a zoo folder), the ONNX and Keras checks in the confined child, and
loading it with the engine in the worker."""

from __future__ import annotations

import json
import logging
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePath

from django.conf import settings

from prsm.engine.errors import BadInput
from prsm.engine.untrusted.kinds import CODE_SUFFIXES, PICKLE_SUFFIXES, safetensors_tensors
from prsm.engine.untrusted.sandbox import ChildFailed, ChildRefused, ChildTimedOut, Confinement, run_confined

from .errors import UploadError
from .pickles import convert_pickles, refuse_forbidden_imports
from .sniffing import KIND_WORDS, is_pickle, sniff
from .storage import Received, archive_limits, extract, file_head, relative_to_media

log = logging.getLogger("prsm.uploads")

ONNX_CHECK = "prsm.engine.onnx_files:check_onnx_file"
ONNX_CHECK_TIMEOUT_S = 120
ONNX_CHECK_CPU_S = 60
WEIGHTS_ALONE = ("PyTorch weights alone are not a teacher (they carry no architecture): upload a zip or tar of the "
                 "model's folder, a Hugging Face directory (config.json + pytorch_model.bin or safetensors) or a zoo "
                 "folder (architecture.json + model.pth); its .pth/.pt/.bin weights are converted to safetensors")


@dataclass(frozen=True)
class StoredTeacher:
    kind: str  # onnx | keras | huggingface | zoo
    path: str  # relative to MEDIA_ROOT


def teacher_store(received: Received, folder: Path) -> StoredTeacher:
    """Validate a received teacher file and lay it out in ``folder``; raises UploadError."""
    kind = sniff(received.head, received.size)
    if kind == "pickle" or (kind == "zip" and _zip_is_torch(received.path)):
        refuse_forbidden_imports(received.path, "the file")
        raise UploadError(f"the file is a PyTorch checkpoint: {WEIGHTS_ALONE}")
    if kind == "onnx":
        target = folder / "model.onnx"
        received.path.rename(target)
        onnx_check(target)
        return StoredTeacher("onnx", relative_to_media(target))
    if kind == "zip" and _zip_is_keras(received.path):
        target = folder / "model.keras"
        received.path.rename(target)
        keras_check(target)
        return StoredTeacher("keras", relative_to_media(target))
    if kind == "hdf5":
        raise UploadError("the file is a legacy HDF5 model (.h5): it is not accepted; save the model as a .keras file "
                          "(model.save('model.keras')) and upload that")
    if kind in ("zip", "tar", "tar.gz"):
        return _teacher_folder(extract(received.path, folder / "model", archive_limits("TEACHER")))
    if kind == "safetensors":
        raise UploadError("a safetensors file alone is not a teacher: upload a zip or tar of its folder "
                          "(with architecture.json, or a Hugging Face config.json and tokenizer files)")
    raise UploadError(f"the file is {KIND_WORDS[kind]}, not a teacher (expected an .onnx or .keras file, or a zip or "
                      "tar of a Hugging Face directory or of a zoo folder)")


def _zip_is_keras(path: Path) -> bool:
    """A Keras 3 ``.keras`` archive: its config, metadata and weights at the top."""
    try:
        with zipfile.ZipFile(path) as archive:
            return {"config.json", "metadata.json"} <= set(archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def keras_check(path: Path) -> None:
    """The engine's Keras checks (the archive and its config read as data; the model loaded with
    ``safe_mode`` in the confined child), which also keep the checked copy the worker loads."""
    from prsm.engine.teachers.keras import converted_keras_teacher

    try:
        converted_keras_teacher(path)
    except BadInput as error:
        raise UploadError(str(error)) from None


def _zip_is_torch(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            return any(PurePath(name).name == "data.pkl" for name in archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def _teacher_folder(root: Path) -> StoredTeacher:
    files = sorted(p for p in root.rglob("*") if p.is_file())
    for path in files:
        _refuse_code(root, path)
    pickles = [p for p in files if p.suffix.lower() in PICKLE_SUFFIXES or is_pickle(file_head(p), p.stat().st_size)]
    if pickles:
        convert_pickles(root, pickles)
        files = sorted(p for p in root.rglob("*") if p.is_file())
    for path in files:
        if path.suffix.lower() == ".safetensors":
            _check_safetensors(root, path)
    if (root / "architecture.json").is_file() and (root / "model.safetensors").is_file():
        _json_file(root, root / "architecture.json")
        return StoredTeacher("zoo", relative_to_media(root))
    if any(p.name == "saved_model.pb" for p in files):
        raise UploadError("the archive holds a TensorFlow SavedModel: a SavedModel is a graph that can read and write "
                          "files, so it is not accepted as a teacher; save the Keras model as a .keras file instead")
    if (root / "config.json").is_file():
        _check_hf_dir(root, files)
        return StoredTeacher("huggingface", relative_to_media(root))
    onnx_files = [p for p in files if p.suffix.lower() == ".onnx"]
    if len(onnx_files) == 1:
        onnx_check(onnx_files[0])
        return StoredTeacher("onnx", relative_to_media(onnx_files[0]))
    raise UploadError("the archive holds no teacher: expected a Hugging Face directory (config.json), a zoo folder "
                      "(architecture.json + model.safetensors) or one .onnx file")


def _refuse_code(root: Path, path: Path) -> None:
    if path.suffix.lower() in CODE_SUFFIXES:
        name = path.relative_to(root).as_posix()
        raise UploadError(f"{name}: the archive contains code; custom code is refused (only built-in architectures are loaded)")


def _check_hf_dir(root: Path, files: list[Path]) -> None:
    for path in files:
        if path.suffix.lower() == ".json" and path.parent == root:
            config = _json_file(root, path)
            if isinstance(config, dict) and config.get("auto_map"):
                raise UploadError(f"{path.name}: needs custom code (auto_map); only built-in architectures are loaded")
    from prsm.engine.teachers.huggingface import check_hf_dir

    try:
        check_hf_dir(root)
    except BadInput as error:
        raise UploadError(str(error)) from None


def _json_file(root: Path, path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise UploadError(f"{path.relative_to(root).as_posix()}: not valid JSON") from None


def _check_safetensors(root: Path, path: Path) -> None:
    try:
        safetensors_tensors(path)
    except BadInput as error:
        raise UploadError(f"{path.relative_to(root).as_posix()}: {error}") from None


def onnx_confinement(path: Path) -> Confinement:
    """What the ONNX check's child may use: memory for the parser beyond its own, and four times the file."""
    return Confinement(memory_bytes=settings.UPLOAD_ONNX_CHECK_MEMORY_BYTES + 4 * path.stat().st_size,
                       cpu_seconds=ONNX_CHECK_CPU_S, wall_seconds=ONNX_CHECK_TIMEOUT_S, preload=("onnx",))


def onnx_check(path: Path) -> None:
    """The engine's ONNX file check (external data kept inside the model's folder, ``onnx.checker``)
    in the confined child (no network, no writes, limits on memory and CPU time)."""
    try:
        run_confined(ONNX_CHECK, [str(path.resolve())], onnx_confinement(path))
    except ChildTimedOut:
        raise UploadError("the ONNX model took too long to check") from None
    except ChildRefused as refused:
        raise UploadError(refused.reason) from None
    except ChildFailed as failed:
        raise UploadError(f"{path.name}: not a valid ONNX model ({failed.reason})") from None


def teacher_load(path: str) -> dict:
    """What ``services.teacher_load_result_store`` records: the teacher's task, classes and size, or the reason."""
    from prsm.engine.teachers import load_teacher

    try:
        teacher = load_teacher(path)
        params = teacher.describe().get("params")
    except BadInput as error:
        return {"reason": str(error).replace(path, "the teacher")}
    except Exception as error:  # noqa: BLE001 - an upload the engine chokes on is rejected, not retried forever
        log.warning("uploaded teacher %s failed to load", path, exc_info=True)
        first = (str(error).strip().splitlines() or [""])[0].replace(path, "the teacher")[:300]
        return {"reason": f"the engine cannot load it ({type(error).__name__}: {first})"}
    return {"task": teacher.task or "", "classes": [str(c) for c in teacher.classes or []], "params": int(params or 0)}
