"""The engine's own model zoo: small PyTorch architectures described by JSON.

A zoo model on disk is a folder with ``architecture.json`` and ``model.safetensors``; nothing is
unpickled. ``architecture.json``::

    {"format": "prsm-zoo/1", "kind": "mlp" | "cnn", "task": "tabular" | "image",
     "classes": ["0", "1", ...], "config": {...}}

MLP config: ``input_dim``, ``hidden`` (list of widths), ``dropout``, optional ``mean``/``std``
(per feature; inputs are raw values and scaling lives inside the model).
CNN config: ``in_channels``, ``image_size`` ([h, w]), ``channels`` (one conv block per entry:
conv3x3-BN-ReLU-maxpool2), ``hidden`` (width of the dense layer, 0 for none), ``dropout``;
inputs are pixels scaled to 0..1.
Both return logits ``[batch, classes]``.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

FORMAT = "prsm-zoo/1"
ARCHITECTURE_FILE = "architecture.json"
WEIGHTS_FILE = "model.safetensors"


class MLP(nn.Module):
    def __init__(self, input_dim: int, num_classes: int, hidden: list[int], dropout: float = 0.0,
                 mean: list[float] | None = None, std: list[float] | None = None) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean if mean is not None else [0.0] * input_dim))
        self.register_buffer("std", torch.tensor(std if std is not None else [1.0] * input_dim))
        layers: list[nn.Module] = []
        width = input_dim
        for size in hidden:
            layers += [nn.Linear(width, size), nn.ReLU(), nn.Dropout(dropout)]
            width = size
        layers.append(nn.Linear(width, num_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - self.mean) / self.std.clamp_min(1e-6))


class CNN(nn.Module):
    def __init__(self, in_channels: int, image_size: list[int], num_classes: int, channels: list[int],
                 hidden: int = 0, dropout: float = 0.0) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        width, (h, w) = in_channels, image_size
        for size in channels:
            blocks += [nn.Conv2d(width, size, 3, padding=1, bias=False), nn.BatchNorm2d(size), nn.ReLU(), nn.MaxPool2d(2)]
            width, h, w = size, h // 2, w // 2
        self.features = nn.Sequential(*blocks)
        flat = width * h * w
        head: list[nn.Module] = [nn.Flatten(), nn.Dropout(dropout)]
        if hidden:
            head += [nn.Linear(flat, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, num_classes)]
        else:
            head.append(nn.Linear(flat, num_classes))
        self.head = nn.Sequential(*head)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def build_model(architecture: dict) -> nn.Module:
    """A fresh (randomly initialised) module for an ``architecture.json`` dict."""
    if architecture.get("format") != FORMAT:
        raise ValueError(f"not a {FORMAT} architecture: format={architecture.get('format')!r}")
    config = dict(architecture["config"])
    num_classes = len(architecture["classes"])
    if architecture["kind"] == "mlp":
        return MLP(num_classes=num_classes, **config)
    if architecture["kind"] == "cnn":
        return CNN(num_classes=num_classes, **config)
    raise ValueError(f"unknown zoo model kind {architecture['kind']!r} (expected mlp or cnn)")


def save_zoo_model(model: nn.Module, architecture: dict, folder: str | Path) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {name: tensor.detach().cpu().contiguous() for name, tensor in model.state_dict().items()}
    save_file(state, str(folder / WEIGHTS_FILE))
    (folder / ARCHITECTURE_FILE).write_text(json.dumps(architecture, indent=2))
    return folder


def load_zoo_model(folder: str | Path) -> tuple[nn.Module, dict]:
    """Load a zoo folder into an eval-mode module; the weights must match the architecture exactly."""
    folder = Path(folder)
    architecture = json.loads((folder / ARCHITECTURE_FILE).read_text())
    model = build_model(architecture)
    model.load_state_dict(load_file(str(folder / WEIGHTS_FILE)), strict=True)
    return model.eval(), architecture


def is_zoo_folder(path: str | Path) -> bool:
    path = Path(path)
    return (path / ARCHITECTURE_FILE).is_file() and (path / WEIGHTS_FILE).is_file()
