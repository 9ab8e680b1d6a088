"""Catalog teachers from the engine's own zoo: ``digits-mlp`` and ``fashion-cnn``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..data.builtin import load_builtin
from ..zoo import FORMAT, build_model, save_zoo_model
from ..training.threads import threads
from .packages import installed_version
from .training import (accuracy, build_device, heldout_record, seed_everything, stratified_subset, teacher_split,
                       train_classifier)


def _architecture(kind: str, task: str, classes: list[str], config: dict) -> dict:
    return {"format": FORMAT, "kind": kind, "task": task, "classes": list(classes), "config": config}


def _finish(model: torch.nn.Module, architecture: dict, folder: Path, data, train_rows, test_rows, how,
            inputs: np.ndarray, training: dict) -> dict:
    save_zoo_model(model, architecture, folder)
    return {
        "params": sum(p.numel() for p in model.parameters()),
        "accuracy": round(accuracy(model, inputs[test_rows], data.labels[test_rows]), 4),
        "heldout": heldout_record(test_rows, how),
        "classes": list(data.classes),
        "sources": {"torch": installed_version("torch"), "data": data.source},
        "data_sha256": data.sha256,
        "training": {**training, "train_rows": int(len(train_rows))},
    }


def build_digits_mlp(folder: Path, quick: bool, progress) -> dict:
    """An MLP 64-512-256-10 (about 167k parameters) on 80% of digits; mean/std live in the model."""
    return _digits_mlp(folder, progress, hidden=[512, 256], dropout=0.1, seed=None, epochs=10 if quick else 60,
                       batch_size=64, lr=1e-3, weight_decay=1e-4)


def build_digits_mlp_wide(folder: Path, quick: bool, progress) -> dict:
    """A second digits teacher for ensembles: an MLP 64-384-384-10 (about 177k parameters, near
    digits-mlp's, so a student of either has the same size budget), another seed and more dropout,
    on the same 80% of digits, so both hold out the same rows."""
    return _digits_mlp(folder, progress, hidden=[384, 384], dropout=0.2, seed=7, epochs=8 if quick else 40,
                       batch_size=32, lr=2e-3, weight_decay=1e-3)


def _digits_mlp(folder: Path, progress, *, hidden: list[int], dropout: float, seed: int | None, epochs: int,
                batch_size: int, lr: float, weight_decay: float) -> dict:
    generator = seed_everything() if seed is None else seed_everything(seed)
    data = load_builtin("digits")
    train_rows, test_rows, how = teacher_split(data)
    features = data.features
    config = {"input_dim": features.shape[1], "hidden": hidden, "dropout": dropout,
              "mean": features[train_rows].mean(0).tolist(), "std": features[train_rows].std(0).tolist()}
    architecture = _architecture("mlp", "tabular", data.classes, config)
    model = build_model(architecture)
    with threads(1):  # a tiny model trains faster on one thread than on a contested pool
        training = train_classifier(model, features[train_rows], data.labels[train_rows], epochs=epochs,
                                    batch_size=batch_size, lr=lr, weight_decay=weight_decay, generator=generator,
                                    progress=progress)
    return _finish(model, architecture, folder, data, train_rows, test_rows, how, features, training)


def build_fashion_cnn(folder: Path, quick: bool, progress) -> dict:
    """A CNN of about 1.7M parameters on Fashion-MNIST's 60,000 training images (quick: 6,000 and
    2,000 test), 15 epochs with each image shifted by up to 2 pixels and flipped left-right at
    random (clothes are symmetric; a teacher trained 3 epochs without them, 90.9%, was weaker than a
    51k-parameter student trained on labels for 15)."""
    from ..training.augment import Augmentation

    generator = seed_everything()
    data = load_builtin("fashion-mnist")
    train_rows, test_rows, how = teacher_split(data)
    if quick:
        train_rows = stratified_subset(train_rows, data.labels, 6000)
        test_rows = stratified_subset(test_rows, data.labels, 2000)
        how += " (a stratified 2,000-image subset)"
    config = {"in_channels": 1, "image_size": [28, 28], "channels": [64, 128], "hidden": 256, "dropout": 0.3}
    architecture = _architecture("cnn", "image", data.classes, config)
    model = build_model(architecture)
    training = train_classifier(model, data.images[train_rows], data.labels[train_rows], epochs=1 if quick else 15,
                                batch_size=128, lr=2e-3, weight_decay=1e-4, generator=generator, progress=progress,
                                augment=Augmentation(task="image", flip=True, shift=2), device=build_device())
    return _finish(model, architecture, folder, data, train_rows, test_rows, how, data.images, training)
