"""Transformer students: fewer and narrower layers of the teacher's own architecture, sharing its
tokenizer; initialised from chosen teacher layers where the shapes allow."""

from __future__ import annotations

import re

import numpy as np
import torch

from ...evaluation.cost import flops_per_example, latency_ms, peak_memory_bytes
from ...students.design import Candidate

LAYER_COUNTS = (1, 2, 3, 4, 6, 8, 12)
WIDTHS = (1024, 768, 512, 384, 256, 192, 128, 96, 64, 48, 32, 16)
LAYER_KEY = re.compile(r"(\.layers?\.)(\d+)(\.)")


def student_config(teacher_config, layers: int, hidden: int, classes: list[str], max_length: int):
    """The teacher's config class with the student's depth and width; heads keep the teacher's head size."""
    head_size = teacher_config.hidden_size // teacher_config.num_attention_heads
    heads = max(1, hidden // head_size)
    while hidden % heads:
        heads -= 1
    ratio = teacher_config.intermediate_size / teacher_config.hidden_size
    values = teacher_config.to_dict()
    values.update(num_hidden_layers=layers, hidden_size=hidden, num_attention_heads=heads,
                  intermediate_size=int(hidden * ratio), id2label=dict(enumerate(classes)),
                  label2id={name: i for i, name in enumerate(classes)})
    # positions beyond the token limit are never used; +2 covers RoBERTa-style padding offsets
    if getattr(teacher_config, "max_position_embeddings", None):
        values["max_position_embeddings"] = min(teacher_config.max_position_embeddings, max_length + 2)
    for key in ("_name_or_path", "architectures", "transformers_version"):
        values.pop(key, None)
    return type(teacher_config).from_dict(values)


def count_params(config) -> int:
    from transformers import AutoModelForSequenceClassification

    with torch.device("meta"):
        model = AutoModelForSequenceClassification.from_config(config)
    return int(sum(p.numel() for p in model.parameters()))


def candidates(teacher, classes: list[str]) -> list[Candidate]:
    config = teacher.config
    max_length = teacher.adapter.max_length
    widths = sorted({config.hidden_size} | {w for w in WIDTHS if w < config.hidden_size}, reverse=True)
    out = []
    for layers in (n for n in LAYER_COUNTS if n <= config.num_hidden_layers):
        for hidden in widths:
            student = student_config(config, layers, hidden, classes, max_length)
            out.append(Candidate(name=f"{config.model_type}-{layers}x{hidden}", params=count_params(student), layers=layers,
                                 width=hidden, heads=student.num_attention_heads, architecture=student.to_dict()))
    return out


def measure(candidate: Candidate, teacher, sequence_length: int) -> None:
    from transformers import AutoConfig, AutoModelForSequenceClassification

    config = AutoConfig.for_model(**candidate.architecture)
    model = AutoModelForSequenceClassification.from_config(config).eval()
    ids = torch.full((1, sequence_length), 5, dtype=torch.long).clamp_max(config.vocab_size - 1)
    mask = torch.ones_like(ids)

    def run():
        with torch.inference_mode():
            return model(input_ids=ids, attention_mask=mask).logits

    candidate.latency_ms = round(latency_ms(run, warmup=2, repeats=10, budget_s=0.3)["p50"], 4)
    candidate.memory_bytes = peak_memory_bytes(model, run)
    candidate.flops = flops_per_example(run, 1)


def chosen_teacher_layers(teacher_layers: int, student_layers: int) -> list[int]:
    """Evenly spaced, ending at the top layer (DistilBERT keeps every other layer the same way)."""
    step = teacher_layers / student_layers
    return [min(teacher_layers - 1, round(step * (i + 1)) - 1) for i in range(student_layers)]


def initialise_from_teacher(student, teacher_module, layers: list[int]) -> dict:
    """Copy every teacher tensor whose shape matches (embeddings, the chosen layers, the head);
    project the token embeddings onto their top principal directions when the student is narrower."""
    teacher_state = teacher_module.state_dict()
    student_state = student.state_dict()
    copied = 0
    for name, tensor in student_state.items():
        source = _teacher_key(name, layers)
        if source in teacher_state:
            copied += _copy(tensor, teacher_state[source])
    projected = _project_word_embeddings(student, teacher_module)
    return {"teacher_layers": layers, "copied_tensors": copied, "student_tensors": len(student_state),
            "projected_word_embeddings": projected}


def _teacher_key(name: str, layers: list[int]) -> str:
    return LAYER_KEY.sub(lambda m: f"{m.group(1)}{layers[int(m.group(2))]}{m.group(3)}", name, count=1)


@torch.no_grad()
def _copy(target: torch.Tensor, source: torch.Tensor) -> int:
    if target.shape == source.shape:
        target.copy_(source)
        return 1
    if target.dim() == source.dim() == 2 and target.shape[1] == source.shape[1] and target.shape[0] < source.shape[0]:
        target.copy_(source[: target.shape[0]])  # position embeddings: the first max_length rows
        return 1
    return 0


@torch.no_grad()
def _project_word_embeddings(student, teacher_module) -> bool:
    """A narrower student starts from the teacher's token embeddings projected onto their top
    principal components (PCA keeps most of their variance in fewer dimensions)."""
    target = student.get_input_embeddings().weight
    source = teacher_module.get_input_embeddings().weight.detach().float()
    if target.shape[1] >= source.shape[1] or target.shape[0] != source.shape[0]:
        return False
    centred = source - source.mean(0, keepdim=True)
    _, _, components = torch.linalg.svd(centred, full_matrices=False)
    width = min(target.shape[1], components.shape[0])  # a tiny vocabulary has fewer components
    target[:, :width].copy_(centred @ components[:width].T)
    return True


def typical_length(inputs: dict[str, np.ndarray]) -> int:
    return max(2, int(np.median(inputs["attention_mask"].sum(axis=1))))
