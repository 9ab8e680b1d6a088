"""Text on the Transformers backend: a tiny BERT teacher (built in the test, never downloaded)
distilled into a shallower BERT; the Hugging Face and ONNX exports reload and match."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime
import pytest
import torch

from prsm.engine.pipeline import DistillConfig, run_distillation


@pytest.fixture(scope="module")
def distilled_text(tmp_path_factory, tiny_bert_teacher, reviews_csv):
    out = tmp_path_factory.mktemp("text-run")
    config = DistillConfig(teacher=str(tiny_bert_teacher), data=str(reviews_csv), target_size="large",
                           optimization_target="accuracy", epochs=4, transfer=["logits", "hidden"],
                           search="off")  # the design rule's student: the search may pick a narrower one as deep
    return run_distillation(config, out), out


def test_text_goes_to_the_transformers_backend_with_a_shallower_student(distilled_text):
    report, _ = distilled_text
    assert report["task"] == "text" and report["backend"] == "transformers"
    assert report["compression_ratio"] >= 3
    assert report["student"]["architecture"]["num_hidden_layers"] < report["teacher"]["layers"]
    assert report["training"]["transfer"] == ["logits", "hidden"]
    assert report["training"]["batches_by_length"]  # sentences train in batches of similar length


def test_the_student_starts_from_chosen_teacher_layers(distilled_text):
    report, _ = distilled_text
    initialised = report["student"]["initialised_from"]
    assert len(initialised["teacher_layers"]) == report["student"]["architecture"]["num_hidden_layers"]
    assert max(initialised["teacher_layers"]) < report["teacher"]["layers"]
    assert initialised["copied_tensors"] > 0


def test_the_hugging_face_export_reloads_with_the_auto_class(distilled_text, reviews_csv):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    report, out = distilled_text
    assert report["exports"]["huggingface"]["verified"]
    folder = out / report["exports"]["huggingface"]["path"]
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    assert [model.config.id2label[i] for i in range(model.config.num_labels)] == report["classes"]
    encoded = tokenizer(["great fun film", "the plot was dull and very tedious indeed"], padding=True, return_tensors="pt")
    with torch.inference_mode():
        assert model(**encoded).logits.shape == (2, 2)


def test_the_onnx_export_takes_any_batch_and_sequence_length(distilled_text):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    report, out = distilled_text
    path = out / report["exports"]["onnx"]["path"]
    graph_inputs = onnx.load(str(path)).graph.input
    assert all(not d.HasField("dim_value") for i in graph_inputs for d in list(i.type.tensor_type.shape.dim)[:2])
    folder = out / report["exports"]["huggingface"]["path"]
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    session = onnxruntime.InferenceSession(str(path))
    names = [i.name for i in session.get_inputs()]
    for texts in (["fun"], ["a lovely moving story", "dull", "the acting was really quite awful and boring"]):
        encoded = tokenizer(texts, padding=True, return_tensors="np")
        got = session.run(None, {name: encoded[name].astype(np.int64) for name in names})[0]
        with torch.inference_mode():
            expected = model(**{k: torch.from_numpy(v) for k, v in encoded.items()}).logits.numpy()
        assert np.abs(got - expected).max() < 1e-3


def test_every_text_export_is_verified(distilled_text):
    report, _ = distilled_text
    assert set(report["exports"]) == {"huggingface", "safetensors", "pth", "onnx", "onnx-int8"}
    assert {name for name, record in report["exports"].items() if not record["verified"]} == set()
