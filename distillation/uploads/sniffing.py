"""What a file is, from its bytes (never from its name)."""

from __future__ import annotations

import codecs
import io
import pickletools  # nosec B403 - parses opcodes, never unpickles
import struct

from ..archives import archive_format

KIND_WORDS = {
    "pickle": "a Python pickle", "zip": "a zip archive", "tar": "a tar archive", "tar.gz": "a tar.gz archive",
    "onnx": "an ONNX model", "safetensors": "a safetensors file", "png": "a PNG image", "jpeg": "a JPEG image",
    "text": "a text file", "hdf5": "an HDF5 file", "unknown": "of an unknown type",
}


def sniff(head: bytes, size: int) -> str:
    if is_pickle(head, size):
        return "pickle"
    if kind := archive_format(head):
        return kind
    if is_image(head):
        return "png" if head.startswith(b"\x89PNG") else "jpeg"
    if _is_safetensors(head, size):
        return "safetensors"
    if head.startswith(b"\x89HDF\r\n\x1a\n"):
        return "hdf5"
    if head[:1] == b"\x08" and len(head) > 1 and head[1] < 0x80:  # ModelProto.ir_version, the field onnx writes first
        return "onnx"
    if _is_text(head):
        return "text"
    return "unknown"


def is_image(head: bytes) -> bool:
    """PNG or JPEG, by the first bytes."""
    return head.startswith(b"\x89PNG\r\n\x1a\n") or head.startswith(b"\xff\xd8\xff")


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
    """A plausible header length followed by JSON: enough to name the kind (the full check is
    ``prsm.engine.untrusted.kinds.safetensors_tensors``)."""
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
