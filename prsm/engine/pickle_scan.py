"""What a PyTorch pickle would import, read without unpickling it.

``scan_checkpoint(path)`` walks every pickle stream a checkpoint holds, in both layouts
``torch.save`` writes: the zip layout (``<prefix>/data.pkl``, and any other ``.pkl`` member) and
the legacy single file (five pickles, then raw storage bytes). ``pickletools.genops`` parses
opcodes and never runs them. GLOBAL, INST and STACK_GLOBAL name the callables an unpickler would
import; every name must be on a short allow-list (the tensor-rebuild functions, storage and dtype
types, ``OrderedDict``: what ``torch.load(weights_only=True)`` needs for a plain state dict).
Anything the scan cannot read statically (an extension-registry code, a STACK_GLOBAL whose names
are computed) is refused too. picklescan and modelscan work the same way.
"""

from __future__ import annotations

import pickletools  # nosec B403 - parses opcodes, never unpickles
import zipfile
from _compat_pickle import IMPORT_MAPPING, NAME_MAPPING
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .errors import BadInput

STORAGES = ("Double", "Float", "Half", "BFloat16", "Long", "Int", "Short", "Char", "Byte", "Bool",
            "ComplexDouble", "ComplexFloat")
DTYPES = ("float64", "float32", "float16", "bfloat16", "complex128", "complex64", "int64", "int32", "int16",
          "int8", "uint64", "uint32", "uint16", "uint8", "bool", "float8_e4m3fn", "float8_e5m2",
          "float8_e4m3fnuz", "float8_e5m2fnuz")
ALLOWED_GLOBALS = frozenset({
    "collections.OrderedDict",
    "torch._utils._rebuild_tensor", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor_v3",
    "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state",
    "torch.Size", "torch.storage.UntypedStorage",
    "_codecs.encode",  # how protocol 2 writes a bytes value
    *(f"torch.{kind}Storage" for kind in STORAGES),
    *(f"torch.{dtype}" for dtype in DTYPES),
})
ZIP_MAGIC = b"PK\x03\x04"
LEGACY_STREAMS = 5  # magic number, protocol version, system info, the object, the storage keys
STRING_PUSHES = {"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "STRING", "BINSTRING",
                 "SHORT_BINSTRING"}
MEMO_READS = {"GET", "BINGET", "LONG_BINGET"}
MEMO_WRITES = {"MEMOIZE", "PUT", "BINPUT", "LONG_BINPUT"}
STACK_NEUTRAL = MEMO_WRITES | {"FRAME", "PROTO"}
UNREADABLE = "a name computed while unpickling"


@dataclass(frozen=True)
class ScanLimits:
    max_file_bytes: int = 8 << 30
    max_members: int = 65_536
    max_uncompressed_bytes: int = 16 << 30
    max_pickle_bytes: int = 256 << 20


@dataclass(frozen=True)
class Scan:
    layout: str  # zip | legacy
    imports: frozenset[str]  # every global the pickles name, all of them allowed


class PickleRefused(BadInput):
    """A checkpoint refused before anything loads it. ``imports`` holds the forbidden globals when
    the scan found some: that is a likely attack, not just a bad file, and is flagged for moderators."""

    def __init__(self, message: str, imports: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.imports = imports


def scan_checkpoint(path: str | Path, limits: ScanLimits = ScanLimits(), label: str | None = None) -> Scan:
    """Every import of every pickle stream in ``path``; raises PickleRefused naming what is not allowed."""
    path = Path(path)
    label = label or path.name
    size = path.stat().st_size
    if size > limits.max_file_bytes:
        raise PickleRefused(f"{label}: refused: {size} bytes is more than the {limits.max_file_bytes} accepted")
    with open(path, "rb") as handle:
        is_zip = handle.read(4) == ZIP_MAGIC  # torch's own test: a zip *starts* with a local header
    if is_zip:
        layout, imports = "zip", _zip_imports(path, limits, label)
    else:
        layout, imports = "legacy", _legacy_imports(path, limits, label)
    forbidden = sorted(name for name in imports if name not in ALLOWED_GLOBALS)
    if forbidden:
        shown = ", ".join(forbidden[:3]) + (f" and {len(forbidden) - 3} more" if len(forbidden) > 3 else "")
        what = "which is not a tensor type" if len(forbidden) == 1 else "which are not tensor types"
        raise PickleRefused(f"{label}: refused: the pickle imports {shown}, {what}", tuple(forbidden))
    return Scan(layout, frozenset(imports))


def _zip_imports(path: Path, limits: ScanLimits, label: str) -> set[str]:
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            _check_members(members, limits, label)
            imports: set[str] = set()
            for member in members:
                if member.filename.endswith(".pkl"):
                    with archive.open(member) as stream:
                        imports |= _stream_imports(stream, limits.max_pickle_bytes, f"{label}: {member.filename}")
            return imports
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, OSError) as error:
        raise PickleRefused(f"{label}: refused: not a readable PyTorch zip checkpoint ({error})") from None


def _check_members(members: list[zipfile.ZipInfo], limits: ScanLimits, label: str) -> None:
    names = [member.filename for member in members]
    if len(members) > limits.max_members:
        raise PickleRefused(f"{label}: refused: {len(members)} zip members, more than the {limits.max_members} "
                            "accepted")
    total = sum(member.file_size for member in members)
    if total > limits.max_uncompressed_bytes:
        raise PickleRefused(f"{label}: refused: {total} bytes once uncompressed, more than the "
                            f"{limits.max_uncompressed_bytes} accepted")
    if len(set(names)) != len(names):
        raise PickleRefused(f"{label}: refused: the zip holds two members with the same name")
    if any(PurePosixPath(name).parts[1:2] == ("code",) or name.endswith(".py") for name in names):
        raise PickleRefused(f"{label}: refused: a TorchScript archive holds code; save the state dict instead")
    if sum(PurePosixPath(name).parts[1:] == ("data.pkl",) for name in names) != 1:
        raise PickleRefused(f"{label}: refused: not a PyTorch checkpoint (no single <name>/data.pkl in the zip)")


def _legacy_imports(path: Path, limits: ScanLimits, label: str) -> set[str]:
    imports: set[str] = set()
    with open(path, "rb") as handle:
        for number in range(LEGACY_STREAMS):
            if number and not handle.peek(1)[:1]:
                break
            imports |= _stream_imports(handle, limits.max_pickle_bytes, f"{label}: pickle {number + 1}")
    return imports


class _Bounded:
    """A read-only view of a stream that fails past ``limit`` bytes (genops reads with read and readline)."""

    def __init__(self, stream, limit: int) -> None:
        self.stream, self.left = stream, limit

    def _take(self, data: bytes) -> bytes:
        self.left -= len(data)
        if self.left < 0:
            raise ValueError("the pickle is larger than the scan accepts")
        return data

    def read(self, size: int = -1) -> bytes:
        return self._take(self.stream.read(size if size >= 0 else self.left + 1))

    def readline(self) -> bytes:
        return self._take(self.stream.readline(self.left + 1))


def _stream_imports(stream, limit: int, where: str) -> set[str]:
    """The globals one pickle stream imports; the stream is left just after its STOP."""
    try:
        return _imports_of(pickletools.genops(_Bounded(stream, limit)))
    except (ValueError, EOFError, UnicodeDecodeError) as error:
        raise PickleRefused(f"{where}: refused: not a readable pickle ({error})") from None


def _imports_of(ops) -> set[str]:
    """GLOBAL/INST name their import inline; STACK_GLOBAL takes the two strings just pushed (or read
    from the memo). Any other way of putting those strings there is refused as unreadable."""
    imports: set[str] = set()
    memo: dict[int, str | None] = {}
    pushed: list[str | None] = []  # the values of the latest stack pushes: a string, or None for anything else
    for op, arg, _ in ops:
        name = op.name
        if name in ("GLOBAL", "INST"):
            module, _, attr = arg.partition(" ")
            imports.add(_canonical(module, attr))
        elif name == "STACK_GLOBAL":
            module, attr = pushed[-2:] if len(pushed) >= 2 else (None, None)
            imports.add(_canonical(module, attr) if isinstance(module, str) and isinstance(attr, str) else UNREADABLE)
        elif name in ("EXT1", "EXT2", "EXT4"):
            imports.add(f"the extension registry (code {arg})")
        if name in MEMO_WRITES:
            memo[len(memo) if name == "MEMOIZE" else arg] = pushed[-1] if pushed else None
        elif name not in STACK_NEUTRAL:
            pushed = pushed[-1:] + [arg if name in STRING_PUSHES else memo.get(arg) if name in MEMO_READS else None]
    return imports


def _canonical(module: str, name: str) -> str:
    """Python 2 names as the unpickler maps them (``__builtin__.eval`` is ``builtins.eval``)."""
    if (module, name) in NAME_MAPPING:
        module, name = NAME_MAPPING[(module, name)]
    elif module in IMPORT_MAPPING:
        module = IMPORT_MAPPING[module]
    return f"{module}.{name}"
