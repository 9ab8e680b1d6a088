"""Small, deterministic training helpers shared by the catalog builders."""

from __future__ import annotations

import math
import random

import numpy as np
import torch
from torch import nn

from ..data.types import TaskData

SEED = 0
HELDOUT_FRACTION = 0.2


def seed_everything(seed: int = SEED) -> torch.Generator:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def teacher_split(data: TaskData, seed: int = SEED,
                  fraction: float = HELDOUT_FRACTION) -> tuple[np.ndarray, np.ndarray, str]:
    """(train rows, held-out rows, how): the official test split where the data has one, else stratified."""
    splits = data.meta.get("splits")
    if splits and "test" in splits:
        train = np.arange(*splits["train"])
        test = np.arange(*splits["test"])
        return train, test, "the data set's official test split"
    from sklearn.model_selection import train_test_split

    rows = np.arange(len(data))
    train, test = train_test_split(rows, test_size=fraction, stratify=data.labels, random_state=seed)
    how = f"stratified {fraction:.0%} of rows (scikit-learn train_test_split, seed {seed})"
    return np.sort(train), np.sort(test), how


def stratified_subset(rows: np.ndarray, labels: np.ndarray, size: int, seed: int = SEED) -> np.ndarray:
    """``size`` of ``rows`` with the class balance of ``labels[rows]`` (all of them if fewer)."""
    if size >= len(rows):
        return rows
    from sklearn.model_selection import train_test_split

    picked, _ = train_test_split(rows, train_size=size, stratify=labels[rows], random_state=seed)
    return np.sort(picked)


def heldout_record(rows: np.ndarray, how: str) -> dict:
    return {"how": how, "size": int(len(rows)), "indices": [int(i) for i in rows]}


def cosine_lr(optimizer: torch.optim.Optimizer, total_steps: int, warmup: int = 0) -> torch.optim.lr_scheduler.LambdaLR:
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total_steps - warmup)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def train_classifier(model: nn.Module, inputs: np.ndarray, labels: np.ndarray, *, epochs: int, batch_size: int,
                     lr: float, weight_decay: float, generator: torch.Generator, progress,
                     stage: str = "train", augment=None, device: str = "cpu") -> dict:
    """Cross-entropy with AdamW and a cosine schedule; returns the settings it used. ``augment``
    (an ``training.augment.Augmentation``) gives each batch new variants, drawn from the seed.
    The model ends on the CPU, in eval mode."""
    x, y = torch.from_numpy(inputs), torch.from_numpy(labels)
    steps_per_epoch = math.ceil(len(y) / batch_size)
    total = epochs * steps_per_epoch
    model.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    schedule = cosine_lr(optimizer, total)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    step = 0
    for epoch in range(epochs):
        order = torch.randperm(len(y), generator=generator)
        for start in range(0, len(y), batch_size):
            batch = order[start:start + batch_size]
            xb = x[batch]
            if augment is not None:
                rng = np.random.default_rng([SEED, epoch, step])
                xb = torch.from_numpy(augment({"x": xb.numpy()}, rng)["x"])
            optimizer.zero_grad()
            loss_fn(model(xb.to(device)), y[batch].to(device)).backward()
            optimizer.step()
            schedule.step()
            step += 1
            progress(stage, step, total)
    model.to("cpu").eval()
    return {"optimizer": "AdamW", "lr": lr, "weight_decay": weight_decay, "schedule": "cosine",
            "epochs": epochs, "batch_size": batch_size, "steps": total, "train_size": int(len(y)), "seed": SEED,
            "augmentation": augment.describe() if augment is not None else None, "device": str(device)}


def build_device() -> str:
    """Catalog builds train on a GPU when there is one (the recipe is the same; the weights differ
    in the last bits from a CPU build)."""
    return "cuda" if torch.cuda.is_available() else "cpu"


@torch.no_grad()
def accuracy(model: nn.Module, inputs: np.ndarray, labels: np.ndarray, batch_size: int = 512) -> float:
    model.eval()
    x = torch.from_numpy(inputs)
    predictions = torch.cat([model(x[i:i + batch_size]).argmax(-1) for i in range(0, len(x), batch_size)])
    return float((predictions.numpy() == labels).mean())
