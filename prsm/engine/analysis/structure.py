"""Structure of a teacher: which attention heads matter (masking), how similar its layers'
representations are (CKA), and which input features matter (permutation importance)."""

from __future__ import annotations

import numpy as np
import torch

from ..adapters import take


def _accuracy(logits: torch.Tensor, labels: np.ndarray) -> float:
    return float((logits.argmax(1).cpu().numpy() == labels).mean())


@torch.inference_mode()
def attention_head_importance(teacher, inputs: dict, labels: np.ndarray, rows: int = 256) -> dict:
    """Accuracy lost when each head alone is masked out (Michel et al., "Are Sixteen Heads Really
    Better than One?", 2019): a large drop marks a head worth keeping in a student."""
    model, config = teacher.module.eval(), teacher.config
    batch = take(inputs, slice(0, rows))
    labels = labels[:rows]
    base = _accuracy(model(**batch).logits, labels)
    drops = []
    for layer in range(config.num_hidden_layers):
        row = []
        for head in range(config.num_attention_heads):
            mask = torch.ones(config.num_hidden_layers, config.num_attention_heads)
            mask[layer, head] = 0
            try:
                row.append(round(base - _accuracy(model(**batch, head_mask=mask).logits, labels), 5))
            except TypeError:  # an architecture without head_mask support
                return {"supported": False}
        drops.append(row)
    return {"supported": True, "baseline_accuracy": base, "accuracy_drop": drops,
            "layer_importance": [float(np.mean(r)) for r in drops]}


@torch.inference_mode()
def layer_similarity(teacher, inputs: dict, rows: int = 256) -> dict:
    """Linear CKA (Kornblith et al., 2019) between every pair of layers' mean-pooled hidden states;
    layers very similar to their neighbours are the ones a student can skip."""
    batch = take(inputs, slice(0, rows))
    states = teacher.module.eval()(**batch, output_hidden_states=True).hidden_states
    mask = batch["attention_mask"].unsqueeze(-1).float()
    pooled = [((h * mask).sum(1) / mask.sum(1)).double().numpy() for h in states]
    size = len(pooled)
    matrix = [[round(_linear_cka(pooled[i], pooled[j]), 5) for j in range(size)] for i in range(size)]
    return {"layers": ["embeddings"] + [f"layer_{i}" for i in range(1, size)], "cka": matrix}


def _linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F) on centred features."""
    x, y = x - x.mean(0), y - y.mean(0)
    cross = np.linalg.norm(y.T @ x) ** 2
    denominator = np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y)
    return float(cross / denominator) if denominator else 0.0


def permutation_importance(teacher, data, seed: int, repeats: int = 3) -> dict:
    """Accuracy lost when one feature column is shuffled (Breiman, 2001), per feature."""
    rng = np.random.default_rng(seed)
    base_logits = teacher.logits_of({"x": data.features})
    base = float((base_logits.argmax(1) == data.labels).mean())
    drops = {}
    for column, name in enumerate(data.feature_names or [str(i) for i in range(data.features.shape[1])]):
        losses = []
        for _ in range(repeats):
            shuffled = data.features.copy()
            shuffled[:, column] = shuffled[rng.permutation(len(shuffled)), column]
            losses.append(base - float((teacher.logits_of({"x": shuffled}).argmax(1) == data.labels).mean()))
        drops[name] = round(float(np.mean(losses)), 5)
    ranked = sorted(drops.items(), key=lambda item: -item[1])
    return {"baseline_accuracy": base, "accuracy_drop": drops, "top": [name for name, _ in ranked[:10]]}
