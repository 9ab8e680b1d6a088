"""How a torch model meets data: ``encode`` turns TaskData into row-sliceable arrays once,
``forward`` runs a batch of them. Teachers and students of one kind share one adapter.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .data.types import TaskData

Inputs = dict[str, np.ndarray]


def take(inputs: Inputs, rows: np.ndarray | slice, device: torch.device | str = "cpu") -> dict[str, torch.Tensor]:
    """The batch at ``rows`` as tensors; token batches are trimmed to their longest sequence
    (padding to the whole data set's longest would waste most of the attention work)."""
    batch = {name: torch.from_numpy(np.ascontiguousarray(array[rows])) for name, array in inputs.items()}
    if "attention_mask" in batch:
        length = max(1, int(batch["attention_mask"].sum(dim=1).max()))
        batch = {name: tensor[:, :length] for name, tensor in batch.items()}
    return {name: tensor.to(device, non_blocking=True) for name, tensor in batch.items()}


def num_rows(inputs: Inputs) -> int:
    return len(next(iter(inputs.values())))


def token_lengths(inputs: Inputs) -> np.ndarray | None:
    """Each token row's real length; None for inputs that are not token rows."""
    return inputs["attention_mask"].sum(axis=1) if "attention_mask" in inputs else None


class TensorAdapter:
    """Tabular features ``[n, f]`` or images ``[n, c, h, w]`` straight into ``module(x)``."""

    kind = "tensor"

    def encode(self, data: TaskData) -> Inputs:
        array = data.features if data.task == "tabular" else data.images
        return {"x": np.ascontiguousarray(array, dtype=np.float32)}

    def forward(self, module: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return module(batch["x"])


class SequenceAdapter:
    """Texts through a Hugging Face tokenizer into a ``*ForSequenceClassification`` model."""

    kind = "sequence"

    def __init__(self, tokenizer, max_length: int = 128) -> None:
        self.tokenizer = tokenizer
        self.max_length = max_length

    def encode(self, data: TaskData) -> Inputs:
        encoded = self.tokenizer(list(data.texts), truncation=True, max_length=self.max_length,
                                 padding="longest", return_tensors="np")
        names = ["input_ids", "attention_mask"] + (["token_type_ids"] if "token_type_ids" in encoded else [])
        return {name: np.asarray(encoded[name], dtype=np.int64) for name in names}

    def forward(self, module: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return module(**batch).logits


@torch.inference_mode()
def predict_logits(module: nn.Module, adapter, inputs: Inputs, batch_size: int = 256) -> np.ndarray:
    """Logits for every row, in eval mode, float32 ``[n, classes]``. Token rows run in batches of
    similar length (sorted by length, then put back in order), so a batch is trimmed to little
    more than its own rows' length rather than to the longest of a random few hundred."""
    module.eval()
    device = next(module.parameters()).device
    rows = num_rows(inputs)
    lengths = token_lengths(inputs)
    order = None if lengths is None else np.argsort(lengths, kind="stable")
    out = []
    for start in range(0, rows, batch_size):
        batch = take(inputs, slice(start, start + batch_size) if order is None else order[start:start + batch_size], device)
        out.append(adapter.forward(module, batch).float().cpu().numpy())
    logits = np.concatenate(out)
    if order is not None:
        restored = np.empty_like(logits)
        restored[order] = logits
        logits = restored
    return logits
