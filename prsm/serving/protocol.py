"""The pool's wire format: a 4-byte big-endian length, then that many bytes of UTF-8 JSON.

A request is ``{"op": "predict" | "warm" | "unload" | "status", ...}``; an answer is
``{"ok": true, ...}`` or ``{"ok": false, "error": KIND, "message": ..., "retry_after_s": ...}`` with
KIND one of ``input``, ``busy``, ``model``, ``unavailable``, ``bad_request``, ``internal``.
Bytes (image files) travel as ``{"b64": "<base64>"}``.
"""

from __future__ import annotations

import base64
import binascii
import json
import struct

MAX_FRAME = 16 * 1024 * 1024
HEADER = struct.Struct(">I")


class FrameError(ValueError):
    """A frame that is too large or not a JSON object."""


def encode_frame(message: dict) -> bytes:
    body = json.dumps(message, separators=(",", ":"), allow_nan=False).encode()
    if len(body) > MAX_FRAME:
        raise FrameError(f"message of {len(body):,} bytes, more than {MAX_FRAME:,}")
    return HEADER.pack(len(body)) + body


def decode_body(body: bytes) -> dict:
    try:
        message = json.loads(body.decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise FrameError(f"not JSON ({type(error).__name__})") from None
    if not isinstance(message, dict):
        raise FrameError("a message must be a JSON object")
    return message


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def to_wire(inputs: list) -> list:
    """Bytes become ``{"b64": ...}``; everything else travels as it is."""
    return [{"b64": base64.b64encode(bytes(i)).decode("ascii")} if isinstance(i, (bytes, bytearray, memoryview)) else i
            for i in inputs]


def from_wire(inputs: list) -> list:
    """``{"b64": ...}`` back to bytes (for image models); a bad encoding stays a dict the model refuses."""
    out = []
    for item in inputs:
        if isinstance(item, dict) and set(item) == {"b64"} and isinstance(item["b64"], str):
            try:
                item = base64.b64decode(item["b64"], validate=True)
            except (binascii.Error, ValueError):
                pass
        out.append(item)
    return out
