"""Checks on the data before training: personal data, label sanity, class imbalance."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from ..data.types import TaskData, sha256_of_bytes
from .config import ChecksConfig
from .pii import redact, scan
from .record import check_record

_NAMES = {"email": ("e-mail address", "e-mail addresses"), "phone": ("phone number", "phone numbers"),
          "card": ("card number", "card numbers"), "iban": ("IBAN", "IBANs")}


def pii_check(texts: list[str], config: ChecksConfig, redacted: bool = False) -> dict:
    """Share of texts holding personal data (e-mail, phone, Luhn-valid card, mod-97-valid IBAN).

    score = texts with any finding / all texts; passes at or under ``max_pii_share``, or when the
    findings were redacted before training. Examples are masked; values are never stored.
    """
    found = scan(texts)
    share = found["texts_with_pii"] / max(len(texts), 1)
    kinds = ", ".join(f"{n} {_NAMES[k][n != 1]}" for k, n in found["counts"].items() if n)
    if not found["texts_with_pii"]:
        detail = f"no e-mail addresses, phone, card or IBAN numbers in {len(texts)} texts"
    else:
        detail = f"{found['texts_with_pii']} of {len(texts)} texts hold personal data ({kinds}); " + (
            "replaced by placeholders before training" if redacted else "set redact_pii to replace them before training")
    return check_record(score=share, threshold=config.max_pii_share, passed=redacted or share <= config.max_pii_share,
                        detail=detail, phase="before", redacted=redacted, **found)


def redact_texts(data: TaskData) -> TaskData:
    """A copy of text ``data`` with personal data replaced; its hash changes, so caches keyed on it do too."""
    clean = data.subset(np.arange(len(data)))
    clean.texts = [redact(text) for text in data.texts]
    clean.sha256 = sha256_of_bytes(data.sha256.encode(), b":redacted-pii")
    return clean


def label_sanity_check(data: TaskData, config: ChecksConfig) -> dict:
    """Problems with the labels: classes with too few examples, and identical inputs labelled
    differently (more than 1% of inputs). score = number of problems; passes at 0."""
    counts = np.bincount(data.labels, minlength=data.num_classes)
    problems = [f"class {data.classes[i]!r} has {n} example{'s' if n != 1 else ''}"
                for i, n in enumerate(counts) if n < config.min_class_examples]
    conflicting = _conflicting_inputs(data)
    share = conflicting / max(len(data), 1)
    if share > 0.01:
        problems.append(f"{conflicting} inputs appear more than once with different labels")
    detail = "; ".join(problems) if problems else (
        f"{data.num_classes} classes, each with at least {int(counts.min())} examples; "
        f"{conflicting} inputs repeated with different labels")
    return check_record(score=len(problems), threshold=0, passed=not problems, detail=detail, phase="before",
                        conflicting_inputs=conflicting)


def _conflicting_inputs(data: TaskData) -> int:
    labels_of: dict = defaultdict(set)
    if data.task == "text":
        keys = [text.strip().lower() for text in data.texts]
    else:
        array = data.features if data.task == "tabular" else data.images
        keys = [row.tobytes() for row in np.ascontiguousarray(array).reshape(len(data), -1)]
    for key, label in zip(keys, data.labels):
        labels_of[key].add(int(label))
    return sum(1 for key in keys if len(labels_of[key]) > 1)


def class_imbalance_check(data: TaskData, config: ChecksConfig) -> dict:
    """Imbalance ratio = largest class count / smallest class count (He & Garcia, "Learning from
    Imbalanced Data", 2009); passes at or under ``max_class_imbalance``."""
    counts = np.bincount(data.labels, minlength=data.num_classes)
    ratio = float(counts.max() / counts.min()) if counts.min() > 0 else float("inf")
    big, small = data.classes[int(counts.argmax())], data.classes[int(counts.argmin())]
    detail = (f"the largest class ({big!r}, {int(counts.max())}) is {ratio:.1f}x the smallest "
              f"({small!r}, {int(counts.min())})" if counts.min() > 0 else f"class {small!r} has no examples")
    return check_record(score=ratio, threshold=config.max_class_imbalance, passed=ratio <= config.max_class_imbalance,
                        detail=detail, phase="before", class_counts=dict(zip(data.classes, counts.tolist())))
