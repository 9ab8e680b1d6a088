"""Deterministic stratified train/validation/test splits."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import BadInput
from .types import TaskData


@dataclass
class Split:
    train: TaskData
    validation: TaskData
    test: TaskData

    def sizes(self) -> dict:
        return {"train": len(self.train), "validation": len(self.validation), "test": len(self.test)}


def stratified_split(data: TaskData, seed: int, validation: float = 0.15, test: float = 0.15,
                     max_train: int | None = None) -> Split:
    """Split every class in the same proportions; the same data and seed always give the same rows.

    Each class keeps at least one row in every part, so a class needs three rows. ``max_train``
    caps the training rows (stratified too), for quick runs on large data.
    """
    index = stratified_rows(data, seed, validation, test, max_train)
    return Split(**{name: data.subset(rows) for name, rows in index.items()})


def stratified_rows(data: TaskData, seed: int, validation: float = 0.15, test: float = 0.15,
                    max_train: int | None = None) -> dict[str, np.ndarray]:
    """The row numbers of :func:`stratified_split`'s parts."""
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {"train": [], "validation": [], "test": []}
    for label in range(data.num_classes):
        rows = np.flatnonzero(data.labels == label)
        if len(rows) < 3:
            raise BadInput(f"class {data.classes[label]!r} has {len(rows)} rows; every class needs at least 3")
        rows = rows[rng.permutation(len(rows))]
        n_test = max(1, round(len(rows) * test))
        n_val = max(1, round(len(rows) * validation))
        parts["test"].append(rows[:n_test])
        parts["validation"].append(rows[n_test:n_test + n_val])
        parts["train"].append(rows[n_test + n_val:])
    index = {name: np.sort(np.concatenate(chunks)) for name, chunks in parts.items()}
    if max_train is not None and len(index["train"]) > max_train:
        index["train"] = _stratified_cap(index["train"], data.labels, max_train, rng)
    return index


def split_by_parts(data: TaskData, parts: dict[str, tuple[int, int]], seed: int, validation: float = 0.15,
                   test: float = 0.15, max_train: int | None = None) -> Split:
    """Each part of ``data`` (a replay of an earlier task's rows, then the new rows) split on its own,
    stratified from ``seed`` as a job on that part alone would split it, and the parts' train,
    validation and test rows put together; ``max_train`` caps each part."""
    index: dict[str, list[np.ndarray]] = {"train": [], "validation": [], "test": []}
    for start, end in parts.values():
        part = data.subset(np.arange(start, end))
        for name, rows in stratified_rows(part, seed, validation, test, max_train).items():
            index[name].append(rows + start)
    return Split(**{name: data.subset(np.concatenate(chunks)) for name, chunks in index.items()})


def _stratified_cap(rows: np.ndarray, labels: np.ndarray, limit: int, rng: np.random.Generator) -> np.ndarray:
    share = limit / len(rows)
    kept = []
    for label in np.unique(labels[rows]):
        members = rows[labels[rows] == label]
        kept.append(members[rng.permutation(len(members))[: max(1, int(len(members) * share))]])
    return np.sort(np.concatenate(kept))


def split_with_test_rows(data: TaskData, test_rows: np.ndarray, seed: int, validation: float = 0.15,
                         max_train: int | None = None) -> Split:
    """Test on given rows (a catalog teacher's held-out rows, or a data set's official test split);
    the other rows are split into train and validation, stratified, from ``seed``."""
    test_rows = np.unique(np.asarray(test_rows, dtype=np.int64))
    if len(test_rows) == 0 or test_rows.max() >= len(data):
        raise BadInput("the held-out rows do not fit the data (a different version of the data set?)")
    rest = np.setdiff1d(np.arange(len(data)), test_rows)
    rng = np.random.default_rng(seed)
    train, val = [], []
    for label in range(data.num_classes):
        rows = rest[data.labels[rest] == label]
        rows = rows[rng.permutation(len(rows))]
        n_val = max(1, round(len(rows) * validation)) if len(rows) >= 2 else 0
        val.append(rows[:n_val])
        train.append(rows[n_val:])
    train_rows = np.sort(np.concatenate(train))
    if max_train is not None and len(train_rows) > max_train:
        train_rows = _stratified_cap(train_rows, data.labels, max_train, rng)
    return Split(train=data.subset(train_rows), validation=data.subset(np.sort(np.concatenate(val))),
                 test=data.subset(test_rows))
