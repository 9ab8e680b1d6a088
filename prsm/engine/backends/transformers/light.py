"""Text students of other families than the transformer, as in Tang et al. (2019), "Distilling
Task-Specific Knowledge from BERT into Simple Neural Networks": an embedding bag, a convolutional
network over word windows (Kim, 2014) and a BiLSTM. At 20x and more they often keep more of a
teacher than a thin transformer does, for a fraction of its latency.

They read the ids of the teacher's own (trimmed) tokenizer, start their word embeddings from the
teacher's, projected to their width (the top principal directions), and learn from its logits. They
are offered to the search only (``TransformersBackend.search_candidates``): the design rule, and so
``search="off"``, never picks them. Exports: safetensors and .pth (with ``architecture.json``),
ONNX; there is no Transformers format for them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch import nn
from transformers.modeling_outputs import SequenceClassifierOutput

from ...evaluation.cost import flops_per_example, latency_ms, peak_memory_bytes
from ...students.design import Candidate

FAMILIES = ("bag", "cnn", "bilstm")
DIMS = (32, 48, 64, 96, 128, 192, 256, 300)
WINDOWS = (3, 4, 5)  # the convolutional student's word windows
FORMAT = "prsm-text/1"


class LightTextClassifier(nn.Module):
    """Embeddings, then a mean over the words (bag), max-pooled word windows (cnn) or max-pooled
    states of a forward and a backward LSTM (bilstm), then a ReLU layer and the classes. Padding
    never changes a text's result: both LSTMs read the text's own words first (the backward one its
    words reversed), and every pool is masked."""

    def __init__(self, kind: str, vocab_size: int, dim: int, hidden: int, classes: int, padding_id: int = 0) -> None:
        super().__init__()
        if kind not in FAMILIES:
            raise ValueError(f"unknown text student family {kind!r}")
        self.kind = kind
        self.embed = nn.Embedding(vocab_size, dim, padding_idx=padding_id)
        if kind == "cnn":
            self.convs = nn.ModuleList(nn.Conv1d(dim, hidden, k, padding=k - 1) for k in WINDOWS)
            width = hidden * len(WINDOWS)
        elif kind == "bilstm":
            self.forward_lstm = nn.LSTM(dim, hidden, batch_first=True)
            self.backward_lstm = nn.LSTM(dim, hidden, batch_first=True)
            width = 2 * hidden
        else:
            width = dim
        self.head = nn.Sequential(nn.Dropout(0.1), nn.Linear(width, hidden), nn.ReLU(), nn.Linear(hidden, classes))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids=None) -> SequenceClassifierOutput:
        mask = attention_mask.to(torch.float32)
        words = self.embed(input_ids) * mask.unsqueeze(-1)
        if self.kind == "bag":
            pooled = words.sum(1) / mask.sum(1, keepdim=True).clamp(min=1.0)
        elif self.kind == "cnn":
            steps = words.shape[1]
            channels = words.transpose(1, 2)
            pooled = torch.cat([_masked_max(torch.relu(conv(channels))[..., :steps].transpose(1, 2), mask)
                                for conv in self.convs], dim=-1)
        else:
            ahead, _ = self.forward_lstm(words)
            back, _ = self.backward_lstm(_reversed_words(words, mask))
            pooled = torch.cat([_masked_max(ahead, mask), _masked_max(back, _reversed_words(mask.unsqueeze(-1), mask).squeeze(-1))],
                               dim=-1)
        return SequenceClassifierOutput(logits=self.head(pooled))


def _masked_max(states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The largest value of each feature over a text's own positions ``[b, t, f] -> [b, f]``."""
    return (states - (1.0 - mask.unsqueeze(-1)) * 1e4).max(dim=1).values


def _reversed_words(words: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Each row's words in reverse order, its padding still at the end: position j holds word
    ``length - 1 - j`` while ``j < length`` (right padding, as the tokenizer pads)."""
    steps = words.shape[1]
    lengths = mask.sum(1, keepdim=True).to(torch.int64)
    positions = torch.arange(steps, device=words.device).unsqueeze(0)
    source = torch.where(positions < lengths, lengths - 1 - positions, positions)
    return torch.gather(words, 1, source.unsqueeze(-1).expand(-1, -1, words.shape[-1]))


def source() -> str:
    """The classifier's code as it stands here, for usage snippets that need no project code."""
    import inspect

    return "\n\n".join(inspect.getsource(part) for part in (_masked_max, _reversed_words, LightTextClassifier))


def architecture(kind: str, vocab_size: int, dim: int, hidden: int, classes: list[str], padding_id: int) -> dict:
    return {"format": FORMAT, "kind": kind, "task": "text", "classes": list(classes),
            "config": {"vocab_size": vocab_size, "dim": dim, "hidden": hidden, "padding_id": padding_id}}


def build(arch: dict) -> LightTextClassifier:
    c = arch["config"]
    return LightTextClassifier(arch["kind"], c["vocab_size"], c["dim"], c["hidden"], len(arch["classes"]), c["padding_id"])


def count_params(arch: dict) -> int:
    with torch.device("meta"):
        return int(sum(p.numel() for p in build(arch).parameters()))


def candidates(vocab_size: int, classes: list[str], padding_id: int, budget: int) -> list[Candidate]:
    """For each family, the widest that fits ``budget`` parameters (the embeddings are most of them),
    and half as wide: the search tries the first of each family it shortlists."""
    out = []
    for kind in FAMILIES:
        fitting = []
        for dim in DIMS:
            hidden = dim if kind != "bag" else max(32, dim // 2)
            arch = architecture(kind, vocab_size, dim, hidden, classes, padding_id)
            params = count_params(arch)
            if params <= budget:
                fitting.append(Candidate(name=f"{kind}-{dim}", architecture=arch, params=params, layers=1, width=dim))
        out.extend(sorted(fitting, key=lambda c: -c.params)[:2])
    return out


def measure(candidate: Candidate, sequence_length: int) -> None:
    module = build(candidate.architecture).eval()
    ids = torch.ones((1, sequence_length), dtype=torch.int64)
    mask = torch.ones_like(ids)

    def run():
        with torch.inference_mode():
            return module(ids, mask).logits

    candidate.latency_ms = round(latency_ms(run, warmup=3, repeats=15, budget_s=0.5)["p50"], 4)
    candidate.memory_bytes = peak_memory_bytes(module, run)
    candidate.flops = flops_per_example(run, 1)


@torch.no_grad()
def start_embeddings(module: LightTextClassifier, teacher_words: torch.Tensor) -> str:
    """The teacher's word embeddings (cut to the kept vocabulary) on their top principal directions:
    the student's words start where the teacher's lie relative to each other."""
    from .students import principal_projection

    target = module.embed.weight
    if teacher_words.shape[0] != target.shape[0]:
        return "fresh"
    projected = principal_projection(teacher_words.detach().float(), target.shape[1])
    target.zero_()
    target[:, :projected.shape[1]].copy_(projected / projected.std().clamp(min=1e-6))
    return "projected"


def family_of(arch: dict) -> str | None:
    return arch.get("kind") if arch.get("format") == FORMAT else None




FORMATS = ("safetensors", "pth", "onnx", "onnx-int8")  # the Transformers format cannot hold these students
WEIGHTS_FILE, ARCHITECTURE_FILE = "model.safetensors", "architecture.json"


def export_weights(student, formats: list[str], folder: Path, root: Path, inputs: dict, expected: np.ndarray) -> dict:
    """``model/``: safetensors weights, ``architecture.json`` and the tokenizer (the export is the folder);
    and a ``.pth`` state dict; each reloaded into a fresh module and compared with the student's logits."""
    from safetensors.torch import load_file, save_file

    from ...adapters import predict_logits
    from ...export.files import export_record, within_tolerance

    records = {}
    state = {name: tensor.detach().cpu().contiguous() for name, tensor in student.module.state_dict().items()}
    if "safetensors" in formats:
        out = folder / "model"
        out.mkdir(parents=True, exist_ok=True)
        save_file(state, str(out / WEIGHTS_FILE))
        (out / ARCHITECTURE_FILE).write_text(json.dumps(student.architecture, indent=2))
        student.adapter.tokenizer.save_pretrained(str(out / "tokenizer"))
        fresh = build(json.loads((out / ARCHITECTURE_FILE).read_text()))
        fresh.load_state_dict(load_file(str(out / WEIGHTS_FILE)), strict=True)
        ok, diff = within_tolerance(predict_logits(fresh, student.adapter, inputs), expected, atol=1e-5, rtol=1e-5)
        # the folder is the export (downloaded as one zip): the weights are nothing without the tokenizer
        records["safetensors"] = export_record(out, root, ok, diff, weights_file=WEIGHTS_FILE,
                                               architecture_path=(out / ARCHITECTURE_FILE).relative_to(root).as_posix())
    if "pth" in formats:
        path = folder / "model.pth"
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(state, path)
        fresh = build(student.architecture)
        fresh.load_state_dict(torch.load(path, map_location="cpu", weights_only=True), strict=True)
        ok, diff = within_tolerance(predict_logits(fresh, student.adapter, inputs), expected, atol=1e-5, rtol=1e-5)
        records["pth"] = export_record(path, root, ok, diff)
    return records
