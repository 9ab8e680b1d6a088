"""Transformer students: fewer and narrower layers of the teacher's own architecture, sharing its
tokenizer and initialised from chosen teacher layers where the shapes allow; or the first layers
of a pretrained base with its own tokenizer (``bases``)."""

from __future__ import annotations

import re

import numpy as np
import torch

from ...evaluation.cost import flops_per_example, latency_ms, peak_memory_bytes
from ...students.design import Candidate
from .vocab import remap_config_ids

LAYER_COUNTS = (1, 2, 3, 4, 6, 8, 12)
WIDTHS = (1024, 768, 512, 384, 256, 192, 128, 96, 64, 48, 32, 16)
LAYER_KEY = re.compile(r"(\.layers?\.)(\d+)(\.)")


def student_config(teacher_config, layers: int, hidden: int, classes: list[str], max_length: int,
                   kept: np.ndarray | None = None):
    """The teacher's config class with the student's depth and width; heads keep the teacher's head
    size; with ``kept``, the trimmed vocabulary's size and special-token ids."""
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
    if kept is not None:
        values = remap_config_ids(values, kept)
    return type(teacher_config).from_dict(values)


def count_params(config) -> int:
    from transformers import AutoModelForSequenceClassification

    with torch.device("meta"):
        model = AutoModelForSequenceClassification.from_config(config)
    return int(sum(p.numel() for p in model.parameters()))


def candidates(teacher, classes: list[str], kept: np.ndarray | None = None) -> list[Candidate]:
    config = teacher.config
    widths = sorted({config.hidden_size} | {w for w in WIDTHS if w < config.hidden_size}, reverse=True)
    return _cuts(config, config.model_type, widths, classes, teacher.adapter.max_length, kept)


def base_candidates(base, classes: list[str], max_length: int, kept: np.ndarray | None = None) -> list[Candidate]:
    """Students cut from a pretrained base (see ``bases``): its first 1..all layers at its own width
    (its layers were trained at that width; a narrower cut would start them fresh)."""
    name = base.ref.removeprefix("builtin:") if base.ref.startswith("builtin:") else base.folder.name
    return _cuts(base.config, name, [base.config.hidden_size], classes, max_length, kept)


def _cuts(config, name: str, widths: list[int], classes: list[str], max_length: int,
          kept: np.ndarray | None) -> list[Candidate]:
    """``config``'s architecture at every layer count up to its own, at each of ``widths``."""
    out = []
    for layers in (n for n in LAYER_COUNTS if n <= config.num_hidden_layers):
        for hidden in widths:
            student = student_config(config, layers, hidden, classes, max_length, kept)
            out.append(Candidate(name=f"{name}-{layers}x{hidden}", params=count_params(student), layers=layers,
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


def layers_by_similarity(cka: list[list[float]], student_layers: int) -> dict:
    """Which teacher layers the student's layers start from and learn from, chosen by what the
    teacher's layers do: the teacher's stack is cut into ``student_layers`` contiguous segments,
    student layer i stands in for segment i and starts from (and, with hidden-state transfer,
    learns from) the segment's last layer.

    A segment's work is how much it changes the representation, ``1 - CKA(input, output)`` on the
    hidden states (``cka[0]`` is the embeddings, ``cka[j]`` the output of layer j). The cut
    minimises the largest segment's work, then the sum of squares, then the distance from even
    spacing: layers that barely change what they receive (CKA near 1 with their input) are merged,
    and no student layer is left to stand in for several layers that each do a lot.
    """
    total = len(cka) - 1  # teacher layers
    if student_layers >= total:
        return {"teacher_layers": list(range(total)), "rule": "every teacher layer", "segment_change": []}
    even = chosen_teacher_layers(total, student_layers)
    change = [[1.0 - float(cka[a][b]) for b in range(total + 1)] for a in range(total + 1)]
    # best[k][b]: the best cut of hidden states 0..b into k segments, as a comparable key + cut points
    best: dict[tuple[int, int], tuple[tuple, list[int]]] = {(0, 0): ((0.0, 0.0, 0), [])}
    for k in range(1, student_layers + 1):
        for b in range(k, total - (student_layers - k) + 1):
            options = []
            for a in range(k - 1, b):
                if (k - 1, a) not in best:
                    continue
                (worst, squares, drift), cuts = best[(k - 1, a)]
                work = change[a][b]
                key = (round(max(worst, work), 6), round(squares + work * work, 6), drift + abs(b - 1 - even[k - 1]))
                options.append((key, cuts + [b]))
            if options:
                best[(k, b)] = min(options)
    key, cuts = best[(student_layers, total)]
    starts = [0] + cuts[:-1]
    return {"teacher_layers": [b - 1 for b in cuts],
            "rule": "the teacher's layers cut into segments of even representation change (1 - linear CKA)",
            "segment_change": [round(change[a][b], 4) for a, b in zip(starts, cuts)],
            "evenly_spaced": even}


def teacher_layer_plan(teacher, train, student_layers: int, rows: int = 128) -> dict:
    """``layers_by_similarity`` on the teacher's hidden states for the first training rows;
    evenly spaced where the teacher does not give its hidden states."""
    from ...analysis.structure import layer_similarity

    total = teacher.config.num_hidden_layers
    try:
        inputs = teacher.adapter.encode(train.subset(np.arange(min(len(train), rows))))
        similarity = layer_similarity(teacher, inputs, rows=rows)
    except (TypeError, AttributeError, ValueError) as error:  # no output_hidden_states on this architecture
        return {"teacher_layers": chosen_teacher_layers(total, student_layers),
                "rule": f"evenly spaced (no hidden states: {error})"}
    return layers_by_similarity(similarity["cka"], student_layers)


def initialise_from_teacher(student, teacher_module, layers: list[int], kept: np.ndarray | None = None,
                            key_prefix: str = "") -> dict:
    """Copy every teacher tensor whose shape matches (embeddings, the chosen layers, the head);
    the token embeddings are the kept tokens' rows, projected onto their top principal directions
    when the student is narrower. ``key_prefix`` names a bare encoder's tensors as the student's
    (``bert.`` for a ``BertModel`` under a ``BertForSequenceClassification``)."""
    teacher_state = {key_prefix + name: tensor for name, tensor in teacher_module.state_dict().items()}
    student_state = student.state_dict()
    words = student.get_input_embeddings().weight
    copied = 0
    for name, tensor in student_state.items():
        source = _teacher_key(name, layers)
        if source in teacher_state and tensor.data_ptr() != words.data_ptr():
            copied += _copy(tensor, teacher_state[source])
    how = _word_embeddings_from_teacher(student, teacher_module, kept)
    copied += how == "copied"
    return {"teacher_layers": layers, "copied_tensors": copied, "student_tensors": len(student_state),
            "word_embeddings": how, "projected_word_embeddings": how == "projected"}


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
def _word_embeddings_from_teacher(student, teacher_module, kept: np.ndarray | None) -> str:
    """The teacher's rows for the student's tokens; a narrower student gets them projected onto
    their top principal components (PCA keeps most of their variance in fewer dimensions)."""
    target = student.get_input_embeddings().weight
    source = teacher_module.get_input_embeddings().weight.detach().float()
    if kept is not None:
        source = source[torch.from_numpy(np.asarray(kept))]
    if target.shape[0] != source.shape[0] or target.shape[1] > source.shape[1]:
        return "fresh"
    if target.shape[1] == source.shape[1]:
        target.copy_(source)
        return "copied"
    projected = principal_projection(source, target.shape[1])
    target[:, :projected.shape[1]].copy_(projected)
    return "projected"


def principal_projection(rows: torch.Tensor, width: int) -> torch.Tensor:
    """``rows`` (centred) on their top ``width`` principal directions; fewer columns when there are
    fewer directions (a tiny vocabulary)."""
    centred = rows - rows.mean(0, keepdim=True)
    _, _, components = torch.linalg.svd(centred, full_matrices=False)
    return centred @ components[:min(width, components.shape[0])].T


def typical_length(inputs: dict[str, np.ndarray]) -> int:
    return max(2, int(np.median(inputs["attention_mask"].sum(axis=1))))
