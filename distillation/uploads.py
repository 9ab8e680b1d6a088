"""Uploaded teachers and data sets: receiving, sniffing, validating and storing untrusted files.

The type comes from the content (magic bytes), never from the name; the user's file name never
becomes a path (each upload lives in ``uploads/<kind>/<uuid>/`` under MEDIA_ROOT, with fixed
names inside). Nothing here unpickles, imports or executes anything from an upload: pickles are
recognised and scanned by their opcodes (``pickletools`` only parses); PyTorch weights in a model
folder are converted to safetensors by ``prsm.engine.safe_convert`` (``weights_only``, in a
confined process) and only the copy is kept; ONNX files are parsed and checked in a separate,
resource-limited process; archives are checked before a byte is extracted. A pickle whose scan
finds a forbidden import carries those imports on its UploadError, for the moderators' queue.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import logging
import os
import pickletools
import shutil
import struct
import subprocess
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path, PurePath

from django.conf import settings
from PIL import Image

from prsm.engine.data.files import json_depth
from prsm.engine.errors import BadInput
from prsm.engine.pickle_scan import PickleRefused, scan_checkpoint
from prsm.engine.safe_convert import (
    HF_INDEX,
    SAFETENSORS_INDEX,
    TRAINING_STATE,
    ConversionFailed,
    ConvertLimits,
    convert_folder_weights,
    pickled_weights,
)

from .archives import ArchiveError, ArchiveLimits, archive_format, extract_archive, strip_common_root

log = logging.getLogger("prsm.uploads")

CHUNK = 1 << 20
HEAD_BYTES = 64 * 1024
PICKLE_SUFFIXES = {".pt", ".pth", ".bin", ".pkl", ".pickle", ".ckpt", ".joblib", ".npy", ".npz"}
CODE_SUFFIXES = {".py", ".pyc", ".pyo", ".so", ".dylib", ".dll", ".sh", ".exe"}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}
ONNX_CHECK_TIMEOUT_S = 120
KIND_WORDS = {
    "pickle": "a Python pickle", "zip": "a zip archive", "tar": "a tar archive", "tar.gz": "a tar.gz archive",
    "onnx": "an ONNX model", "safetensors": "a safetensors file", "png": "a PNG image", "jpeg": "a JPEG image",
    "text": "a text file", "unknown": "of an unknown type",
}
WEIGHTS_ALONE = ("PyTorch weights alone are not a teacher (they carry no architecture): upload a zip or tar of the "
                 "model's folder, a Hugging Face directory (config.json + pytorch_model.bin or safetensors) or a zoo "
                 "folder (architecture.json + model.pth); its .pth/.pt/.bin weights are converted to safetensors")
OTHER_PICKLES = ("pickled files other than PyTorch weights at the top of the folder are refused because loading them "
                 "can run code")


class UploadError(Exception):
    """An upload that is refused: ``status_code`` 400 (or 413 when too large) with a plain reason."""

    def __init__(self, message: str, *, status_code: int = 400, code: str = "invalid", field: str = "file",
                 imports: tuple[str, ...] = ()):
        super().__init__(message)
        self.message, self.status_code, self.code, self.field = message, status_code, code, field
        self.imports = imports  # forbidden globals a pickle scan found: a likely attack, flagged for moderators
        self.received: Received | None = None  # set by the service that received the file


class UploadTooLarge(UploadError):
    def __init__(self, limit: int):
        super().__init__(f"the file is larger than the {_human(limit)} accepted here", status_code=413, code="too_large")


@dataclass(frozen=True)
class Received:
    path: Path
    sha256: str
    size: int
    head: bytes
    original_name: str


@dataclass(frozen=True)
class StoredTeacher:
    kind: str  # onnx | huggingface | zoo
    path: str  # relative to MEDIA_ROOT


@dataclass(frozen=True)
class StoredDataset:
    format: str  # csv | jsonl | images
    path: str
    task: str
    rows: int
    classes: list[str]


# --- storage


def upload_folder(kind: str, public_id) -> Path:
    return Path(settings.MEDIA_ROOT) / "uploads" / kind / str(public_id)


def relative_to_media(path: Path) -> str:
    return path.relative_to(Path(settings.MEDIA_ROOT)).as_posix()


def media_path(relative: str) -> Path:
    """The absolute path of a stored upload; refuses anything that would leave MEDIA_ROOT."""
    root = Path(settings.MEDIA_ROOT).resolve()
    path = (root / relative).resolve()
    if root not in path.parents:
        raise ValueError(f"stored path {relative!r} is outside MEDIA_ROOT")
    return path


def receive(file, folder: Path, *, max_bytes: int) -> Received:
    """Stream the uploaded file into ``folder/upload.part``; 413 past ``max_bytes``."""
    folder.mkdir(parents=True, exist_ok=False)
    target = folder / "upload.part"
    digest, size, head = hashlib.sha256(), 0, b""
    chunks = file.chunks(CHUNK) if hasattr(file, "chunks") else iter(lambda: file.read(CHUNK), b"")
    with open(target, "xb") as out:
        for chunk in chunks:
            size += len(chunk)
            if size > max_bytes:
                raise UploadTooLarge(max_bytes)
            if len(head) < HEAD_BYTES:
                head += chunk[: HEAD_BYTES - len(head)]
            digest.update(chunk)
            out.write(chunk)
    if size == 0:
        raise UploadError("the file is empty")
    return Received(target, digest.hexdigest(), size, head, PurePath(getattr(file, "name", "") or "").name)


# --- what a file is, from its bytes


def sniff(head: bytes, size: int) -> str:
    if is_pickle(head, size):
        return "pickle"
    if kind := archive_format(head):
        return kind
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if _is_safetensors(head, size):
        return "safetensors"
    if head[:1] == b"\x08" and len(head) > 1 and head[1] < 0x80:  # ModelProto.ir_version, the field onnx writes first
        return "onnx"
    if _is_text(head):
        return "text"
    return "unknown"


def is_pickle(head: bytes, size: int) -> bool:
    """True for pickle data (any protocol), found by parsing opcodes, which never runs them."""
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:  # PROTO: protocols 2..5, torch's legacy format
        return True
    if size > len(head) or not head.rstrip().endswith(b"."):
        return False
    try:  # protocols 0 and 1: the whole file must parse to a final STOP
        ops = list(pickletools.genops(io.BytesIO(head.rstrip())))
    except Exception:  # noqa: BLE001 - any parse failure means "not a pickle"
        return False
    return bool(ops) and ops[-1][0].name == "STOP" and any(op.name in ("GLOBAL", "STACK_GLOBAL", "REDUCE", "INST", "OBJ")
                                                          for op, _, _ in ops)


def _is_safetensors(head: bytes, size: int) -> bool:
    if len(head) < 10:
        return False
    (header_len,) = struct.unpack("<Q", head[:8])
    return 2 <= header_len <= size - 8 and head[8:9] == b"{"


def _is_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return True


def _file_head(path: Path) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(HEAD_BYTES)


# --- teachers


def teacher_store(received: Received, folder: Path) -> StoredTeacher:
    """Validate a received teacher file and lay it out in ``folder``; raises UploadError."""
    kind = sniff(received.head, received.size)
    if kind == "pickle" or (kind == "zip" and _zip_is_torch(received.path)):
        _refuse_forbidden_imports(received.path, "the file")
        raise UploadError(f"the file is a PyTorch checkpoint: {WEIGHTS_ALONE}")
    if kind == "onnx":
        target = folder / "model.onnx"
        received.path.rename(target)
        onnx_check(target)
        return StoredTeacher("onnx", relative_to_media(target))
    if kind in ("zip", "tar", "tar.gz"):
        root = _extract(received.path, folder / "model", _limits("TEACHER"))
        return _teacher_folder(root)
    if kind == "safetensors":
        raise UploadError("a safetensors file alone is not a teacher: upload a zip or tar of its folder "
                          "(with architecture.json, or a Hugging Face config.json and tokenizer files)")
    raise UploadError(f"the file is {KIND_WORDS[kind]}, not a teacher (expected an .onnx file, or a zip or tar "
                      "of a Hugging Face directory or of a zoo folder)")


def _zip_is_torch(path: Path) -> bool:
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            return any(PurePath(name).name == "data.pkl" for name in archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def _teacher_folder(root: Path) -> StoredTeacher:
    files = sorted(p for p in root.rglob("*") if p.is_file())
    for path in files:
        _refuse_code(root, path)
    pickles = [p for p in files if p.suffix.lower() in PICKLE_SUFFIXES or is_pickle(_file_head(p), p.stat().st_size)]
    if pickles:
        _convert_pickles(root, pickles)
        files = sorted(p for p in root.rglob("*") if p.is_file())
    for path in files:
        if path.suffix.lower() == ".safetensors":
            _check_safetensors(root, path)
    if (root / "architecture.json").is_file() and (root / "model.safetensors").is_file():
        _json_file(root, root / "architecture.json")
        return StoredTeacher("zoo", relative_to_media(root))
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


def _convert_pickles(root: Path, pickles: list[Path]) -> None:
    """Every pickle is scanned first (a forbidden import refuses the upload and flags it); the PyTorch
    weights at the top are converted to safetensors; then every pickle is deleted: only copies stay."""
    def label(path: Path) -> str:
        return path.relative_to(root).as_posix()

    unread = [p for p in pickles if p.parent == root and TRAINING_STATE.match(p.name)]  # never needed to load
    weights = pickled_weights(root)
    for path in pickles:
        if path not in unread:
            _refuse_forbidden_imports(path, label(path))
    if others := [p for p in pickles if p not in weights and p not in unread]:
        raise UploadError(f"{label(others[0])}: {OTHER_PICKLES}")
    try:
        convert_folder_weights(root, root, limits=_convert_limits(), label_of=label)
    except PickleRefused as error:
        raise UploadError(str(error), imports=error.imports) from None
    except (ConversionFailed, BadInput) as error:
        raise UploadError(str(error)) from None
    for path in pickles:
        path.unlink()
    if (root / SAFETENSORS_INDEX).is_file():
        (root / HF_INDEX).unlink(missing_ok=True)


def _refuse_forbidden_imports(path: Path, label: str) -> None:
    """Refuse (and mark for flagging) a pickle whose scan finds imports other than tensor types."""
    try:
        scan_checkpoint(path, _convert_limits(), label)
    except PickleRefused as error:
        if error.imports:
            raise UploadError(str(error), imports=error.imports) from None


def _convert_limits() -> ConvertLimits:
    return ConvertLimits(max_file_bytes=settings.UPLOAD_MAX_TEACHER_UNCOMPRESSED_BYTES)


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
    name = path.relative_to(root).as_posix()
    size = path.stat().st_size
    with open(path, "rb") as handle:
        raw = handle.read(8)
        header_len = struct.unpack("<Q", raw)[0] if len(raw) == 8 else 0
        if not 2 <= header_len <= min(size - 8, 100 << 20):
            raise UploadError(f"{name}: not a safetensors file (bad header length)")
        try:
            header = json.loads(handle.read(header_len))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            raise UploadError(f"{name}: not a safetensors file (the header is not JSON)") from None
    data_bytes = size - 8 - header_len
    for key, tensor in (header.items() if isinstance(header, dict) else []):
        if key == "__metadata__":
            continue
        offsets = tensor.get("data_offsets") if isinstance(tensor, dict) else None
        if not (isinstance(offsets, list) and len(offsets) == 2 and 0 <= offsets[0] <= offsets[1] <= data_bytes):
            raise UploadError(f"{name}: tensor {key!r} points outside the file")


ONNX_CHECK_SCRIPT = r"""
import json, resource, sys
from prsm.engine.data.files import json_depth
from prsm.engine.errors import BadInput
from prsm.engine.onnx_files import check_onnx_file
limit = int(sys.argv[2])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
resource.setrlimit(resource.RLIMIT_CPU, (60, 60))
resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
try:
    check_onnx_file(sys.argv[1])
except BadInput as error:
    print(json.dumps({"refused": str(error).splitlines()[0][:400]}))
except MemoryError:
    print(json.dumps({"error": "it needs more memory to parse than is allowed"}))
except Exception as error:
    print(json.dumps({"error": (str(error).strip().splitlines() or [type(error).__name__])[0][:300]}))
else:
    print(json.dumps({"ok": True}))
"""


def onnx_check(path: Path) -> None:
    """The engine's ONNX file check (external data kept inside the model's folder, ``onnx.checker``)
    in a child process with memory, CPU and file-size limits."""
    size = path.stat().st_size
    memory = settings.UPLOAD_ONNX_CHECK_MEMORY_BYTES + 4 * size
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1"}
    try:
        result = subprocess.run([sys.executable, "-I", "-c", ONNX_CHECK_SCRIPT, str(path), str(memory)],
                                capture_output=True, text=True, timeout=ONNX_CHECK_TIMEOUT_S, env=env, cwd=path.parent)
    except subprocess.TimeoutExpired:
        raise UploadError("the ONNX model took too long to check") from None
    lines = result.stdout.strip().splitlines()
    try:
        verdict = json.loads(lines[-1]) if lines else {}
    except json.JSONDecodeError:
        verdict = {}
    if verdict.get("refused"):
        raise UploadError(verdict["refused"])
    if not verdict.get("ok"):
        reason = verdict.get("error") or f"the checker stopped (exit {result.returncode})"
        raise UploadError(f"{path.name}: not a valid ONNX model ({reason})")


# --- data sets


def dataset_store(received: Received, folder: Path) -> StoredDataset:
    """Validate a received data file with the engine's loaders and lay it out in ``folder``."""
    kind = sniff(received.head, received.size)
    if kind == "pickle":
        _refuse_forbidden_imports(received.path, "the file")
        raise UploadError("the file is a Python pickle; data sets are CSV, JSONL, or a zip of image folders")
    if kind == "text":
        fmt = "jsonl" if received.head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{") else "csv"
        target = folder / f"data.{fmt}"
        received.path.rename(target)
        _check_jsonl(target) if fmt == "jsonl" else _check_csv(target)
        return _loaded(fmt, target)
    if kind in ("zip", "tar", "tar.gz"):
        root = _extract(received.path, folder / "images", _limits("DATASET"))
        _check_images(root)
        return _loaded("images", root)
    raise UploadError(f"the file is {KIND_WORDS[kind]}, not a data set (expected CSV or JSONL text, "
                      "or a zip or tar of one folder per class with PNG or JPEG images)")


def _loaded(fmt: str, path: Path) -> StoredDataset:
    from prsm.engine.data.loaders import load_data

    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            data = load_data(str(path))
        except BadInput as error:
            raise UploadError(str(error).replace(str(path.parent) + os.sep, "")) from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
            raise UploadError(f"an image is too large: {error}") from None
    return StoredDataset(fmt, relative_to_media(path), data.task, len(data.labels), list(data.classes))


def _check_csv(path: Path) -> None:
    limit = settings.UPLOAD_CSV_MAX_FIELD_CHARS
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as handle:
        reader = csv.reader(handle)
        try:
            for row in reader:
                if any(len(field) > limit for field in row):
                    raise UploadError(f"line {reader.line_num}: a field is longer than {limit} characters")
        except csv.Error as error:
            if "field larger than field limit" in str(error):
                limit = min(limit, csv.field_size_limit())
                raise UploadError(f"line {reader.line_num}: a field is longer than {limit} characters") from None
            raise UploadError(f"line {reader.line_num}: not readable CSV ({error})") from None


def _check_jsonl(path: Path) -> None:
    limit = settings.UPLOAD_JSONL_MAX_DEPTH
    with open(path, encoding="utf-8-sig", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            if line.count("[") + line.count("{") > limit and json_depth(line) > limit:
                raise UploadError(f"line {number}: JSON nested deeper than {limit} levels")


def _check_images(root: Path) -> None:
    """Only PNG and JPEG, each and all together under the pixel caps, before the engine decodes one."""
    per_image, total = settings.UPLOAD_MAX_IMAGE_PIXELS, 0
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES):
        name = path.relative_to(root).as_posix()
        head = _file_head(path)[:8]
        if not (head.startswith(b"\x89PNG\r\n\x1a\n") or head.startswith(b"\xff\xd8\xff")):
            raise UploadError(f"{name}: not a PNG or JPEG image (by its content)")
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            try:
                with Image.open(path) as image:  # reads the header only
                    width, height = image.size
            except (Image.DecompressionBombError, Image.DecompressionBombWarning):
                raise UploadError(f"{name}: the image is too large (a decompression bomb?)") from None
            except (OSError, SyntaxError, ValueError):
                raise UploadError(f"{name}: unreadable image") from None
        if width * height > per_image:
            raise UploadError(f"{name}: {width}x{height} pixels is more than the {per_image} accepted per image")
        total += width * height
        if total > settings.UPLOAD_MAX_DATASET_PIXELS:
            raise UploadError(f"the images hold more than {settings.UPLOAD_MAX_DATASET_PIXELS} pixels in all")


# --- archives


def _limits(kind: str) -> ArchiveLimits:
    return ArchiveLimits(max_entries=settings.UPLOAD_MAX_ARCHIVE_ENTRIES,
                         max_total_bytes=getattr(settings, f"UPLOAD_MAX_{kind}_UNCOMPRESSED_BYTES"),
                         max_ratio=settings.UPLOAD_MAX_COMPRESSION_RATIO)


def _extract(archive: Path, dest: Path, limits: ArchiveLimits) -> Path:
    """Extract (after every check) and return the folder that holds the content."""
    try:
        entries = extract_archive(archive, dest, limits)
    except ArchiveError as error:
        raise UploadError(f"archive refused: {error}") from None
    finally:
        archive.unlink(missing_ok=True)
    if not any(not entry.is_dir for entry in entries):
        raise UploadError("the archive is empty")
    wrapper = strip_common_root(entries)
    return dest.joinpath(*wrapper.parts) if wrapper else dest


def discard(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


def _human(size: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:g} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return str(size)


# --- loading with the engine (in the worker) and reads


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


def teachers_of(*, user):
    from .models import Teacher

    return Teacher.objects.filter(owner=user).select_related("dataset").order_by("-created_at")


def datasets_of(*, user):
    from .models import Dataset

    return Dataset.objects.filter(owner=user).order_by("-created_at")


def teacher_of(*, user, public_id):
    """The user's own teacher with that id, or None (another user's upload is never found)."""
    return _own(teachers_of, user, public_id)


def dataset_of(*, user, public_id):
    return _own(datasets_of, user, public_id)


def _own(rows, user, public_id):
    import uuid

    if user is None or not getattr(user, "is_authenticated", False):
        return None
    try:
        public_id = uuid.UUID(str(public_id))
    except ValueError:
        return None
    return rows(user=user).filter(public_id=public_id).first()
