"""One pickle to one safetensors copy: the scan, then the guarded load in the confined child."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import BadInput
from ..pickle_scan import ScanLimits, scan_checkpoint  # nosec B403 - the scanner never unpickles
from ..untrusted.kinds import safetensors_tensors
from ..untrusted.sandbox import ChildFailed, ChildTimedOut, Confinement, run_confined

MAX_REASON_CHARS = 300


@dataclass(frozen=True)
class ConvertLimits(ScanLimits):
    memory_headroom_bytes: int = 1 << 30  # address space beyond the child's own after importing torch, plus 3x the file
    max_memory_bytes: int = 48 << 30
    cpu_seconds: int = 600
    wall_seconds: float = 900
    open_files: int = 64
    output_slack_bytes: int = 16 << 20  # the copy may exceed the file by this (headers, de-shared views)


class ConversionFailed(BadInput):
    """The scan passed but the one guarded load did not give a state dict; the message says why."""


def safetensors_name(pickle_name: str) -> str:
    """``pytorch_model.bin`` -> ``model.safetensors``, ``pytorch_model-00001-of-00002.bin`` ->
    ``model-00001-of-00002.safetensors`` (the names Hugging Face looks for), ``x.pth`` -> ``x.safetensors``."""
    stem = pickle_name.rsplit(".", 1)[0]
    if stem.startswith("pytorch_model"):
        stem = "model" + stem[len("pytorch_model"):]
    return f"{stem}.safetensors"


def convert_pickle_to_safetensors(src: str | Path, dest_dir: str | Path, *, name: str | None = None,
                                  limits: ConvertLimits = ConvertLimits(), label: str | None = None) -> Path:
    """Scan ``src``, convert it in a confined child process, return the safetensors copy in ``dest_dir``.

    Raises PickleRefused (the scan found a forbidden import, or the file is not a checkpoint) or
    ConversionFailed (the guarded load or the write failed); both are BadInput with one line.
    """
    src = Path(src)
    label = label or src.name
    scan = scan_checkpoint(src, limits, label)
    return convert_in_child(src, Path(dest_dir), name=name or safetensors_name(src.name), layout=scan.layout,
                            limits=limits, label=label)


def convert_in_child(src: Path, dest_dir: Path, *, name: str, layout: str, limits: ConvertLimits, label: str) -> Path:
    """The guarded load and the write alone, for a file ``scan_checkpoint`` passed (its ``layout``):
    ``dest_dir/name`` appears only once the child wrote it and its header checks out."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    target, partial = dest_dir / name, dest_dir / f".{name}.partial"
    try:
        _run_child(src.resolve(), partial.resolve(), layout, limits, label)
        _check_output(partial, label)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def _run_child(src: Path, out: Path, layout: str, limits: ConvertLimits, label: str) -> None:
    size = src.stat().st_size
    max_output = 2 * size + limits.output_slack_bytes
    confinement = Confinement(
        memory_bytes=min(3 * size + limits.memory_headroom_bytes, limits.max_memory_bytes),
        cpu_seconds=limits.cpu_seconds, wall_seconds=limits.wall_seconds, open_files=limits.open_files,
        max_write_bytes=max_output, writable=str(out.parent), task="the conversion")
    try:
        run_confined("prsm.engine.safe_convert.child:convert", [str(src), str(out), layout == "zip", max_output],
                     confinement)
    except ChildTimedOut:
        raise ConversionFailed(f"{label}: converting it took longer than {limits.wall_seconds} s") from None
    except ChildFailed as failed:
        reason = failed.reason.replace(str(src), label)
        raise ConversionFailed(f"{label}: not converted: {reason}"[:MAX_REASON_CHARS + len(label)]) from None


def _check_output(path: Path, label: str) -> None:
    """A safetensors header that parses, names a tensor, and whose tensors lie inside the file."""
    try:
        tensors = safetensors_tensors(path) if path.exists() else {}
    except BadInput:
        tensors = {}
    if not tensors:
        raise ConversionFailed(f"{label}: not converted: the safetensors copy did not check out")
