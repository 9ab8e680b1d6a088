"""Unlabelled examples for the teacher to label: a transfer set (Hinton et al., 2015, sec. 2;
Tang et al., 2019, "Distilling Task-Specific Knowledge from BERT into Simple Neural Networks").

The student learns the teacher's outputs on them (the soft-target term alone: they have no hard
label), which lets a small labelled set teach a student with more of the teacher's behaviour.

``load_unlabelled(ref, like)`` accepts:
- ``builtin:NAME``: any built-in data set of the same task (its labels are ignored);
- for text: a ``.txt`` file (one text per line), or CSV/JSONL with a ``text`` field (``label``
  optional and ignored);
- for tabular data: a CSV with the training data's feature columns (``label`` optional, ignored);
- for images: an image folder or zip as the training data takes (class folders are ignored).
Rows come back as a TaskData with the training data's classes and every label ``UNLABELLED``.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from ..errors import BadInput
from .files import _check_field_lengths, _number, json_object, read_utf8
from .loaders import load_data
from .types import TaskData, sha256_of_bytes

UNLABELLED = -1  # the label of a row without one: the hard-label term skips it


def load_unlabelled(ref: str, like: TaskData, max_rows: int | None = None) -> TaskData:
    """The examples at ``ref`` as unlabelled rows shaped like ``like`` (the training data)."""
    if ref.startswith("builtin:"):
        data = load_data(ref)
    else:
        path = Path(ref).expanduser()
        if not path.exists():
            raise BadInput(f"unlabelled data {path}: no such file or folder")
        data = _file(path, like)
    if data.task != like.task:
        raise BadInput(f"unlabelled data {ref} holds {data.task} data; the training data is {like.task}")
    if like.task == "image" and data.images.shape[1:] != like.images.shape[1:]:
        raise BadInput(f"unlabelled data {ref}: images of shape {tuple(data.images.shape[1:])}, "
                       f"the training images are {tuple(like.images.shape[1:])}")
    if like.task == "tabular" and list(data.feature_names or []) != list(like.feature_names or []):
        raise BadInput(f"unlabelled data {ref}: feature columns {data.feature_names} differ from the training "
                       f"data's {like.feature_names}")
    if len(data) == 0:
        raise BadInput(f"unlabelled data {ref}: no rows")
    if max_rows is not None and len(data) > max_rows:
        data = data.subset(np.random.default_rng(0).permutation(len(data))[:max_rows])
    return TaskData(task=like.task, classes=list(like.classes), labels=np.full(len(data), UNLABELLED, dtype=np.int64),
                    texts=data.texts, images=data.images, features=data.features, feature_names=like.feature_names,
                    source=data.source or ref, sha256=data.sha256, meta={"unlabelled": True, **data.meta})


def _file(path: Path, like: TaskData) -> TaskData:
    suffix = path.suffix.lower()
    if path.is_dir() or suffix == ".zip":
        return load_data(str(path), like.task)
    if suffix == ".txt":
        return _texts(path, _txt_rows(path))
    if suffix in (".jsonl", ".ndjson"):
        return _texts(path, _jsonl_rows(path))
    if suffix == ".csv":
        return _csv(path, like)
    raise BadInput(f"{path.name}: unknown format for unlabelled data {suffix or '(no suffix)'} "
                   "(expected .txt, .csv, .jsonl, an image folder or .zip)")


def _texts(path: Path, rows: tuple[list[str], bytes]) -> TaskData:
    texts, raw = rows
    if not texts:
        raise BadInput(f"{path.name}: no texts")
    return TaskData(task="text", classes=[], labels=np.full(len(texts), UNLABELLED), texts=texts, source=str(path),
                    sha256=sha256_of_bytes(raw))


def _txt_rows(path: Path) -> tuple[list[str], bytes]:
    text, raw = read_utf8(path)
    lines = [line.strip() for line in text.splitlines()]
    for number, line in enumerate(lines, start=1):
        _check_field_lengths(path, number, [line])
    return [line for line in lines if line], raw


def _jsonl_rows(path: Path) -> tuple[list[str], bytes]:
    text, raw = read_utf8(path)
    texts = []
    for number, content in enumerate(text.splitlines(), start=1):
        if not content.strip():
            continue
        row = json_object(path, number, content)
        if not isinstance(row.get("text"), str) or not row["text"].strip():
            raise BadInput(f"{path.name}: line {number} has no 'text' string")
        texts.append(row["text"])
    return texts, raw


def _csv(path: Path, like: TaskData) -> TaskData:
    text, raw = read_utf8(path)
    reader = csv.reader(io.StringIO(text))
    try:
        rows = list(reader)
    except csv.Error as error:
        raise BadInput(f"{path.name}: line {reader.line_num} is not readable CSV ({str(error).split(' - ')[0]})") from None
    if len(rows) < 2:
        raise BadInput(f"{path.name}: a header but no rows" if rows else f"{path.name}: the file is empty")
    header = [c.strip() for c in rows[0]]
    wanted = ["text"] if like.task == "text" else list(like.feature_names or [])
    missing = [name for name in wanted if name not in header]
    if missing:
        raise BadInput(f"{path.name}: no {missing[0]!r} column (columns: {', '.join(header)})")
    columns = [header.index(name) for name in wanted]
    values = []
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise BadInput(f"{path.name}: line {number} has {len(row)} cells, the header has {len(header)}")
        _check_field_lengths(path, number, row)
        values.append([row[i] for i in columns])
    if like.task == "text":
        texts = [v[0] for v in values if v[0].strip()]
        return _texts(path, (texts, raw))
    features = np.asarray([[_number(path, number, name, cell) for name, cell in zip(wanted, v)]
                           for number, v in enumerate(values, start=2)], dtype=np.float32)
    return TaskData(task="tabular", classes=[], labels=np.full(len(features), UNLABELLED), features=features,
                    feature_names=wanted, source=str(path), sha256=sha256_of_bytes(raw))


def concat(labelled: TaskData, unlabelled: TaskData) -> TaskData:
    """Training rows followed by unlabelled rows (the first ``len(labelled)`` rows are the labelled ones)."""
    def join(a, b):
        if a is None:
            return None
        return a + b if isinstance(a, list) else np.concatenate([a, b])

    return TaskData(task=labelled.task, classes=list(labelled.classes),
                    labels=np.concatenate([labelled.labels, unlabelled.labels]),
                    texts=join(labelled.texts, unlabelled.texts), images=join(labelled.images, unlabelled.images),
                    features=join(labelled.features, unlabelled.features), feature_names=labelled.feature_names,
                    source=labelled.source, sha256=sha256_of_bytes(labelled.sha256.encode(), unlabelled.sha256.encode()),
                    meta=dict(labelled.meta), domains=_domains(labelled, unlabelled))


def _domains(labelled: TaskData, unlabelled: TaskData) -> list[str] | None:
    """Each row's domain where either part names them (blank for rows that name none)."""
    if labelled.domains is None and unlabelled.domains is None:
        return None
    return (labelled.domains or [""] * len(labelled)) + (unlabelled.domains or [""] * len(unlabelled))


def text_variants(texts: list[str], copies: int, seed: int, mask_token: str, mask_p: float = 0.1,
                  ngram_p: float = 0.25, max_ngram: int = 5) -> list[str]:
    """``copies`` new versions of each text, for the teacher to label: every word replaced by
    ``mask_token`` with probability ``mask_p``, then, with probability ``ngram_p``, only a random
    span of 1..``max_ngram`` words kept (the masking and n-gram sampling of Tang et al., 2019,
    without their part-of-speech swaps). Drawn from ``seed``; a variant equal to its text, or of
    mask tokens alone, is dropped."""
    rng = np.random.default_rng([seed, 0x7E57])
    out = []
    for _ in range(copies):
        for text in texts:
            words = text.split()
            if not words:
                continue
            masked = rng.random(len(words)) < mask_p
            words = [mask_token if m else w for w, m in zip(words, masked)]
            if rng.random() < ngram_p and len(words) > 1:
                n = int(rng.integers(1, min(max_ngram, len(words)) + 1))
                start = int(rng.integers(0, len(words) - n + 1))
                words = words[start:start + n]
            variant = " ".join(words)
            if variant != text and any(word != mask_token for word in words):  # not masks alone
                out.append(variant)
    return out
