"""What a file is by its name, for the checks that refuse it: one list of each kind of suffix, and
the one check of a safetensors header.

A suffix never decides that a file is safe: content is sniffed and parsed too. The lists only pick
the files a check must look at (a pickle to scan, code to refuse, an image to decode).
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

from ..errors import BadInput

# PyTorch weights: converted to safetensors when they sit in a model folder (``safe_convert``).
WEIGHT_SUFFIXES = (".pt", ".pth", ".bin")
# Files that are, or may hold, a Python pickle: scanned, never loaded (the weights above included).
PICKLE_SUFFIXES = frozenset({*WEIGHT_SUFFIXES, ".pkl", ".pickle", ".ckpt", ".joblib", ".npy", ".npz"})
# Code a model folder could smuggle in: refused in uploads, left out of converted copies.
CODE_SUFFIXES = frozenset({".py", ".pyc", ".pyo", ".so", ".dylib", ".dll", ".sh", ".exe"})
# Keras: a .keras archive is checked and converted (``keras_archive``); a legacy HDF5 model and a
# TensorFlow SavedModel folder (marked by its graph file) are refused.
KERAS_SUFFIX = ".keras"
LEGACY_KERAS_SUFFIXES = frozenset({".h5", ".hdf5"})
SAVED_MODEL_GRAPH = "saved_model.pb"
# Images a data set may hold (PNG and JPEG only).
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg"})

SAFETENSORS_MAX_HEADER_BYTES = 100 << 20


def safetensors_tensors(path: Path | str) -> dict[str, dict]:
    """The tensor entries of a safetensors file's header, once the header parses and every tensor's
    bytes lie inside the file; ``BadInput`` with the reason (without the file's name) otherwise."""
    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as handle:
        raw = handle.read(8)
        length = struct.unpack("<Q", raw)[0] if len(raw) == 8 else 0
        if not 2 <= length <= min(size - 8, SAFETENSORS_MAX_HEADER_BYTES):
            raise BadInput("not a safetensors file (bad header length)")
        try:
            header = json.loads(handle.read(length))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            raise BadInput("not a safetensors file (the header is not JSON)") from None
    if not isinstance(header, dict):
        raise BadInput("not a safetensors file (the header is not a JSON object)")
    tensors = {key: entry for key, entry in header.items() if key != "__metadata__"}
    data_bytes = size - 8 - length
    for key, entry in tensors.items():
        if not _inside(entry, data_bytes):
            raise BadInput(f"tensor {key!r} points outside the file")
    return tensors


def _inside(entry, end: int) -> bool:
    offsets = entry.get("data_offsets") if isinstance(entry, dict) else None
    return (isinstance(offsets, list) and len(offsets) == 2 and all(type(o) is int for o in offsets)
            and 0 <= offsets[0] <= offsets[1] <= end)
