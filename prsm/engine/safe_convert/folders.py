"""Model folders (a Hugging Face directory, a zoo folder) holding pickled weights: which files are
weights, converting each once, and the converted copy of a folder kept under ``$PRSM_HOME``."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tempfile
from pathlib import Path

from ..export.files import sha256_of
from ..pickle_scan import scan_checkpoint  # nosec B403 - the scanner never unpickles
from ..untrusted.kinds import CODE_SUFFIXES, WEIGHT_SUFFIXES
from .convert import ConversionFailed, ConvertLimits, convert_in_child, safetensors_name

# Training state a Hugging Face or Lightning run leaves beside the weights: never needed to load a
# model, so never loaded; it is dropped unread.
TRAINING_STATE = re.compile(r"^(training_args\.bin|optimizer\.pt|scheduler\.pt|scaler\.pt|rng_state(_\d+)?\.pth)$")
HF_INDEX = "pytorch_model.bin.index.json"
SAFETENSORS_INDEX = "model.safetensors.index.json"


def pickled_weights(folder: Path) -> list[Path]:
    """The PyTorch weight files at the top of ``folder`` (training state left out)."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in WEIGHT_SUFFIXES
                  and not TRAINING_STATE.match(p.name))


def needs_conversion(folder: Path) -> bool:
    """True when a weight file has no safetensors twin beside it."""
    return folder.is_dir() and any(not (folder / safetensors_name(p.name)).exists() for p in pickled_weights(folder))


def convert_folder_weights(folder: Path, dest: Path, *, limits: ConvertLimits = ConvertLimits(),
                           label_of=lambda path: path.name) -> list[Path]:
    """Scan every weight file first, then convert each one that lacks a safetensors twin into ``dest``.

    A Hugging Face shard index is rewritten to name the safetensors shards. The pickles stay where
    they are; the caller deletes or ignores them.
    """
    weights = pickled_weights(folder)
    layouts = {path: scan_checkpoint(path, limits, label_of(path)).layout for path in weights}
    targets: dict[str, Path] = {}
    for path in weights:
        name = safetensors_name(path.name)
        if name in targets:
            raise ConversionFailed(f"{label_of(path)} and {label_of(targets[name])} would both become {name}")
        targets[name] = path
    made = [convert_in_child(path, dest, name=name, layout=layouts[path], limits=limits, label=label_of(path))
            for name, path in targets.items() if not (folder / name).exists() and not (dest / name).exists()]
    _rewrite_index(folder, dest)
    return made


def _rewrite_index(folder: Path, dest: Path) -> None:
    source, target = folder / HF_INDEX, dest / SAFETENSORS_INDEX
    if not source.is_file() or target.exists() or (folder / SAFETENSORS_INDEX).exists():
        return
    try:
        index = json.loads(source.read_text())
        index["weight_map"] = {key: safetensors_name(value) for key, value in index["weight_map"].items()}
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, AttributeError):
        raise ConversionFailed(f"{HF_INDEX}: not a valid shard index") from None
    target.write_text(json.dumps(index, indent=2))


def converted_teacher_folder(folder: Path, cache: Path | None = None, *,
                             limits: ConvertLimits = ConvertLimits()) -> Path:
    """A copy of a model folder with safetensors weights in place of the pickles, made once under
    ``$PRSM_HOME/converted`` (keyed by the pickles' contents) and reused after that."""
    if cache is None:
        from ..data.builtin import prsm_home

        cache = prsm_home() / "converted"
    digest = hashlib.sha256()
    for path in pickled_weights(folder):
        digest.update(path.name.encode() + b"\0" + sha256_of(path).encode())
    final = cache / f"{folder.name}-{digest.hexdigest()[:20]}"
    if final.is_dir():
        return final
    cache.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".convert-", dir=cache))
    try:
        for path in folder.iterdir():
            skipped = path.suffix.lower() in (*WEIGHT_SUFFIXES, *CODE_SUFFIXES)
            if path.is_file() and not path.is_symlink() and not skipped:
                shutil.copyfile(path, work / path.name)
        convert_folder_weights(folder, work, limits=limits)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    try:
        work.rename(final)
    except OSError:
        shutil.rmtree(work, ignore_errors=True)
        if not final.is_dir():  # else another process converted the same weights first: its copy is used
            raise
    return final
