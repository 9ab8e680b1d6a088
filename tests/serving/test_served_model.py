"""A served export answers as the engine's own model does on the same inputs."""

from __future__ import annotations

import numpy as np
import pytest

from prsm.serving.errors import InputError, ModelUnavailable
from prsm.serving.model import ServedModel


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def probabilities(outputs: list[dict], labels: list[str]) -> np.ndarray:
    return np.array([[out["probabilities"][label] for label in labels] for out in outputs])


def test_a_tabular_export_answers_as_the_engine_runs_it(digits_export, digits_csv):
    from prsm.engine.adapters import TensorAdapter
    from prsm.engine.data.loaders import load_data
    from prsm.engine.export.onnx import run_onnx

    data = load_data(str(digits_csv)).subset(np.arange(40))
    model = ServedModel.load(digits_export)
    expected = softmax(run_onnx(digits_export, TensorAdapter().encode(data)))

    by_list = model.predict(data.features.tolist())
    by_column = model.predict([dict(zip(data.feature_names, row)) for row in data.features.tolist()])

    assert model.task == "tabular" and model.labels == [str(i) for i in range(10)]
    np.testing.assert_allclose(probabilities(by_list, model.labels), expected, atol=1e-5)
    assert by_column == by_list
    assert [out["label"] for out in by_list] == [model.labels[i] for i in expected.argmax(1)]
    assert all(abs(sum(out["probabilities"].values()) - 1) < 1e-6 for out in by_list)


def test_an_image_export_answers_from_the_image_files(image_export, shapes_folder):
    from prsm.engine.adapters import TensorAdapter
    from prsm.engine.data.loaders import load_data
    from prsm.engine.export.onnx import run_onnx

    data = load_data(str(shapes_folder))
    files = sorted(shapes_folder.rglob("*.png"))  # the order the loader reads them in
    model = ServedModel.load(image_export)

    outputs = model.predict([path.read_bytes() for path in files[:12]])

    expected = softmax(run_onnx(image_export, TensorAdapter().encode(data.subset(np.arange(12)))))
    np.testing.assert_allclose(probabilities(outputs, model.labels), expected, atol=1e-5)


def test_a_text_export_answers_as_the_students_transformers_model(text_run, text_export, reviews_csv):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from prsm.engine.adapters import SequenceAdapter, predict_logits
    from prsm.engine.data.loaders import load_data

    report, out = text_run
    folder = out / report["exports"]["huggingface"]["path"]
    data = load_data(str(reviews_csv)).subset(np.arange(24))
    model = ServedModel.load(text_export)
    student = AutoModelForSequenceClassification.from_pretrained(folder, use_safetensors=True)
    adapter = SequenceAdapter(AutoTokenizer.from_pretrained(str(folder)), model.preprocessing["max_length"])

    outputs = model.predict(list(data.texts))

    expected = softmax(predict_logits(student, adapter, adapter.encode(data)))
    assert model.labels == ["negative", "positive"]
    np.testing.assert_allclose(probabilities(outputs, model.labels), expected, atol=1e-4)


def test_the_int8_export_serves_with_the_same_preprocessing(digits_export):
    model = ServedModel.load(digits_export.with_name("model.int8.onnx"))
    assert model.preprocessing == ServedModel.load(digits_export).preprocessing
    assert len(model.predict([[0] * 64, [8] * 64])) == 2


def test_it_refuses_a_path_that_is_not_a_model(tmp_path, digits_export):
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(ModelUnavailable, match="no such model file"):
        ServedModel.load(tmp_path / "missing.onnx")
    with pytest.raises(ModelUnavailable, match="not a loadable ONNX model"):
        ServedModel.load(tmp_path / "junk.onnx")
    with pytest.raises(InputError, match="input 0: 3 features"):
        ServedModel.load(digits_export).predict([[1, 2, 3]])


def test_an_export_without_preprocessing_is_refused_with_what_to_do(tmp_path):
    import torch

    from prsm.engine.adapters import TensorAdapter
    from prsm.engine.export.onnx import export_onnx

    path = export_onnx(torch.nn.Linear(4, 2), TensorAdapter(), {"x": np.zeros((2, 4), np.float32)},
                       tmp_path / "old.onnx", ["a", "b"])
    with pytest.raises(ModelUnavailable, match="export it again"):
        ServedModel.load(path)
