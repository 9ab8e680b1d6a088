"""Loaders for CSV and JSONL files: text (``text``, ``label``) or tabular (numeric features + ``label``).

Every problem a user can fix is a :class:`BadInput` naming the file and the line.
"""

from __future__ import annotations

import csv
import io
import json
import math
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ..errors import BadInput
from .types import TaskData, sha256_of_bytes

# The upload service's defaults (UPLOAD_CSV_MAX_FIELD_CHARS, UPLOAD_JSONL_MAX_DEPTH), so the engine
# refuses what it refuses; the field limit sits under csv's own (131,072), which is left unchanged.
MAX_FIELD_CHARS = 100_000
MAX_JSON_DEPTH = 32


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
    with _readable_csv(path, reader):
        header = reader.fieldnames or []
    _check_field_lengths(path, reader.line_num, header)
    columns = [c.strip() for c in header]
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
    """(line number, row) pairs; refuses an empty label, over-long fields and rows with too many or too few cells."""
    rows = 0
    with _readable_csv(path, reader):
        for row in reader:
            rows += 1
            if None in row or any(value is None for value in row.values()):
                raise BadInput(f"{path.name}: line {reader.line_num} has {_cells(row)} cells, the header has {len(reader.fieldnames)}")
            _check_field_lengths(path, reader.line_num, row.values())
            if not row["label"].strip():
                raise BadInput(f"{path.name}: line {reader.line_num} has an empty label")
            yield reader.line_num, row
    if rows == 0:
        raise BadInput(f"{path.name}: a header but no rows")


@contextmanager
def _readable_csv(path: Path, reader: csv.DictReader):
    """csv's own errors (a field past its size limit, a bare \\r in a field) as a BadInput naming the line."""
    try:
        yield
    except csv.Error as error:
        line = reader.reader.line_num  # the DictReader's own count is updated only after a row is read
        if "field larger than field limit" in str(error):
            limit = min(MAX_FIELD_CHARS, csv.field_size_limit())
            raise BadInput(f"{path.name}: line {line} has a field longer than {limit} characters") from None
        reason = str(error).split(" - ")[0]  # not csv's hint about opening the file, which is ours to do
        raise BadInput(f"{path.name}: line {line} is not readable CSV ({reason})") from None


def _check_field_lengths(path: Path, line: int, fields) -> None:
    if any(len(field) > MAX_FIELD_CHARS for field in fields):
        raise BadInput(f"{path.name}: line {line} has a field longer than {MAX_FIELD_CHARS} characters")


def _cells(row: dict) -> int:
    return sum(1 for k, v in row.items() if k is not None and v is not None) + len(row.get(None) or [])


def _csv_text(path: Path, reader: csv.DictReader, columns: list[str]) -> TaskData:
    if "text" not in columns:
        raise BadInput(f"{path.name}: no 'text' column (columns: {', '.join(columns)})")
    texts, labels, domains = [], [], []
    for line, row in _csv_rows(path, reader):
        if not row["text"].strip():
            raise BadInput(f"{path.name}: line {line} has an empty text")
        texts.append(row["text"])
        labels.append(row["label"].strip())
        domains.append(row.get("domain", "").strip())
    return labelled(path, labels, "text", texts=texts, domains=_domains(domains))


def _domains(domains: list[str]) -> list[str] | None:
    """A ``domain`` column's values (blank where a row names none); None where no row names one."""
    return domains if any(domains) else None


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
    texts, labels, domains = [], [], []
    for line, content in enumerate(text.splitlines(), start=1):
        if not content.strip():
            continue
        texts_label = _jsonl_row(path, line, content)
        texts.append(texts_label[0])
        labels.append(texts_label[1])
        domains.append(texts_label[2])
    data = labelled(path, labels, "text", texts=texts, domains=_domains(domains))
    data.sha256 = sha256_of_bytes(raw)
    return data


def json_object(path: Path, line: int, content: str) -> dict:
    """One JSONL line as a dict; too deep, invalid JSON or not an object is a BadInput naming the line."""
    # json.loads recurses once per level: 100,000 brackets would end in a RecursionError
    if content.count("[") + content.count("{") > MAX_JSON_DEPTH and json_depth(content) > MAX_JSON_DEPTH:
        raise BadInput(f"{path.name}: line {line} is nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        row = json.loads(content)
    except json.JSONDecodeError as error:
        raise BadInput(f"{path.name}: line {line} is not valid JSON ({error.msg})") from None
    if not isinstance(row, dict):
        raise BadInput(f"{path.name}: line {line} is not a JSON object")
    return row


def _jsonl_row(path: Path, line: int, content: str) -> tuple[str, str, str]:
    row = json_object(path, line, content)
    for key in ("text", "label"):
        if key not in row or row[key] is None or str(row[key]).strip() == "":
            raise BadInput(f"{path.name}: line {line} has no {key!r}")
    if not isinstance(row["text"], str):
        raise BadInput(f"{path.name}: line {line}: 'text' is not a string")
    domain = row.get("domain")
    return row["text"], str(row["label"]).strip(), str(domain).strip() if domain is not None else ""


def json_depth(text: str) -> int:
    """The deepest nesting of ``[``/``{`` outside strings; counted, not parsed, so nothing recurses."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest
