"""Pickles in an upload: every one is scanned by its opcodes (a forbidden import refuses the upload
and flags it for the moderators); the PyTorch weights at the top of a model folder are converted to
safetensors in the confined child, and then every pickle is deleted: only the copies stay."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from prsm.engine.errors import BadInput
from prsm.engine.pickle_scan import PickleRefused, scan_checkpoint  # nosec B403 - the scanner never unpickles
from prsm.engine.safe_convert import (
    HF_INDEX,
    SAFETENSORS_INDEX,
    TRAINING_STATE,
    ConversionFailed,
    ConvertLimits,
    convert_folder_weights,
    pickled_weights,
)

from .errors import UploadError

OTHER_PICKLES = ("pickled files other than PyTorch weights at the top of the folder are refused because loading them "
                 "can run code")


def convert_pickles(root: Path, pickles: list[Path]) -> None:
    """Scan every pickle of the folder at ``root``, convert its PyTorch weights, delete the pickles."""
    def label(path: Path) -> str:
        return path.relative_to(root).as_posix()

    unread = [p for p in pickles if p.parent == root and TRAINING_STATE.match(p.name)]  # never needed to load
    weights = pickled_weights(root)
    for path in pickles:
        if path not in unread:
            refuse_forbidden_imports(path, label(path))
    if others := [p for p in pickles if p not in weights and p not in unread]:
        raise UploadError(f"{label(others[0])}: {OTHER_PICKLES}")
    try:
        convert_folder_weights(root, root, limits=convert_limits(), label_of=label)
    except PickleRefused as error:
        raise UploadError(str(error), imports=error.imports) from None
    except (ConversionFailed, BadInput) as error:
        raise UploadError(str(error)) from None
    for path in pickles:
        path.unlink()
    if (root / SAFETENSORS_INDEX).is_file():
        (root / HF_INDEX).unlink(missing_ok=True)


def refuse_forbidden_imports(path: Path, label: str) -> None:
    """Refuse (and mark for flagging) a pickle whose scan finds imports other than tensor types."""
    try:
        scan_checkpoint(path, convert_limits(), label)
    except PickleRefused as error:
        if error.imports:
            raise UploadError(str(error), imports=error.imports) from None


def convert_limits() -> ConvertLimits:
    return ConvertLimits(max_file_bytes=settings.UPLOAD_MAX_TEACHER_UNCOMPRESSED_BYTES)
