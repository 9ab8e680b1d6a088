"""Teacher analysis (knowledge extraction): what the teacher costs, how good and how sure it is,
where its decision boundary lies, and, for transformers, which heads and layers matter.

``analyze_teacher(ref, data=None)`` returns a JSON-ready dict; ``prsm teacher analyze`` prints it.
"""

from __future__ import annotations

import numpy as np

from ..data.loaders import load_data
from ..data.splits import stratified_split
from ..evaluation.metrics import confusion_matrix, per_class_accuracy, quality, softmax
from ..jsonable import jsonable
from ..teachers import align_classes, load_teacher
from .structure import attention_head_importance, layer_similarity, permutation_importance

LOW_MARGIN_SHOWN = 10


def analyze_teacher(ref: str, data: str | None = None, max_examples: int = 2000, seed: int = 0) -> dict:
    teacher = load_teacher(ref)
    analysis = {"ref": ref, "kind": teacher.kind, "task": teacher.task, "classes": teacher.classes,
                "profile": dict(teacher.describe())}
    if data is None:
        return analysis | {"quality": None, "note": "no data given: quality, calibration and structure need --data"}
    rows = load_data(data, teacher.task or "auto")
    teacher.check(rows)
    rows = align_classes(rows, teacher)
    held_out = stratified_split(rows, seed).test if len(rows) > 60 else rows
    if len(held_out) > max_examples:
        held_out = held_out.subset(np.random.default_rng(seed).choice(len(held_out), max_examples, replace=False))
    inputs = teacher.encode(held_out)
    logits = teacher.logits_of(inputs)
    analysis["classes"] = teacher.classes
    analysis["profile"].update(_cost(teacher, inputs))
    analysis["quality"] = _quality(logits, held_out)
    analysis["low_margin_examples"] = _low_margin(logits, held_out)
    analysis["structure"] = _structure(teacher, held_out, inputs, logits, seed)
    analysis["data"] = {"ref": data, "sha256": rows.sha256, "examples_analysed": len(held_out)}
    return jsonable(analysis)


def _cost(teacher, inputs) -> dict:
    small = {k: v[:64] for k, v in inputs.items()}
    if teacher.runtime == "onnxruntime":  # FLOPs and memory counted from the graph, RSS measured
        return teacher.cost(small, measure_rss=True)
    return teacher.cost(small)


def _quality(logits: np.ndarray, data) -> dict:
    probabilities = softmax(logits)
    confidence = probabilities.max(1)
    entropy = -(probabilities * np.log(np.clip(probabilities, 1e-12, 1))).sum(1)
    top2 = np.sort(probabilities, axis=1)[:, -2:] if probabilities.shape[1] > 1 else np.ones((len(logits), 2))
    margin = top2[:, 1] - top2[:, 0]
    return quality(logits, data.labels, data.num_classes) | {
        "per_class_accuracy": per_class_accuracy(logits, data.labels, data.classes),
        "confusion_matrix": confusion_matrix(logits, data.labels, data.num_classes),
        "mean_confidence": float(confidence.mean()), "mean_entropy": float(entropy.mean()),
        "confidence_histogram": np.histogram(confidence, bins=10, range=(0, 1))[0].tolist(),
        "entropy_percentiles": {str(p): float(np.percentile(entropy, p)) for p in (10, 50, 90)},
        "low_margin_share": float((margin < 0.2).mean())}


def _low_margin(logits: np.ndarray, data) -> list[dict]:
    """The examples nearest the decision boundary: smallest gap between the top two probabilities."""
    probabilities = softmax(logits)
    ordered = np.sort(probabilities, axis=1)
    margin = ordered[:, -1] - ordered[:, -2] if probabilities.shape[1] > 1 else ordered[:, -1]
    out = []
    for row in np.argsort(margin)[:LOW_MARGIN_SHOWN]:
        top = np.argsort(probabilities[row])[::-1][:2]
        example = {"row": int(row), "margin": float(margin[row]), "label": data.classes[data.labels[row]],
                   "top": [{"class": data.classes[i], "probability": float(probabilities[row, i])} for i in top]}
        if data.texts is not None:
            example["text"] = data.texts[row][:300]
        out.append(example)
    return out


def _structure(teacher, data, inputs, logits, seed: int) -> dict:
    if teacher.kind == "huggingface":
        return {"attention_head_importance": attention_head_importance(teacher, inputs, data.labels),
                "layer_similarity_cka": layer_similarity(teacher, inputs)}
    if data.task == "tabular":
        return {"permutation_importance": permutation_importance(teacher, data, seed)}
    return {}

