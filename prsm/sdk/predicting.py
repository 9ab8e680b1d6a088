"""Predicting without a job in this process, as ``prsm predict`` does: a run folder, an export folder or
an .onnx or .tflite file is loaded here; a deployed model's id is asked of a server."""

from __future__ import annotations

import json
import math
import uuid
from pathlib import Path

from .local import local_predictor, serving_export
from .remote import RemoteBackend
from .types import SdkError

SERVED_FILES = ("model.onnx", "model.int8.onnx", "model.tflite", "model.int8.tflite")


def _bad(message: str) -> SdkError:
    return SdkError(message, status=400, code="invalid", field="inputs")


def local_onnx(path: Path) -> Path:
    """The ONNX file a run folder (its report's serving export), an export folder or a path names."""
    if path.is_file():
        if path.suffix not in (".onnx", ".tflite"):
            raise _bad(f"--model: {path} is not an .onnx or .tflite file, an export folder or a run folder")
        return path
    if (path / "report.json").is_file():
        report = json.loads((path / "report.json").read_text())
        name = serving_export(report)
        if name is None:
            verified = sorted(n for n, info in report.get("exports", {}).items() if info.get("verified"))
            raise _bad(f"--model: the run in {path} has no verified ONNX or TFLite export "
                       f"(verified: {', '.join(verified) or 'none'})")
        return path / report["exports"][name]["path"]
    for name in SERVED_FILES:
        if (path / name).is_file():
            return path / name
    raise _bad(f"--model: {path} holds no report.json and none of {', '.join(SERVED_FILES)}")


def is_model_id(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def parse_row(text: str, index: int) -> list | dict:
    """A feature row: JSON (``[1, 2, 3]`` or ``{"col": 1}``) or comma-separated numbers."""
    try:
        row = json.loads(text)
    except ValueError:
        row = None
    if isinstance(row, (list, dict)):
        return row
    try:
        numbers = [float(value) for value in text.split(",")]
    except ValueError:
        raise _bad(f"input {index}: {text[:40]!r} is not a feature row (JSON such as [1,2,3] or {{\"col\": 1}}, "
                   "or comma-separated numbers)") from None
    if not all(math.isfinite(value) for value in numbers):
        raise _bad(f"input {index}: a feature row holds only finite numbers")
    return numbers


def image_path(text: str, index: int) -> Path:
    path = Path(text)
    if not path.is_file():
        raise _bad(f"input {index}: no image file {text!r}")
    return path


def typed_inputs(task: str | None, inputs: list[str]) -> list:
    """Positional INPUTs read for the model's task; a server's model (task unknown here) by their look:
    an existing file is an image, JSON or comma-separated numbers a row, anything else a text."""
    if task == "text":
        return list(inputs)
    if task == "image":
        return [image_path(text, i) for i, text in enumerate(inputs)]
    if task == "tabular":
        return [parse_row(text, i) for i, text in enumerate(inputs)]
    return [_guess(text, i) for i, text in enumerate(inputs)]


def _guess(text: str, index: int):
    if Path(text).is_file():
        return Path(text)
    try:
        return parse_row(text, index)
    except SdkError:
        return text


def predict_with(model: str, inputs: list[str], *, texts=(), rows=(), images=(), url: str | None = None,
                 token: str | None = None) -> dict:
    """``{"model", "version", "outputs"}`` for the positional inputs, then the texts, rows and images."""
    path = Path(model)
    if path.exists():
        from ..serving.errors import ModelUnavailable
        from ..serving.model import ServedModel

        onnx_path = local_onnx(path)
        try:
            served = ServedModel.load(str(onnx_path))
        except ModelUnavailable as exc:
            raise _bad(f"--model: {onnx_path} cannot be served: {exc}") from None
        given = _all_inputs(served.task, inputs, texts, rows, images)
        return {"model": str(path), "version": str(getattr(served, "version", "") or ""),
                "outputs": local_predictor(served)(given)}
    if not is_model_id(model):
        raise _bad(f"--model: {model!r} is neither a folder or .onnx file here nor a model id")
    if not url:
        raise _bad("--model: a model id is answered by a server; give --url and --token, or set PRSM_URL and PRSM_TOKEN")
    deployed = RemoteBackend(url, token).model(model)
    outputs = deployed._predict(_all_inputs(None, inputs, texts, rows, images))
    return {"model": model, "version": deployed.version, "outputs": outputs}


def _all_inputs(task, inputs, texts, rows, images) -> list:
    given = typed_inputs(task, inputs) + list(texts)
    given += [parse_row(text, len(given) + i) for i, text in enumerate(rows)]
    given += [image_path(text, len(given) + i) for i, text in enumerate(images)]
    if not given:
        raise _bad("give at least one INPUT (or --text, --row, --image)")
    return given
