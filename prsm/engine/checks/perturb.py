"""Input perturbations for the robustness check: what a deployed model meets that the test split
does not. Each returns a new TaskData of the same rows; the seed makes them repeatable."""

from __future__ import annotations

import string

import numpy as np

from ..data.types import TaskData

CHAR_RATE = 0.05    # share of characters changed (typos: Belinkov & Bisk, 2018)
WORD_RATE = 0.10    # share of words dropped or swapped with a neighbour (Wei & Zou, EDA, 2019)
IMAGE_SIGMA = 0.05  # Gaussian pixel noise on 0..1 images (Hendrycks & Dietterich, 2019, severity 1)
FEATURE_SCALE = 0.1  # tabular noise, in units of each feature's standard deviation


def _copy(data: TaskData) -> TaskData:
    return data.subset(np.arange(len(data)))


def char_noise(data: TaskData, seed: int = 0, rate: float = CHAR_RATE) -> TaskData:
    """Each letter is, with probability ``rate``, deleted, doubled or replaced by a random letter."""
    rng = np.random.default_rng([seed, 1])
    out = _copy(data)
    noisy = []
    for text in data.texts:
        chars = []
        for char in text:
            roll = rng.random()
            if not char.isalpha() or roll >= rate:
                chars.append(char)
            elif roll < rate / 3:
                continue
            elif roll < 2 * rate / 3:
                chars.append(char * 2)
            else:
                chars.append(rng.choice(list(string.ascii_lowercase)))
        noisy.append("".join(chars))
    out.texts = noisy
    return out


def word_noise(data: TaskData, seed: int = 0, rate: float = WORD_RATE) -> TaskData:
    """Each word is, with probability ``rate``, dropped or swapped with the next (one word always stays)."""
    rng = np.random.default_rng([seed, 2])
    out = _copy(data)
    noisy = []
    for text in data.texts:
        words = text.split()
        i, kept = 0, []
        while i < len(words):
            roll = rng.random()
            if roll < rate / 2 and len(words) > 1:
                i += 1
                continue
            if roll < rate and i + 1 < len(words):
                kept += [words[i + 1], words[i]]
                i += 2
                continue
            kept.append(words[i])
            i += 1
        noisy.append(" ".join(kept or words[:1]))
    out.texts = noisy
    return out


def gaussian_pixels(data: TaskData, seed: int = 0, sigma: float = IMAGE_SIGMA) -> TaskData:
    rng = np.random.default_rng([seed, 3])
    out = _copy(data)
    out.images = np.clip(data.images + rng.normal(0, sigma, data.images.shape), 0, 1).astype(np.float32)
    return out


def feature_noise(data: TaskData, seed: int = 0, scale: float = FEATURE_SCALE) -> TaskData:
    rng = np.random.default_rng([seed, 4])
    out = _copy(data)
    std = data.features.std(axis=0, keepdims=True)
    out.features = (data.features + rng.normal(0, 1, data.features.shape) * scale * std).astype(np.float32)
    return out


def shared_perturbations(data: TaskData, seed: int = 0) -> dict[str, TaskData]:
    """The perturbations both models see identically, by task."""
    if data.task == "text":
        return {"char_noise": char_noise(data, seed), "word_noise": word_noise(data, seed)}
    if data.task == "image":
        return {"gaussian_noise": gaussian_pixels(data, seed)}
    return {"feature_noise": feature_noise(data, seed)}


def fgsm(module, data: TaskData, epsilon: float) -> TaskData:
    """Fast gradient sign method (Goodfellow et al., "Explaining and Harnessing Adversarial
    Examples", 2015): x' = clip(x + eps * sign(grad_x CE(f(x), y)), 0, 1), white-box against ``module``."""
    import torch

    module.eval()
    device = next(module.parameters()).device
    adversarial = []
    for start in range(0, len(data), 256):
        x = torch.from_numpy(np.ascontiguousarray(data.images[start:start + 256])).to(device).requires_grad_(True)
        y = torch.from_numpy(data.labels[start:start + 256]).to(device)
        loss = torch.nn.functional.cross_entropy(module(x).float(), y)
        (grad,) = torch.autograd.grad(loss, x)
        adversarial.append(torch.clamp(x + epsilon * grad.sign(), 0, 1).detach().cpu().numpy())
    out = _copy(data)
    out.images = np.concatenate(adversarial).astype(np.float32)
    return out
