"""MLP and CNN student candidates (zoo architectures), scaled in depth and width."""

from __future__ import annotations

import math

import numpy as np
import torch

from ...data.types import TaskData
from ...evaluation.cost import flops_per_example, latency_ms, peak_memory_bytes
from ...students.design import Candidate
from ...zoo import FORMAT, build_model

MLP_WIDTHS = (4, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512)
CNN_BASE_CHANNELS = (4, 6, 8, 12, 16, 24, 32, 48, 64)
CNN_HIDDEN = (0, 32, 64, 128)


def mlp_candidates(classes: list[str], input_dim: int) -> list[Candidate]:
    out = []
    for depth in (1, 2, 3):
        for width in MLP_WIDTHS:
            hidden = [max(2, width // 2**i) for i in range(depth)]  # tapering: wide first, where the features are
            architecture = _architecture("mlp", "tabular", classes, {"input_dim": input_dim, "hidden": hidden, "dropout": 0.1})
            out.append(_candidate(f"mlp-{'x'.join(map(str, hidden))}", architecture, depth, width))
    return out


def cnn_candidates(classes: list[str], shape: tuple[int, int, int]) -> list[Candidate]:
    channels_in, height, width = shape
    max_blocks = max(1, min(3, int(math.log2(max(2, min(height, width))))))
    out = []
    for blocks in range(1, max_blocks + 1):
        for base in CNN_BASE_CHANNELS:
            for hidden in CNN_HIDDEN:
                channels = [base * 2**i for i in range(blocks)]
                config = {"in_channels": channels_in, "image_size": [height, width], "channels": channels,
                          "hidden": hidden, "dropout": 0.1}
                name = f"cnn-{'x'.join(map(str, channels))}-h{hidden}"
                out.append(_candidate(name, _architecture("cnn", "image", classes, config), blocks, base))
    return out


def _architecture(kind: str, task: str, classes: list[str], config: dict) -> dict:
    return {"format": FORMAT, "kind": kind, "task": task, "classes": list(classes), "config": config}


def _candidate(name: str, architecture: dict, layers: int, width: int) -> Candidate:
    params = sum(p.numel() for p in build_model(architecture).parameters())
    return Candidate(name=name, architecture=architecture, params=int(params), layers=layers, width=width)


def measure(candidate: Candidate, sample: np.ndarray) -> None:
    """Batch-1 latency, memory and FLOPs of a freshly built candidate on this CPU."""
    module = build_model(candidate.architecture).eval()
    x = torch.from_numpy(np.ascontiguousarray(sample[:1], dtype=np.float32))

    def run():
        with torch.inference_mode():
            return module(x)

    candidate.latency_ms = round(latency_ms(run, warmup=3, repeats=15, budget_s=0.5)["p50"], 4)
    candidate.memory_bytes = peak_memory_bytes(module, run)
    candidate.flops = flops_per_example(run, 1)


def scaled_mlp_architecture(architecture: dict, train: TaskData) -> dict:
    """The candidate with the training data's per-feature mean and std folded into the model, so
    the student takes raw values like its teacher (CONTRACT)."""
    features = train.features.astype(np.float64)
    std = features.std(0)
    # a feature constant in training (a blank pixel) keeps scale 1: dividing by ~0 would blow a
    # rare non-zero value at test time up to ~1e6 and wreck int8 quantization's input range
    std = np.where(std > 1e-6, std, 1.0)
    config = dict(architecture["config"], mean=features.mean(0).round(6).tolist(), std=std.round(6).tolist())
    return dict(architecture, config=config)
