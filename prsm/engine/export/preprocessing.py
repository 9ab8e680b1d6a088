"""The preprocessing an ONNX export needs, stored in the export itself and applied when it serves.

``describe`` records what the engine did to the training inputs as a small JSON document,
``write_metadata`` stores it in the ONNX file as the metadata prop ``prsm.preprocessing`` (next to
``labels``), and ``Preprocessor`` turns a caller's raw inputs into the graph's input arrays,
validating each one:

- text: ``{"task": "text", "tokenizer": "tokenizer", "max_length": 128}``; the student's tokenizer
  is saved in that folder beside the ``.onnx`` and encodes exactly as ``SequenceAdapter.encode``
  (truncation at ``max_length``, padding to the longest text of the batch, int64);
- image: ``{"task": "image", "channels": C, "height": H, "width": W}``; PNG or JPEG bytes are
  converted to grey (C=1) or RGB (C=3), resized to W x H when their size differs (bilinear; the
  engine itself trained on one size, so a different size is the caller's choice), and scaled to
  0..1 by the engine's own ``images._array``;
- tabular: ``{"task": "tabular", "features": N, "columns": [names] or null}``; rows are lists of N
  numbers or objects keyed by column, float32 ``[n, N]`` raw values (the model normalises).

Bad input raises ``prsm.serving.errors.InputError`` naming the problem and the input's index.
"""

from __future__ import annotations

import io
import json
import math
import numbers
import threading
from pathlib import Path

import numpy as np

from ...serving.errors import InputError, ModelUnavailable
from ..data.types import TaskData

METADATA_KEY = "prsm.preprocessing"
TOKENIZER_FOLDER = "tokenizer"
MAX_PIXELS = 40_000_000  # a decoded image above this is refused before its pixels are read (an image bomb)
MAX_TEXT_CHARS = 100_000  # far past any max_length; bounds the tokenizer's work on one input
TASKS = ("text", "image", "tabular")
IMAGE_FORMATS = ("PNG", "JPEG")


def describe(data: TaskData, adapter) -> dict:
    """The preprocessing that turns a caller's inputs into what ``adapter.encode(data)`` gave."""
    if data.task == "text":
        return {"task": "text", "tokenizer": TOKENIZER_FOLDER, "max_length": int(adapter.max_length)}
    if data.task == "image":
        channels, height, width = (int(v) for v in data.images.shape[1:])
        return {"task": "image", "channels": channels, "height": height, "width": width}
    columns = list(data.feature_names) if data.feature_names else None
    return {"task": "tabular", "features": int(data.features.shape[1]), "columns": columns}


def write_metadata(onnx_path: Path | str, preprocessing: dict) -> None:
    """Store ``preprocessing`` in the file's metadata props, replacing an earlier one."""
    write_prop(onnx_path, METADATA_KEY, json.dumps(preprocessing))


def write_prop(onnx_path: Path | str, key: str, value: str) -> None:
    """Set one metadata prop, keeping the others (external weight files stay where they are)."""
    import onnx

    model = onnx.load(str(onnx_path), load_external_data=False)
    kept = [(p.key, p.value) for p in model.metadata_props if p.key != key]
    del model.metadata_props[:]
    for old_key, old_value in [*kept, (key, value)]:
        entry = model.metadata_props.add()
        entry.key, entry.value = old_key, old_value
    onnx.save(model, str(onnx_path))


def write_sidecar(model_path: Path | str, preprocessing: dict, labels: list[str]) -> Path:
    """A TFLite file's ``labels`` and preprocessing, in ``<file>.json`` beside it (LiteRT reads no
    metadata props); ``read_metadata`` gives them back as an ONNX file's props are given."""
    path = sidecar_of(model_path)
    path.write_text(json.dumps({"labels": [str(label) for label in labels], METADATA_KEY: preprocessing}, indent=2))
    return path


def sidecar_of(model_path: Path | str) -> Path:
    model_path = Path(model_path)
    return model_path.with_name(model_path.name + ".json")


def read_metadata(onnx_path: Path | str) -> dict[str, str]:
    """The file's metadata props (``labels``, ``prsm.preprocessing``, ...) as strings; for a TFLite
    file, its sidecar's (``write_sidecar``)."""
    if Path(onnx_path).suffix == ".tflite":
        try:
            found = json.loads(sidecar_of(onnx_path).read_text())
        except (OSError, ValueError):
            raise ModelUnavailable(f"{Path(onnx_path).name}: its {sidecar_of(onnx_path).name} is missing or "
                                   "unreadable; export it again to serve it") from None
        return {key: json.dumps(value) for key, value in found.items()} if isinstance(found, dict) else {}
    import onnx

    try:
        model = onnx.load(str(onnx_path), load_external_data=False)
    except Exception as error:  # a truncated or foreign file: protobuf raises several kinds
        raise ModelUnavailable(f"{Path(onnx_path).name}: not a readable ONNX model ({type(error).__name__})") from None
    return {p.key: p.value for p in model.metadata_props}


def parse(props: dict[str, str], name: str = "model") -> tuple[dict, list[str]]:
    """(preprocessing, labels) from metadata props; an export from before serving has none."""
    try:
        preprocessing = json.loads(props[METADATA_KEY])
        labels = [str(label) for label in json.loads(props["labels"])]
    except (KeyError, ValueError, TypeError):
        raise ModelUnavailable(f"{name}: no {METADATA_KEY} or labels metadata; export it again to serve it") from None
    if not isinstance(preprocessing, dict) or preprocessing.get("task") not in TASKS:
        raise ModelUnavailable(f"{name}: unknown preprocessing {preprocessing!r}")
    return preprocessing, labels


class Preprocessor:
    """A caller's inputs -> the ONNX graph's named input arrays, as the engine encoded them."""

    def __init__(self, preprocessing: dict, folder: Path, input_names: list[str]) -> None:
        self.preprocessing = preprocessing
        self.task = preprocessing["task"]
        self.input_names = input_names
        self.tokenizer = _tokenizer(folder / preprocessing["tokenizer"]) if self.task == "text" else None
        self._lock = threading.Lock()

    @classmethod
    def load(cls, onnx_path: Path | str) -> Preprocessor:
        import onnx

        path = Path(onnx_path)
        preprocessing, _ = parse(read_metadata(path), path.name)
        graph = onnx.load(str(path), load_external_data=False).graph
        initialisers = {i.name for i in graph.initializer}
        return cls(preprocessing, path.parent, [i.name for i in graph.input if i.name not in initialisers])

    def encode(self, inputs: list) -> dict[str, np.ndarray]:
        if not isinstance(inputs, (list, tuple)):
            raise InputError(f"inputs must be a list, got {type(inputs).__name__}")
        if not inputs:
            raise InputError("no inputs: send a list of at least one")
        return {"text": self._text, "image": self._images, "tabular": self._rows}[self.task](list(inputs))

    def _text(self, inputs: list) -> dict[str, np.ndarray]:
        for index, text in enumerate(inputs):
            if not isinstance(text, str):
                raise InputError(f"input {index}: this model takes texts, got {_kind(text)}")
            if len(text) > MAX_TEXT_CHARS:
                raise InputError(f"input {index}: text of {len(text)} characters, more than {MAX_TEXT_CHARS}")
        with self._lock:  # a fast tokenizer sets its truncation and padding per call: not thread-safe
            encoded = self.tokenizer(inputs, truncation=True, max_length=self.preprocessing["max_length"],
                                     padding="longest", return_tensors="np")
        missing = [name for name in self.input_names if name not in encoded]
        if missing:
            raise ModelUnavailable(f"the tokenizer gives no {missing[0]}, which the model needs")
        return {name: np.asarray(encoded[name], dtype=np.int64) for name in self.input_names}

    def _images(self, inputs: list) -> dict[str, np.ndarray]:
        pixels = [self._image(index, content) for index, content in enumerate(inputs)]
        return {self.input_names[0]: np.ascontiguousarray(np.stack(pixels), dtype=np.float32)}

    def _image(self, index: int, content) -> np.ndarray:
        from PIL import Image, UnidentifiedImageError

        from ..data.images import _array

        if not isinstance(content, (bytes, bytearray, memoryview)):
            raise InputError(f"input {index}: this model takes image files (PNG or JPEG bytes), got {_kind(content)}")
        try:
            # PNG and JPEG only, as the engine trains on: no exotic decoder sees a caller's bytes
            image = Image.open(io.BytesIO(bytes(content)), formats=IMAGE_FORMATS)  # reads the header only
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise InputError(f"input {index}: image of {width}x{height} pixels, more than {MAX_PIXELS:,} pixels")
            image.load()
        except Image.DecompressionBombError:  # Pillow's own limit, met while reading the header
            raise InputError(f"input {index}: image of more than {MAX_PIXELS:,} pixels") from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
            raise InputError(f"input {index}: not a readable image ({type(error).__name__})") from None
        spec = self.preprocessing
        image = image.convert("L" if spec["channels"] == 1 else "RGB")
        if image.size != (spec["width"], spec["height"]):
            image = image.resize((spec["width"], spec["height"]), Image.BILINEAR)
        return _array(image)

    def _rows(self, inputs: list) -> dict[str, np.ndarray]:
        count, columns = self.preprocessing["features"], self.preprocessing.get("columns")
        rows = np.empty((len(inputs), count), dtype=np.float32)
        for index, row in enumerate(inputs):
            if isinstance(row, dict):
                row = _by_column(index, row, columns, count)
            elif not isinstance(row, (list, tuple)):
                expected = f"a list of {count} numbers" + (" or an object keyed by column" if columns else "")
                raise InputError(f"input {index}: this model takes feature rows ({expected}), got {_kind(row)}")
            if len(row) != count:
                raise InputError(f"input {index}: {len(row)} features, the model takes {count}")
            rows[index] = [_number(index, value, columns[i] if columns else f"feature {i}") for i, value in enumerate(row)]
        return {self.input_names[0]: rows}


def _by_column(index: int, row: dict, columns: list[str] | None, count: int) -> list:
    if not columns:
        raise InputError(f"input {index}: this model's columns have no names; send a list of {count} numbers")
    unknown = [key for key in row if key not in columns]
    if unknown:
        raise InputError(f"input {index}: unknown column {str(unknown[0])[:80]!r}")
    missing = [name for name in columns if name not in row]
    if missing:
        raise InputError(f"input {index}: missing column {missing[0]!r}" + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))
    return [row[name] for name in columns]


def _number(index: int, value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputError(f"input {index}: {name} must be a number, got {_kind(value)}")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise InputError(f"input {index}: {name} is {number}, not a finite number")
    return number


def _kind(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "bytes"
    if isinstance(value, str):
        return "a text"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, numbers.Number):
        return "a number"
    return {"list": "a list", "tuple": "a list", "dict": "an object"}.get(type(value).__name__, type(value).__name__)


def _tokenizer(folder: Path):
    from transformers import AutoTokenizer

    if not folder.is_dir():
        raise ModelUnavailable(f"the model's tokenizer folder {folder.name}/ is missing beside it")
    return AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
