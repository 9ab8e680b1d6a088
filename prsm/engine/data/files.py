"""Loaders for CSV and JSONL files: text (``text``, ``label``) or tabular (numeric features + ``label``).

Every problem a user can fix is a :class:`BadInput` naming the file and the line.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import numpy as np

from ..errors import BadInput
from .types import TaskData, sha256_of_bytes


def read_utf8(path: Path) -> tuple[str, bytes]:
    """The file's text and bytes; refuses empty and non-UTF-8 files with the line of the first bad byte."""
    raw = path.read_bytes()
    if not raw.strip():
        raise BadInput(f"{path.name}: the file is empty")
    try:
        return raw.decode("utf-8-sig"), raw
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise BadInput(f"{path.name}: not UTF-8 (byte {error.start}, line {line})") from None


def labelled(path: Path, labels: list[str], task: str, **inputs) -> TaskData:
    """A TaskData with classes in sorted string order; refuses a single class."""
    classes = sorted(set(labels))
    if len(classes) < 2:
        raise BadInput(f"{path.name}: only one class ({classes[0]!r}); distillation needs at least two")
    index = {name: i for i, name in enumerate(classes)}
    return TaskData(task=task, classes=classes, labels=np.array([index[x] for x in labels]), source=str(path), **inputs)


def load_csv(path: Path, task: str = "auto") -> TaskData:
    text, raw = read_utf8(path)
    reader = csv.DictReader(io.StringIO(text))
    columns = [c.strip() for c in (reader.fieldnames or [])]
    reader.fieldnames = columns
    if "label" not in columns:
        raise BadInput(f"{path.name}: no 'label' column (columns: {', '.join(columns) or 'none'})")
    if task == "auto":
        task = "text" if "text" in columns else "tabular"
    if task == "text":
        data = _csv_text(path, reader, columns)
    elif task == "tabular":
        data = _csv_tabular(path, reader, columns)
    else:
        raise BadInput(f"{path.name}: a CSV file holds text or tabular data, not {task}")
    data.sha256 = sha256_of_bytes(raw)
    return data


def _csv_rows(path: Path, reader: csv.DictReader):
    """(line number, row) pairs; refuses an empty label and rows with too many or too few cells."""
    rows = 0
    for row in reader:
        rows += 1
        if None in row or any(value is None for value in row.values()):
            raise BadInput(f"{path.name}: line {reader.line_num} has {_cells(row)} cells, the header has {len(reader.fieldnames)}")
        if not row["label"].strip():
            raise BadInput(f"{path.name}: line {reader.line_num} has an empty label")
        yield reader.line_num, row
    if rows == 0:
        raise BadInput(f"{path.name}: a header but no rows")


def _cells(row: dict) -> int:
    return sum(1 for k, v in row.items() if k is not None and v is not None) + len(row.get(None) or [])


def _csv_text(path: Path, reader: csv.DictReader, columns: list[str]) -> TaskData:
    if "text" not in columns:
        raise BadInput(f"{path.name}: no 'text' column (columns: {', '.join(columns)})")
    texts, labels = [], []
    for line, row in _csv_rows(path, reader):
        if not row["text"].strip():
            raise BadInput(f"{path.name}: line {line} has an empty text")
        texts.append(row["text"])
        labels.append(row["label"].strip())
    return labelled(path, labels, "text", texts=texts)


def _csv_tabular(path: Path, reader: csv.DictReader, columns: list[str]) -> TaskData:
    names = [c for c in columns if c != "label"]
    if not names:
        raise BadInput(f"{path.name}: no feature columns besides 'label'")
    rows, labels = [], []
    for line, row in _csv_rows(path, reader):
        rows.append([_number(path, line, name, row[name]) for name in names])
        labels.append(row["label"].strip())
    features = np.asarray(rows, dtype=np.float32)
    return labelled(path, labels, "tabular", features=features, feature_names=names)


def _number(path: Path, line: int, column: str, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        shown = value.strip() or "an empty cell"
        raise BadInput(f"{path.name}: line {line}, column {column!r}: {shown!r} is not a number") from None
    if not math.isfinite(number):
        raise BadInput(f"{path.name}: line {line}, column {column!r}: {value.strip()!r} is not a finite number")
    return number


def load_jsonl(path: Path, task: str = "auto") -> TaskData:
    if task not in ("auto", "text"):
        raise BadInput(f"{path.name}: a JSONL file holds text data, not {task}")
    text, raw = read_utf8(path)
    texts, labels = [], []
    for line, content in enumerate(text.splitlines(), start=1):
        if not content.strip():
            continue
        texts_label = _jsonl_row(path, line, content)
        texts.append(texts_label[0])
        labels.append(texts_label[1])
    data = labelled(path, labels, "text", texts=texts)
    data.sha256 = sha256_of_bytes(raw)
    return data


def _jsonl_row(path: Path, line: int, content: str) -> tuple[str, str]:
    try:
        row = json.loads(content)
    except json.JSONDecodeError as error:
        raise BadInput(f"{path.name}: line {line} is not valid JSON ({error.msg})") from None
    if not isinstance(row, dict):
        raise BadInput(f"{path.name}: line {line} is not a JSON object")
    for key in ("text", "label"):
        if key not in row or row[key] is None or str(row[key]).strip() == "":
            raise BadInput(f"{path.name}: line {line} has no {key!r}")
    if not isinstance(row["text"], str):
        raise BadInput(f"{path.name}: line {line}: 'text' is not a string")
    return row["text"], str(row["label"]).strip()
