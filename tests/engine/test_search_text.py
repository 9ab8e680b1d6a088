"""The search on text: students of other families (an embedding bag, a CNN, a BiLSTM; Tang et al.,
2019) are tried beside the transformers cut from the teacher, and one that wins trains, exports and
reloads like any student."""

from __future__ import annotations

import json

import numpy as np
import onnxruntime
import pytest
import torch

from prsm.engine.backends.transformers import light
from prsm.engine.pipeline import DistillConfig, run_distillation
from prsm.engine.students import search as search_plan

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def text_search(tmp_path_factory, tiny_bert_teacher, reviews_csv):
    out = tmp_path_factory.mktemp("text-search")
    config = DistillConfig(teacher=str(tiny_bert_teacher), data=str(reviews_csv), target_size="large", epochs=6,
                           search="thorough")
    return run_distillation(config, out), out


def test_other_families_are_shortlisted_beside_the_transformer_cuts(text_search):
    report, _ = text_search
    tried = {t["design"].split("-")[0] for t in report["search"]["trials"]}
    assert {"bag", "cnn", "bilstm"} & tried, tried
    assert "bert" in tried  # the transformer cut from the teacher is a design too


def test_a_light_student_trains_exports_and_reloads(tmp_path, monkeypatch, tiny_bert_teacher, reviews_csv):
    # the shortlist cut down to the CNN students: one of them is chosen, trained, exported
    original = search_plan.shortlist
    monkeypatch.setattr(search_plan, "shortlist", lambda candidates, chosen, count: [
        c for c in original(candidates, chosen, 10) if c["name"].startswith("cnn-")][:1])
    config = DistillConfig(teacher=str(tiny_bert_teacher), data=str(reviews_csv), target_size="large", epochs=6)
    report = run_distillation(config, tmp_path)
    assert report["student"]["architecture"]["kind"] == "cnn" and report["student"]["candidate"].startswith("cnn-")
    assert report["student"]["accuracy"] > 0.6  # it learnt something from the tiny teacher
    assert 'library_name: "pytorch"' in (tmp_path / "MODEL_CARD.md").read_text()
    assert set(report["exports"]) == set(light.FORMATS) and all(r["verified"] for r in report["exports"].values())
    texts = ["a truly wonderful film", "dull and boring"]
    session = onnxruntime.InferenceSession(str(tmp_path / report["exports"]["onnx"]["path"]))
    from safetensors.torch import load_file
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "model" / "tokenizer")
    encoded = tokenizer(texts, padding=True, return_tensors="np")
    logits = session.run(None, {i.name: encoded[i.name].astype(np.int64) for i in session.get_inputs()})[0]
    architecture = json.loads((tmp_path / report["exports"]["safetensors"]["architecture_path"]).read_text())
    module = light.build(architecture).eval()
    folder = tmp_path / report["exports"]["safetensors"]["path"]
    assert folder.is_dir() and (folder / "tokenizer").is_dir()  # one download holds all a user needs
    module.load_state_dict(load_file(str(folder / report["exports"]["safetensors"]["weights_file"])))
    with torch.inference_mode():
        expected = module(torch.from_numpy(encoded["input_ids"]), torch.from_numpy(encoded["attention_mask"])).logits
    assert np.allclose(logits, expected.numpy(), atol=1e-4)


@pytest.mark.parametrize("kind", light.FAMILIES)
def test_padding_never_changes_a_texts_result(kind):
    module = light.build(light.architecture(kind, 50, 16, 16, ["a", "b"], 0)).eval()
    ids = torch.tensor([[5, 6, 7, 8, 0, 0, 0], [9, 10, 11, 12, 13, 14, 15]])
    with torch.inference_mode():
        batched = module(ids, (ids != 0).long()).logits
        alone = module(ids[:1, :4], torch.ones((1, 4), dtype=torch.long)).logits
    assert torch.allclose(batched[0], alone[0], atol=1e-5)
