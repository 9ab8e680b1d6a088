"""Classification metrics over logits; every function takes numpy arrays."""

from __future__ import annotations

import numpy as np


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    return float((logits.argmax(axis=1) == labels).mean())


def macro_f1(logits: np.ndarray, labels: np.ndarray, num_classes: int) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(labels, logits.argmax(axis=1), labels=list(range(num_classes)), average="macro", zero_division=0))


def expected_calibration_error(logits: np.ndarray, labels: np.ndarray, bins: int = 15) -> float:
    """ECE = sum_b |B_b|/n * |acc(B_b) - conf(B_b)| over equal-width confidence bins
    (Naeini et al., 2015; Guo et al., "On Calibration of Modern Neural Networks", 2017)."""
    table = reliability(logits, labels, bins)
    n = max(sum(table["count"]), 1)
    return float(sum(count / n * abs(acc - conf)
                     for count, acc, conf in zip(table["count"], table["accuracy"], table["confidence"])))


def reliability(logits: np.ndarray, labels: np.ndarray, bins: int = 10) -> dict[str, list]:
    """The reliability diagram's points: for each non-empty equal-width confidence bin, the mean
    confidence, the accuracy and the number of examples (a calibrated model's points lie on the
    diagonal; Guo et al., 2017, figure 1)."""
    probabilities = softmax(logits)
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    edges = np.linspace(0, 1, bins + 1)
    table: dict[str, list] = {"confidence": [], "accuracy": [], "count": []}
    for low, high in zip(edges[:-1], edges[1:]):
        members = (confidence > low) & (confidence <= high)
        if members.any():
            table["confidence"].append(float(confidence[members].mean()))
            table["accuracy"].append(float(correct[members].mean()))
            table["count"].append(int(members.sum()))
    return table


def agreement(student_logits: np.ndarray, teacher_logits: np.ndarray) -> float:
    """The share of examples where student and teacher predict the same class."""
    return float((student_logits.argmax(axis=1) == teacher_logits.argmax(axis=1)).mean())


def confusion_matrix(logits: np.ndarray, labels: np.ndarray, num_classes: int) -> list[list[int]]:
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (labels, logits.argmax(axis=1)), 1)
    return matrix.tolist()


def per_class_accuracy(logits: np.ndarray, labels: np.ndarray, classes: list[str]) -> dict[str, float | None]:
    predicted = logits.argmax(axis=1)
    return {name: (float((predicted[labels == i] == i).mean()) if (labels == i).any() else None)
            for i, name in enumerate(classes)}


def quality(logits: np.ndarray, labels: np.ndarray, num_classes: int) -> dict:
    return {"accuracy": accuracy(logits, labels), "f1_macro": macro_f1(logits, labels, num_classes),
            "ece": expected_calibration_error(logits, labels), "reliability": reliability(logits, labels)}
