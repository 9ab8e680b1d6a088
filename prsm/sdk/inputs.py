"""Inputs as callers give them (str, a row, bytes or a ``pathlib.Path``) in the forms the two ways of
predicting take: bytes for the local model, JSON for the server (an image as ``{"b64": ...}``)."""

from __future__ import annotations

import base64
from pathlib import Path

from .types import SdkError


def _image_bytes(path: Path, index: int) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SdkError(f"inputs[{index}]: cannot read the image {str(path)!r}: {exc.strerror or exc}",
                       status=400, code="invalid", field="inputs") from None


def local_inputs(inputs: list) -> list:
    """Paths read into bytes, tuples as lists; texts, rows and bytes as they are."""
    def one(item, index):
        if isinstance(item, Path):
            return _image_bytes(item, index)
        if isinstance(item, (tuple, bytearray)):
            return list(item) if isinstance(item, tuple) else bytes(item)
        return item

    return [one(item, i) for i, item in enumerate(inputs)]


def wire_inputs(inputs: list) -> list:
    """The JSON the predict API takes: images (bytes or a Path) base64-encoded as ``{"b64": ...}``."""
    return [{"b64": base64.b64encode(item).decode("ascii")} if isinstance(item, bytes) else item
            for item in local_inputs(inputs)]
