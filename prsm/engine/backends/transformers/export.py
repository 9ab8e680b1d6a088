"""A Hugging Face directory (reloaded with AutoModelForSequenceClassification and compared) and
a ``.pth`` state dict for transformer students."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ...adapters import predict_logits
from ...export.files import export_record, within_tolerance


def export_huggingface(student, folder: Path, root: Path, inputs: dict, expected: np.ndarray, formats: list[str]) -> dict:
    from transformers import AutoModelForSequenceClassification

    student.module.save_pretrained(folder, safe_serialization=True)
    student.adapter.tokenizer.save_pretrained(folder)
    reloaded = AutoModelForSequenceClassification.from_pretrained(folder, use_safetensors=True).eval()
    ok, diff = within_tolerance(predict_logits(reloaded, student.adapter, inputs), expected, atol=1e-5, rtol=1e-5)
    records = {}
    if "huggingface" in formats:
        records["huggingface"] = export_record(folder, root, ok, diff, reload="AutoModelForSequenceClassification")
    if "safetensors" in formats:
        records["safetensors"] = export_record(folder / "model.safetensors", root, ok, diff,
                                               architecture_path=(folder / "config.json").relative_to(root).as_posix())
    return records


def export_state_dict(student, path: Path, root: Path, inputs: dict, expected: np.ndarray) -> dict:
    from transformers import AutoConfig, AutoModelForSequenceClassification

    torch.save({k: v.detach().cpu() for k, v in student.module.state_dict().items()}, path)
    fresh = AutoModelForSequenceClassification.from_config(AutoConfig.for_model(**student.architecture))
    fresh.load_state_dict(torch.load(path, map_location="cpu", weights_only=True), strict=True)
    ok, diff = within_tolerance(predict_logits(fresh, student.adapter, inputs), expected, atol=1e-5, rtol=1e-5)
    return export_record(path, root, ok, diff)
