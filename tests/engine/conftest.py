"""Tiny real teachers and real data for the engine's tests: nothing is downloaded."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def digits_task_data():
    from sklearn.datasets import load_digits

    from prsm.engine.data.types import TaskData, sha256_of_bytes

    digits = load_digits()
    features = digits.data.astype(np.float32)
    return TaskData(task="tabular", classes=[str(i) for i in range(10)], labels=digits.target, features=features,
                    feature_names=[f"p{i}" for i in range(64)], source="digits", sha256=sha256_of_bytes(features.tobytes()))


def write_tabular_csv(path: Path, features: np.ndarray, labels, names: list[str]) -> Path:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(names + ["label"])
        for row, label in zip(features, labels):
            writer.writerow([f"{v:g}" for v in row] + [label])
    return path


def train_mlp(features: np.ndarray, labels: np.ndarray, classes: list[str], hidden: list[int], epochs: int = 30,
              seed: int = 0):
    """A zoo MLP trained with plain cross-entropy; a few seconds on digits."""
    from prsm.engine.zoo import build_model

    architecture = {"format": "prsm-zoo/1", "kind": "mlp", "task": "tabular", "classes": classes,
                    "config": {"input_dim": features.shape[1], "hidden": hidden, "dropout": 0.1,
                               "mean": features.mean(0).tolist(),
                               "std": np.where(features.std(0) > 1e-6, features.std(0), 1.0).tolist()}}
    torch.manual_seed(seed)
    model = build_model(architecture)
    optimizer = torch.optim.Adam(model.parameters(), 1e-3)
    x, y = torch.from_numpy(features), torch.from_numpy(labels)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model trains faster on one thread of a busy CPU
    for _ in range(epochs):
        for rows in torch.randperm(len(x)).split(64):
            loss = torch.nn.functional.cross_entropy(model(x[rows]), y[rows])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    torch.set_num_threads(threads)
    return model.eval(), architecture


@pytest.fixture(scope="session")
def digits_csv(tmp_path_factory) -> Path:
    data = digits_task_data()
    path = tmp_path_factory.mktemp("data") / "digits.csv"
    return write_tabular_csv(path, data.features.astype(int), data.labels, data.feature_names)


@pytest.fixture(scope="session")
def digits_teacher(tmp_path_factory, digits_csv) -> Path:
    """A zoo MLP teacher trained only on the rows the pipeline (seed 0) puts in its training split,
    so the test split stays unseen by teacher and student alike."""
    from prsm.engine.data.loaders import load_data
    from prsm.engine.data.splits import stratified_split
    from prsm.engine.zoo import save_zoo_model

    train = stratified_split(load_data(str(digits_csv)), seed=0).train
    model, architecture = train_mlp(train.features, train.labels, train.classes, [256, 256])
    return save_zoo_model(model, architecture, tmp_path_factory.mktemp("teachers") / "digits-mlp")


@pytest.fixture(scope="session")
def digits_onnx_teacher(tmp_path_factory, digits_teacher) -> Path:
    """The same teacher as an ONNX file with its labels in metadata_props."""
    from prsm.engine.adapters import TensorAdapter
    from prsm.engine.export.onnx import export_onnx
    from prsm.engine.zoo import load_zoo_model

    model, architecture = load_zoo_model(digits_teacher)
    path = tmp_path_factory.mktemp("teachers") / "digits.onnx"
    return export_onnx(model, TensorAdapter(), {"x": np.zeros((2, 64), np.float32)}, path, architecture["classes"])


SHAPE_CLASSES = ("box", "horizontal", "vertical")


def shape_image(kind: str, rng: np.random.Generator, size: int = 16) -> np.ndarray:
    """A noisy grey ``size`` x ``size`` picture of a bar or a hollow box at a random place."""
    pixels = rng.uniform(0, 0.25, (size, size))
    at, length = int(rng.integers(2, size - 3)), int(rng.integers(size // 2, size - 2))
    start = int(rng.integers(0, size - length + 1))
    if kind == "horizontal":
        pixels[at:at + 2, start:start + length] = rng.uniform(0.7, 1.0)
    elif kind == "vertical":
        pixels[start:start + length, at:at + 2] = rng.uniform(0.7, 1.0)
    else:
        side = int(rng.integers(6, size - 3))
        top, left = (int(v) for v in rng.integers(0, size - side + 1, size=2))
        box = pixels[top:top + side, left:left + side]
        box[[0, -1], :] = box[:, [0, -1]] = rng.uniform(0.7, 1.0)
    return (pixels * 255).round().astype(np.uint8)


@pytest.fixture(scope="session")
def shapes_folder(tmp_path_factory) -> Path:
    """90 16x16 PNGs (30 each of boxes, horizontal and vertical bars) in one subfolder per class."""
    from PIL import Image

    folder = tmp_path_factory.mktemp("data") / "shapes"
    rng = np.random.default_rng(3)
    for kind in SHAPE_CLASSES:
        (folder / kind).mkdir(parents=True)
        for i in range(30):
            Image.fromarray(shape_image(kind, rng), mode="L").save(folder / kind / f"{i:02d}.png")
    return folder


@pytest.fixture(scope="session")
def shapes_cnn_teacher(tmp_path_factory, shapes_folder) -> Path:
    """A two-block zoo CNN (about 38k parameters) trained on the pipeline's (seed 0) training split."""
    from prsm.engine.data.loaders import load_data
    from prsm.engine.data.splits import stratified_split
    from prsm.engine.zoo import build_model, save_zoo_model

    train = stratified_split(load_data(str(shapes_folder)), seed=0).train
    architecture = {"format": "prsm-zoo/1", "kind": "cnn", "task": "image", "classes": list(train.classes),
                    "config": {"in_channels": 1, "image_size": [16, 16], "channels": [16, 32], "hidden": 64,
                               "dropout": 0.1}}
    torch.manual_seed(0)
    model = build_model(architecture)
    optimizer = torch.optim.Adam(model.parameters(), 3e-3)
    x, y = torch.from_numpy(train.images), torch.from_numpy(train.labels)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    for _ in range(40):
        for rows in torch.randperm(len(x)).split(16):
            loss = torch.nn.functional.cross_entropy(model(x[rows]), y[rows])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    torch.set_num_threads(threads)
    return save_zoo_model(model.eval(), architecture, tmp_path_factory.mktemp("teachers") / "shapes-cnn")


POSITIVE = ["great", "fun", "lovely", "brilliant", "moving", "superb", "charming", "delightful"]
NEGATIVE = ["awful", "boring", "dull", "terrible", "bland", "tedious", "clumsy", "painful"]
FILLER = ["the", "movie", "film", "plot", "was", "and", "a", "story", "acting", "really", "quite", "very", "it", "is"]


def sentiment_sentences(count: int, seed: int = 0) -> tuple[list[str], list[str]]:
    """Short synthetic reviews: filler words and two words of the review's sentiment, sometimes
    one of the other (so a teacher is confident on most, unsure on some)."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for i in range(count):
        label = "positive" if i % 2 else "negative"
        own, other = (POSITIVE, NEGATIVE) if label == "positive" else (NEGATIVE, POSITIVE)
        words = list(rng.choice(FILLER, size=rng.integers(3, 7))) + list(rng.choice(own, size=2))
        if rng.random() < 0.3:
            words.append(rng.choice(other))
        rng.shuffle(words)
        texts.append(" ".join(words))
        labels.append(label)
    return texts, labels


@pytest.fixture(scope="session")
def reviews_csv(tmp_path_factory) -> Path:
    texts, labels = sentiment_sentences(480, seed=1)
    path = tmp_path_factory.mktemp("data") / "reviews.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(zip(texts, labels))
    return path


@pytest.fixture(scope="session")
def tiny_bert_teacher(tmp_path_factory) -> Path:
    """A 4-layer, 64-wide BertForSequenceClassification with a WordPiece vocabulary of the test
    corpus, trained for a few seconds; saved with save_pretrained (safetensors)."""
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    folder = tmp_path_factory.mktemp("teachers") / "tiny-bert"
    folder.mkdir()
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + sorted(set(POSITIVE + NEGATIVE + FILLER))
    tokenizer = BertTokenizerFast(vocab={token: i for i, token in enumerate(vocab)}, do_lower_case=True)
    config = BertConfig(vocab_size=len(vocab), hidden_size=64, num_hidden_layers=4, num_attention_heads=4,
                        intermediate_size=128, max_position_embeddings=64, id2label={0: "negative", 1: "positive"},
                        label2id={"negative": 0, "positive": 1})
    train_and_save_bert(BertForSequenceClassification, config, tokenizer, sentiment_sentences(600, seed=7), folder)
    return folder


def tiny_bert_classifier(seed: int = 0):
    """A random 1-layer, 16-wide BertForSequenceClassification (neg/pos) and its 8-token
    tokenizer: the smallest real Hugging Face teacher, for tests of loading rather than learning."""
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "good", "bad", "film"]
    tokenizer = BertTokenizerFast(vocab={token: i for i, token in enumerate(vocab)})
    config = BertConfig(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=16, id2label={0: "neg", 1: "pos"},
                        label2id={"neg": 0, "pos": 1}, architectures=["BertForSequenceClassification"])
    torch.manual_seed(seed)
    return BertForSequenceClassification(config).eval(), tokenizer


def train_and_save_bert(model_class, config, tokenizer, sentences: tuple[list[str], list[str]], folder: Path):
    """A tiny BERT classifier trained 3 epochs on (texts, labels), saved with its tokenizer."""
    torch.manual_seed(0)
    model = model_class(config)
    texts, labels = sentences
    encoded = tokenizer(texts, padding=True, return_tensors="pt")
    y = torch.tensor([config.label2id[label] for label in labels])
    optimizer = torch.optim.AdamW(model.parameters(), 1e-3)
    model.train()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model trains faster on one thread of a busy CPU
    for _ in range(3):
        for rows in torch.randperm(len(y)).split(32):
            out = model(input_ids=encoded["input_ids"][rows], attention_mask=encoded["attention_mask"][rows], labels=y[rows])
            optimizer.zero_grad()
            out.loss.backward()
            optimizer.step()
    torch.set_num_threads(threads)
    model.eval().save_pretrained(folder)
    tokenizer.save_pretrained(folder)
