"""Checks after training, the gate before a student is deployed or listed: robustness, fairness,
calibration and agreement with the teacher where the teacher is least sure."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np

from ..data.types import TaskData
from ..evaluation.metrics import accuracy, expected_calibration_error, softmax
from .config import ChecksConfig
from .record import check_record

Predict = Callable[[TaskData], np.ndarray]
TERMS_FILE = Path(__file__).parent / "data" / "demographic_terms.json"


def robustness_check(data: TaskData, student: Predict, teacher: Predict, config: ChecksConfig,
                     perturbed: dict[str, TaskData], adversarial: dict[str, tuple[TaskData, TaskData | None]] | None = None) -> dict:
    """Accuracy kept under perturbation, student against teacher.

    For each perturbation p: kept(m) = acc_m(p(x)) / acc_m(x); gap = kept(teacher) - kept(student).
    score = the largest gap; passes at or under ``max_robustness_gap``. ``perturbed`` rows are shown
    to both models; ``adversarial`` holds per-model attacks (student's, teacher's or None when the
    teacher cannot give gradients: then the student's figure is recorded, not compared).
    Perturbations after Hendrycks & Dietterich (2019); FGSM after Goodfellow et al. (2015).
    """
    clean = {"student": accuracy(student(data), data.labels), "teacher": accuracy(teacher(data), data.labels)}
    measured: dict[str, dict] = {}
    for name, rows in perturbed.items():
        measured[name] = {"student": accuracy(student(rows), rows.labels), "teacher": accuracy(teacher(rows), rows.labels)}
    for name, (student_rows, teacher_rows) in (adversarial or {}).items():
        measured[name] = {"student": accuracy(student(student_rows), student_rows.labels),
                          "teacher": accuracy(teacher(teacher_rows), teacher_rows.labels) if teacher_rows is not None else None}
    gaps = {}
    for name, acc in measured.items():
        acc["student_kept"] = acc["student"] / clean["student"] if clean["student"] else 0.0
        if acc["teacher"] is not None:
            acc["teacher_kept"] = acc["teacher"] / clean["teacher"] if clean["teacher"] else 0.0
            gaps[name] = acc["teacher_kept"] - acc["student_kept"]
    worst = max(gaps, key=gaps.get) if gaps else None
    score = gaps[worst] if worst else 0.0
    parts = [f"{name}: student keeps {a['student_kept']:.0%}" + (f", teacher {a['teacher_kept']:.0%}" if "teacher_kept" in a else " (teacher not attackable)")
             for name, a in measured.items()]
    detail = f"accuracy kept under perturbation ({len(data)} test rows) - " + "; ".join(parts)
    return check_record(score=score, threshold=config.max_robustness_gap, passed=score <= config.max_robustness_gap,
                        detail=detail, phase="after", clean=clean, perturbations=measured, worst=worst)


@lru_cache(maxsize=1)
def demographic_terms() -> dict[str, list[str]]:
    return json.loads(TERMS_FILE.read_text())


def text_slices(texts: list[str], terms: dict[str, list[str]] | None = None) -> dict[str, np.ndarray]:
    """A mask per demographic group: the texts that mention any of its terms (whole words)."""
    terms = terms or demographic_terms()
    words = [set(re.findall(r"[a-z]+", text.lower())) for text in texts]
    return {group: np.array([bool(w & set(members)) for w in words]) for group, members in terms.items()}


def column_slices(features: np.ndarray, names: list[str], column: str, max_values: int = 10) -> dict[str, np.ndarray]:
    """A mask per value of the sensitive ``column`` (or its halves around the median when it has many values)."""
    if column not in (names or []):
        raise KeyError(column)
    values = features[:, names.index(column)]
    distinct = np.unique(values)
    if len(distinct) <= max_values:
        return {f"{column}={v:g}": values == v for v in distinct}
    median = float(np.median(values))
    return {f"{column}<={median:g}": values <= median, f"{column}>{median:g}": values > median}


def fairness_check(slices: dict[str, np.ndarray], student_logits: np.ndarray, teacher_logits: np.ndarray,
                   labels: np.ndarray, config: ChecksConfig, what: str) -> dict:
    """Accuracy parity across slices (Hardt et al., 2016, in its accuracy form):
    gap(s) = |acc(slice s) - acc(all rows)| over slices with at least ``min_slice_examples`` rows;
    score = the largest gap; passes at or under ``max_fairness_gap``."""
    overall = accuracy(student_logits, labels)
    measured = {}
    for name, mask in slices.items():
        n = int(mask.sum())
        if n < config.min_slice_examples or n == len(mask):
            continue
        student = accuracy(student_logits[mask], labels[mask])
        teacher = accuracy(teacher_logits[mask], labels[mask])
        measured[name] = {"examples": n, "student_accuracy": student, "teacher_accuracy": teacher, "gap": abs(student - overall)}
    if not measured:
        sizes = ", ".join(f"{k} {int(m.sum())}" for k, m in slices.items()) or "none"
        return check_record(score=0, threshold=config.max_fairness_gap, passed=True, phase="after", slices={},
                            detail=f"no {what} slice has {config.min_slice_examples}+ test examples ({sizes}): nothing to compare")
    worst = max(measured, key=lambda k: measured[k]["gap"])
    w = measured[worst]
    detail = (f"largest accuracy gap across {len(measured)} {what} slices: {worst!r} ({w['examples']} examples) "
              f"{w['student_accuracy']:.1%} against {overall:.1%} overall (teacher {w['teacher_accuracy']:.1%} there)")
    return check_record(score=w["gap"], threshold=config.max_fairness_gap, passed=w["gap"] <= config.max_fairness_gap,
                        detail=detail, phase="after", slices=measured, overall_accuracy=overall)


def calibration_check(student_logits: np.ndarray, labels: np.ndarray, teacher_logits: np.ndarray, config: ChecksConfig) -> dict:
    """Expected calibration error, ECE = sum_b |B_b|/n |acc(B_b) - conf(B_b)| over 15 confidence
    bins (Naeini et al., 2015; Guo et al., 2017); passes at or under ``max_ece``."""
    ece = expected_calibration_error(student_logits, labels)
    teacher = expected_calibration_error(teacher_logits, labels)
    detail = (f"the student's stated confidence is off its accuracy by {ece:.3f} on average (ECE; teacher {teacher:.3f})")
    return check_record(score=ece, threshold=config.max_ece, passed=ece <= config.max_ece, detail=detail, phase="after",
                        teacher_ece=teacher)


def low_margin_agreement_check(student_logits: np.ndarray, teacher_logits: np.ndarray, config: ChecksConfig) -> dict:
    """Agreement with the teacher on the rows where it is least sure: margin = p1 - p2 of the
    teacher's softmax; the lowest ``low_margin_fraction`` of rows; agreement = share where the
    student's top class is the teacher's (the hard cases of Hinton et al., 2015, dark knowledge)."""
    probabilities = np.sort(softmax(np.asarray(teacher_logits, dtype=np.float64)), axis=1)
    margin = probabilities[:, -1] - probabilities[:, -2]
    count = max(1, int(round(len(margin) * config.low_margin_fraction)))
    rows = np.argsort(margin, kind="stable")[:count]
    agreement = float((student_logits[rows].argmax(1) == teacher_logits[rows].argmax(1)).mean())
    overall = float((student_logits.argmax(1) == teacher_logits.argmax(1)).mean())
    detail = (f"the student agrees with the teacher on {agreement:.1%} of the {count} rows where the teacher is least "
              f"sure (margin under {margin[rows].max():.2f}); {overall:.1%} on all rows")
    return check_record(score=agreement, threshold=config.min_low_margin_agreement,
                        passed=agreement >= config.min_low_margin_agreement, detail=detail, phase="after",
                        rows=count, overall_agreement=overall)
