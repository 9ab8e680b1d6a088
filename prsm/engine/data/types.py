"""The one in-memory shape every loader returns and every backend consumes."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

TASKS = ("text", "image", "tabular")


@dataclass
class TaskData:
    """A labelled classification data set.

    Exactly one of ``texts``, ``images`` or ``features`` is set, matching ``task``:
    - text: ``texts`` is a list of str;
    - image: ``images`` is float32 ``[n, channels, height, width]`` scaled to 0..1;
    - tabular: ``features`` is float32 ``[n, f]`` in file column order, raw values.
    ``labels`` are int64 indices into ``classes`` (sorted label strings unless a teacher says otherwise).
    ``domains``: each row's domain where the data names one (a ``domain`` column), for a teacher
    ensemble that routes rows to the teacher of their domain; None otherwise.
    """

    task: str
    classes: list[str]
    labels: np.ndarray
    texts: list[str] | None = None
    images: np.ndarray | None = None
    features: np.ndarray | None = None
    feature_names: list[str] | None = None
    source: str = ""
    sha256: str = ""
    meta: dict = field(default_factory=dict)
    domains: list[str] | None = None

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {self.task!r}")
        self.labels = np.asarray(self.labels, dtype=np.int64)
        inputs = {"text": self.texts, "image": self.images, "tabular": self.features}
        if inputs[self.task] is None:
            raise ValueError(f"{self.task} data needs its inputs")
        if len(inputs[self.task]) != len(self.labels):
            raise ValueError("inputs and labels differ in length")
        if self.domains is not None and len(self.domains) != len(self.labels):
            raise ValueError("domains and labels differ in length")

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def subset(self, index: np.ndarray) -> TaskData:
        """The rows at ``index`` (same classes, same source and hash)."""
        index = np.asarray(index, dtype=np.int64)
        return TaskData(
            task=self.task,
            classes=list(self.classes),
            labels=self.labels[index],
            texts=[self.texts[i] for i in index] if self.texts is not None else None,
            images=self.images[index] if self.images is not None else None,
            features=self.features[index] if self.features is not None else None,
            feature_names=self.feature_names,
            source=self.source,
            sha256=self.sha256,
            meta=dict(self.meta),
            domains=[self.domains[i] for i in index] if self.domains is not None else None,
        )


def sha256_of_bytes(*chunks: bytes) -> str:
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()
