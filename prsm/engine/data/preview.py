"""What a person sees of a data set before anything runs: a few rows or images, the class counts,
the split sizes the job will use, and the data checks' findings (personal data, tiny classes,
conflicting labels, imbalance), all computed with the same functions the pipeline runs."""

from __future__ import annotations

import base64
import io

import numpy as np

from ..checks.config import ChecksConfig
from ..checks.data_checks import class_imbalance_check, label_sanity_check, pii_check
from ..errors import BadInput
from .splits import stratified_split
from .types import TaskData

ROWS_SHOWN = 5
IMAGES_PER_CLASS = 3
MAX_TEXT_CHARS = 200
MAX_COLUMNS = 8


def data_preview(data: TaskData, seed: int = 0) -> dict:
    """A JSON-ready summary of ``data`` (see the module's docstring); images as PNG data URLs."""
    counts = np.bincount(data.labels, minlength=data.num_classes).tolist()
    config = ChecksConfig()
    checks = {"labels": label_sanity_check(data, config), "imbalance": class_imbalance_check(data, config)}
    if data.task == "text":
        checks["pii"] = pii_check(data.texts, config)
    try:
        splits = stratified_split(data, seed=seed).sizes()
    except BadInput as error:
        splits = {"error": str(error)}
    return {
        "task": data.task, "rows": len(data), "classes": list(data.classes), "class_counts": counts,
        "splits": splits, "sample": _sample(data),
        "warnings": [check["detail"] for check in checks.values() if not check["passed"]],
        "checks": {name: {"passed": bool(check["passed"]), "detail": check["detail"]} for name, check in checks.items()},
    }


def _sample(data: TaskData) -> dict:
    if data.task == "text":
        return {"columns": ["text", "label"], "rows": [[_short(data.texts[i]), data.classes[data.labels[i]]]
                                                      for i in range(min(ROWS_SHOWN, len(data)))]}
    if data.task == "tabular":
        names = list(data.feature_names or [f"x{i}" for i in range(data.features.shape[1])])
        shown = names[:MAX_COLUMNS]
        rows = [[f"{value:g}" for value in data.features[i, :len(shown)]] + [data.classes[data.labels[i]]]
                for i in range(min(ROWS_SHOWN, len(data)))]
        more = len(names) - len(shown)
        return {"columns": shown + ([f"… {more} more"] if more else []) + ["label"],
                "rows": [row[:-1] + ([""] if more else []) + row[-1:] for row in rows]}
    return {"images": [{"label": label, "images": [_png(data.images[i]) for i in
                                                   np.flatnonzero(data.labels == index)[:IMAGES_PER_CLASS]]}
                       for index, label in enumerate(data.classes)]}


def _short(text: str) -> str:
    return text if len(text) <= MAX_TEXT_CHARS else text[:MAX_TEXT_CHARS - 1] + "…"


def _png(image: np.ndarray) -> str:
    from PIL import Image

    pixels = np.clip(np.asarray(image) * 255, 0, 255).astype(np.uint8)
    pixels = pixels[0] if pixels.shape[0] == 1 else np.transpose(pixels[:3], (1, 2, 0))
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
