"""A PyTorch pickle (``.pth``, ``.pt``, ``.bin``) becomes a safetensors copy, once, and only that is used.

1. ``pickle_scan.scan_checkpoint`` reads the imports of every pickle stream without unpickling;
   anything but tensor types is refused (``PickleRefused`` names it).
2. A child process (``python -I -m prsm.engine.safe_convert``) does the one load: in a network
   namespace of its own where the machine allows it (``unshare -rn``), with sockets and process
   creation blocked by an audit hook either way, a scratch working directory, a minimal
   environment, and limits on address space, CPU time, open files and bytes written. It runs
   ``torch.load(weights_only=True)``, keeps a state dict (a dict of names to tensors, or one held
   under ``state_dict``/``model``) and writes it with safetensors: contiguous, each shared tensor
   once.
3. The parent enforces a wall-clock timeout, reports the child's one-line reason (or the limit
   that stopped it), checks the safetensors header and only then moves the copy into place.

This module is the one place in prsm that calls ``torch.load`` on a file it did not write itself.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shutil
import signal
import struct
import subprocess  # nosec B404 - runs only our own interpreter, with a fixed argv
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from .errors import BadInput
from .pickle_scan import PickleRefused, ScanLimits, scan_checkpoint  # nosec B403 - the scanner never unpickles

__all__ = ["ConversionFailed", "ConvertLimits", "PickleRefused", "convert_folder_weights",
           "convert_pickle_to_safetensors", "converted_teacher_folder", "needs_conversion", "pickled_weights",
           "safetensors_name"]

WEIGHT_SUFFIXES = (".pt", ".pth", ".bin")
# Training state a Hugging Face or Lightning run leaves beside the weights: never needed to load a
# model, so never loaded; it is dropped unread.
TRAINING_STATE = re.compile(r"^(training_args\.bin|optimizer\.pt|scheduler\.pt|scaler\.pt|rng_state(_\d+)?\.pth)$")
CODE_SUFFIXES = {".py", ".pyc", ".pyo", ".so", ".dylib", ".dll", ".sh", ".exe"}
HF_INDEX = "pytorch_model.bin.index.json"
SAFETENSORS_INDEX = "model.safetensors.index.json"
MAX_REASON_CHARS = 300


@dataclass(frozen=True)
class ConvertLimits(ScanLimits):
    memory_headroom_bytes: int = 1 << 30  # address space beyond the child's own after importing torch, plus 3x the file
    max_memory_bytes: int = 48 << 30
    cpu_seconds: int = 600
    wall_seconds: int = 900
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
    return _convert(src, Path(dest_dir), name or safetensors_name(src.name), scan.layout, limits, label)


def _convert(src: Path, dest_dir: Path, name: str, layout: str, limits: ConvertLimits, label: str) -> Path:
    dest_dir.mkdir(parents=True, exist_ok=True)
    target, partial = dest_dir / name, dest_dir / f".{name}.partial"
    size = src.stat().st_size
    config = {**asdict(limits), "mmap": layout == "zip", "file_bytes": size,
              "max_output_bytes": 2 * size + limits.output_slack_bytes}
    try:
        with tempfile.TemporaryDirectory(prefix="prsm-convert-") as scratch:
            _run_child(src.resolve(), partial.resolve(), Path(scratch), config, label)
        _check_output(partial, label)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def _run_child(src: Path, out: Path, scratch: Path, config: dict, label: str) -> None:
    command = [sys.executable, "-I", "-m", __name__, str(src), str(out), json.dumps(config)]
    if unshare := _network_namespace():
        command = [unshare, "--user", "--map-root-user", "--net", "--", *command]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(scratch), "TMPDIR": str(scratch),
           "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "LC_ALL": "C.UTF-8"}
    try:
        result = subprocess.run(  # nosec B603 - our own interpreter and module, no shell
            command, capture_output=True, text=True, errors="replace", env=env, cwd=scratch,
            timeout=config["wall_seconds"], stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise ConversionFailed(f"{label}: converting it took longer than {config['wall_seconds']} s") from None
    verdict = _verdict(result.stdout)
    if result.returncode == 0 and verdict.get("ok"):
        return
    reason = verdict.get("error") or _stopped_by(result.returncode, result.stderr, config)
    raise ConversionFailed(f"{label}: not converted: {reason.replace(str(src), label)}"[:MAX_REASON_CHARS + len(label)])


def _verdict(stdout: str) -> dict:
    lines = stdout.strip().splitlines()
    try:
        verdict = json.loads(lines[-1][:4096]) if lines else {}
    except json.JSONDecodeError:
        return {}
    return verdict if isinstance(verdict, dict) else {}


def _stopped_by(returncode: int, stderr: str, config: dict) -> str:
    """The limit that stopped a child that could not say why itself."""
    if returncode == -signal.SIGXCPU:
        return f"it used more than {config['cpu_seconds']} s of CPU time"
    if returncode == -signal.SIGXFSZ:
        return f"the safetensors copy would be larger than {config['max_output_bytes']} bytes"
    if "MemoryError" in stderr or "bad_alloc" in stderr or "can't allocate memory" in stderr:
        return "loading it needs more memory than the conversion is allowed"
    if returncode < 0:
        return f"the conversion process was stopped by signal {signal.Signals(-returncode).name}"
    last = (stderr.strip().splitlines() or ["no reason given"])[-1]
    return f"the conversion process failed (exit {returncode}: {last[:200]})"


@functools.lru_cache(maxsize=1)
def _network_namespace() -> str | None:
    """``unshare``'s path when this machine lets a process take a network namespace of its own
    (containers often do not: the audit hook and the socket stub then stand alone)."""
    unshare, true = shutil.which("unshare"), shutil.which("true")
    if not (unshare and true):
        return None
    try:
        done = subprocess.run(  # nosec B603 - absolute paths, no shell
            [unshare, "--user", "--map-root-user", "--net", "--", true], capture_output=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return unshare if done.returncode == 0 else None


def _check_output(path: Path, label: str) -> None:
    """A safetensors header that parses and whose tensors lie inside the file."""
    size = path.stat().st_size if path.exists() else 0
    with open(path, "rb") as handle:
        raw = handle.read(8)
        length = struct.unpack("<Q", raw)[0] if len(raw) == 8 else 0
        try:
            header = json.loads(handle.read(length)) if 2 <= length <= size - 8 else None
        except (UnicodeDecodeError, json.JSONDecodeError):
            header = None
    tensors = {k: v for k, v in header.items() if k != "__metadata__"} if isinstance(header, dict) else {}
    end = size - 8 - length
    if not tensors or not all(_inside(entry, end) for entry in tensors.values()):
        raise ConversionFailed(f"{label}: not converted: the safetensors copy did not check out")


def _inside(entry, end: int) -> bool:
    offsets = entry.get("data_offsets") if isinstance(entry, dict) else None
    return isinstance(offsets, list) and len(offsets) == 2 and 0 <= offsets[0] <= offsets[1] <= end


# --- model folders (a Hugging Face directory, a zoo folder) holding pickled weights


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
    made = [_convert(path, dest, name, layouts[path], limits, label_of(path)) for name, path in targets.items()
            if not (folder / name).exists() and not (dest / name).exists()]
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
        from .data.builtin import prsm_home

        cache = prsm_home() / "converted"
    digest = hashlib.sha256()
    for path in pickled_weights(folder):
        digest.update(path.name.encode() + b"\0" + _sha256(path).encode())
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


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --- the child: python -I -m prsm.engine.safe_convert SRC OUT CONFIG_JSON


class _Refusal(Exception):
    """What the child reports as the reason, as is."""


BLOCKED_EVENTS = ("os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty", "os.kill",
                  "os.remove", "os.rename", "os.rmdir", "os.symlink", "os.link", "os.chmod", "os.chown",
                  "os.truncate", "shutil.rmtree", "subprocess.Popen", "pty.spawn", "webbrowser.open",
                  "socket.__new__", "socket.connect", "socket.bind", "socket.getaddrinfo", "socket.gethostbyname",
                  "socket.sendto", "urllib.Request", "ctypes.dlopen")
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def _confine(out: Path, config: dict) -> None:
    """Limits and blocks for the rest of this process's life (called after torch is imported)."""
    import resource
    import socket

    base = _address_space()
    memory = min(base + 3 * config["file_bytes"] + config["memory_headroom_bytes"], base + config["max_memory_bytes"])
    cpu = config["cpu_seconds"]
    for limit, soft, hard in ((resource.RLIMIT_AS, memory, memory), (resource.RLIMIT_CPU, cpu, cpu + 5),
                              (resource.RLIMIT_NOFILE, config["open_files"], config["open_files"]),
                              (resource.RLIMIT_CORE, 0, 0),
                              (resource.RLIMIT_FSIZE, config["max_output_bytes"], config["max_output_bytes"])):
        ceiling = resource.getrlimit(limit)[1]
        if ceiling != resource.RLIM_INFINITY:
            soft, hard = min(soft, ceiling), min(hard, ceiling)
        resource.setrlimit(limit, (soft, hard))  # SIGXCPU at the soft CPU limit, SIGKILL at the hard one

    class NoSocket(socket.socket):
        def __init__(self, *args, **kwargs):
            raise PermissionError("no network while converting a checkpoint")

    socket.socket = NoSocket  # type: ignore[misc]
    socket.create_connection = NoSocket  # type: ignore[assignment]
    sys.dont_write_bytecode = True
    allowed = str(out.parent)

    def audit(event: str, args: tuple) -> None:
        if event.startswith(BLOCKED_EVENTS):
            raise PermissionError(f"{event} is not allowed while converting a checkpoint")
        if event == "open" and _writes(args) and not str(args[0]).startswith(allowed):
            raise PermissionError(f"writing {args[0]} is not allowed while converting a checkpoint")

    sys.addaudithook(audit)


def _writes(args: tuple) -> bool:
    _, mode, flags = (tuple(args) + (None, None, None))[:3]
    if isinstance(mode, str):
        return any(char in mode for char in "wax+")
    return isinstance(flags, int) and bool(flags & WRITE_FLAGS)


def _address_space() -> int:
    try:
        status = Path("/proc/self/status").read_text()
        return int(re.search(r"VmSize:\s+(\d+) kB", status).group(1)) * 1024
    except (OSError, AttributeError):
        return 2 << 30


def _telling_line(message: str) -> str:
    """The line of torch's message that says what went wrong (its weights_only refusal puts it last)."""
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    return next((line for line in lines if "WeightsUnpickler error" in line or "unsupported GLOBAL" in line),
                lines[0] if lines else "")


def _state_dict(loaded) -> dict:
    """The tensors of a state dict, or of one held under ``state_dict``/``model`` (a training checkpoint)."""
    import torch

    for _ in range(2):
        if isinstance(loaded, dict):
            inner = next((loaded[k] for k in ("state_dict", "model") if isinstance(loaded.get(k), dict) and loaded[k]),
                         None)
            if inner is not None and not any(isinstance(v, torch.Tensor) for v in loaded.values()):
                loaded = inner
    if not isinstance(loaded, dict) or not loaded:
        raise _Refusal(f"it holds {type(loaded).__name__ if loaded is not None else 'nothing'}, not a state dict "
                       "(a dict of tensor names to tensors)")
    for key, value in loaded.items():
        if not isinstance(key, str):
            raise _Refusal(f"a key of the state dict is a {type(key).__name__}, not a name")
        if not isinstance(value, torch.Tensor):
            raise _Refusal(f"{key!r} is a {type(value).__name__}, not a tensor")
        if value.layout != torch.strided or value.is_quantized or value.is_meta or value.is_nested:
            raise _Refusal(f"{key!r} is not a dense tensor; only dense tensors are converted")
    return loaded


def _deshared(state: dict) -> tuple[dict, dict]:
    """Contiguous tensors that each own their bytes; exact aliases (tied weights) kept once, under
    their first name, the others listed in ``aliases``."""
    kept: dict = {}
    first: dict[tuple, str] = {}
    aliases: dict[str, str] = {}
    for name, tensor in state.items():
        tensor = tensor.detach()
        key = (tensor.untyped_storage().data_ptr(), tensor.storage_offset(), tuple(tensor.shape),
               tuple(tensor.stride()), tensor.dtype)
        if tensor.numel() and key in first:
            aliases[name] = first[key]
            continue
        first[key] = name
        kept[name] = tensor
    owners: dict[int, int] = {}
    for tensor in kept.values():
        owners[tensor.untyped_storage().data_ptr()] = owners.get(tensor.untyped_storage().data_ptr(), 0) + 1
    for name, tensor in kept.items():
        if owners[tensor.untyped_storage().data_ptr()] > 1 or not tensor.is_contiguous() or not tensor.numel():
            kept[name] = tensor.contiguous().clone()
    return kept, aliases


def _child(argv: list[str]) -> dict:
    src, out, config = Path(argv[0]), Path(argv[1]), json.loads(argv[2])
    import torch
    from safetensors.torch import save_file

    torch.set_num_threads(1)
    _confine(out, config)
    try:
        loaded = torch.load(src, map_location="cpu", weights_only=True, mmap=config["mmap"])
    except MemoryError:
        raise _Refusal("loading it needs more memory than the conversion is allowed") from None
    except Exception as error:  # noqa: BLE001 - torch's own refusal (weights_only) or a damaged file: one line of it
        first = _telling_line(str(error)) or type(error).__name__
        if "can't allocate memory" in first:
            raise _Refusal("loading it needs more memory than the conversion is allowed") from None
        raise _Refusal(f"torch.load(weights_only=True) refused it ({type(error).__name__}: {first[:200]})") from None
    tensors, aliases = _deshared(_state_dict(loaded))
    total = sum(t.numel() * t.element_size() for t in tensors.values())
    if total > config["max_output_bytes"]:
        raise _Refusal(f"the tensors hold {total} bytes, more than the {config['max_output_bytes']} allowed "
                       "for this file")
    metadata = {"format": "pt", "prsm.converted_from": "pytorch pickle"}
    if aliases:
        metadata["prsm.aliases"] = json.dumps(aliases)
    save_file(tensors, str(out), metadata=metadata)
    return {"ok": True, "tensors": len(tensors), "bytes": total, "aliases": len(aliases)}


def main(argv: list[str]) -> int:
    try:
        verdict = _child(argv)
    except _Refusal as refusal:
        verdict = {"error": str(refusal)[:MAX_REASON_CHARS]}
    except MemoryError:
        verdict = {"error": "loading it needs more memory than the conversion is allowed"}
    except Exception as error:  # noqa: BLE001 - reported to the parent as one line
        first = (str(error).strip().splitlines() or [""])[0]
        verdict = {"error": f"{type(error).__name__}: {first}"[:MAX_REASON_CHARS]}
    print(json.dumps(verdict), flush=True)
    return 0 if verdict.get("ok") else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
