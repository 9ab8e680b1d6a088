"""A Hugging Face ``*ForSequenceClassification`` directory (config, safetensors, tokenizer) as teacher.

Custom code (``auto_map``, or a ``.py`` file anywhere in the folder) is refused and only safetensors
weights are read (``load_teacher`` first converts a ``pytorch_model.bin`` through ``safe_convert``):
loading must never execute a file.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..adapters import SequenceAdapter
from ..data.types import TaskData
from ..errors import BadInput
from .base import Teacher

DEFAULT_MAX_LENGTH = 128


def refuse_custom_code(folder: Path) -> dict:
    """The folder's config, or BadInput where it asks for custom code (``auto_map``) or holds any
    ``.py`` file; checked before anything else is done with the folder (conversion included)."""
    config_file = folder / "config.json"
    try:
        config = json.loads(config_file.read_text())
    except (OSError, json.JSONDecodeError, RecursionError):
        raise BadInput(f"{folder.name}: config.json is missing or not JSON") from None
    if not isinstance(config, dict):
        raise BadInput(f"{folder.name}: config.json is not a JSON object")
    if config.get("auto_map"):
        raise BadInput(f"{folder.name}: needs custom code (auto_map); only built-in architectures are loaded")
    code = _python_file(folder)
    if code is not None:
        raise BadInput(f"{folder.name}: holds custom code ({code}); only built-in architectures are loaded")
    return config


def check_hf_dir(folder: Path) -> dict:
    config = refuse_custom_code(folder)
    if not any(folder.glob("*.safetensors")):
        raise BadInput(f"{folder.name}: no safetensors weights (model.safetensors, or a pytorch_model.bin to convert)")
    if not any("ForSequenceClassification" in name for name in config.get("architectures") or []):
        raise BadInput(f"{folder.name}: not a sequence-classification model (architectures: {config.get('architectures')})")
    return config


def _python_file(folder: Path) -> str | None:
    """The first ``.py`` file under the folder, by its relative path; rglob does not enter linked folders."""
    for path in sorted(folder.rglob("*")):
        if path.suffix.lower() == ".py":
            return path.relative_to(folder).as_posix()
    return None


class HuggingFaceTeacher(Teacher):
    kind = "huggingface"
    task = "text"

    def __init__(self, ref: str, folder: Path, max_length: int = DEFAULT_MAX_LENGTH) -> None:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        super().__init__(ref)
        self.path = folder
        check_hf_dir(folder)
        try:
            self.module = AutoModelForSequenceClassification.from_pretrained(folder, use_safetensors=True).eval()
            tokenizer = AutoTokenizer.from_pretrained(folder)
        except (OSError, ValueError, KeyError) as error:
            raise BadInput(f"{folder.name}: cannot load it ({str(error).splitlines()[0][:200]})") from None
        self.config = self.module.config
        limit = getattr(self.config, "max_position_embeddings", max_length) or max_length
        self.adapter = SequenceAdapter(tokenizer, min(max_length, limit))
        self.classes = [str(self.config.id2label[i]) for i in range(self.config.num_labels)]

    @property
    def tokenizer(self):
        return self.adapter.tokenizer

    def check(self, data: TaskData) -> None:
        if data.task != "text":
            raise BadInput(f"a Hugging Face teacher takes text, the data is {data.task}")

    def describe(self) -> dict:
        config = self.config
        params = sum(p.numel() for p in self.module.parameters())
        size = sum(p.stat().st_size for p in self.path.glob("*.safetensors"))
        return {"kind": "huggingface", "family": config.model_type, "params": int(params), "size_bytes": size,
                "layers": config.num_hidden_layers, "width": config.hidden_size,
                "heads": config.num_attention_heads, "vocab_size": config.vocab_size,
                "max_length": self.adapter.max_length,
                "architecture": {"format": "huggingface", "model_type": config.model_type,
                                 "architectures": config.architectures}}
