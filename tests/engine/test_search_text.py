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
    config = DistillConfig(teacher=str(tiny_bert_teacher), data=str(reviews_csv), target_size="large", epochs=6)
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


# pretrained bases and the offered transfer set --------------------------------------------------


class _Teacher:
    kind = "huggingface"


@pytest.fixture(scope="module")
def review_rows():
    from prsm.engine.data.builtin import load_builtin

    return load_builtin("movie-reviews").subset(np.arange(1000))


def test_base_cuts_within_the_budget_and_one_layer_deeper_with_the_vocabulary_capped_to_fit(review_rows):
    from prsm.engine.backends.transformers import BACKEND

    budget = 5_400_000  # MPNet's 109M at "small" (20x): one MiniLM layer fits on these texts' tokens, two do not
    found = BACKEND.search_candidates(_Teacher(), review_rows, budget, light_students=False)
    assert found and all(c.params <= budget and c.source["base"] == "builtin:all-minilm-l6-v2" for c in found)
    natural = [c for c in found if "vocabulary_size" not in c.source]
    capped = [c for c in found if "vocabulary_size" in c.source]
    assert [c.layers for c in natural] == [1] and [c.layers for c in capped] == [2]
    cap = capped[0].source["vocabulary_size"]
    assert capped[0].architecture["vocab_size"] == cap < natural[0].architecture["vocab_size"]
    # the request's own cap is kept: no other cap is tried
    asked = BACKEND.search_candidates(_Teacher(), review_rows, budget, vocabulary_size=4000, light_students=False)
    assert asked and all(c.source == {"base": "builtin:all-minilm-l6-v2", "vocabulary_size": 4000} for c in asked)
    # a budget under any cut: none offered (the light students still are)
    assert not BACKEND.search_candidates(_Teacher(), review_rows, 1_000_000, light_students=False)


def test_a_student_cut_from_a_base_wins_trains_and_exports_with_its_own_tokenizer(tmp_path, monkeypatch,
                                                                                  tiny_bert_teacher, reviews_csv):
    from prsm.engine.students import design

    # the tiny teacher is smaller than any base: its budget made large enough for one MiniLM layer,
    # and the shortlist cut down to the base's cuts
    monkeypatch.setitem(design.SIZE_RATIOS, "large", 0.05)
    original = search_plan.shortlist
    monkeypatch.setattr(search_plan, "shortlist", lambda candidates, chosen, count: [
        c for c in original(candidates, chosen, 10) if (c.get("source") or {}).get("base")][:1])
    config = DistillConfig(teacher=str(tiny_bert_teacher), data=str(reviews_csv), target_size="large",
                           exports=["huggingface", "onnx"], search_seconds=1)  # its first trial, then the final training
    report = run_distillation(config, tmp_path)
    student = report["student"]
    assert student["candidate"].startswith("all-minilm-l6-v2-") and student["architecture"]["model_type"] == "bert"
    assert student["initialised_from"]["base"] == "builtin:all-minilm-l6-v2"
    assert report["search"]["designs"][0]["source"]["base"] == "builtin:all-minilm-l6-v2"
    assert student["accuracy"] > 0.6
    assert all(r["verified"] for r in report["exports"].values())
    assert "all-minilm-l6-v2" in (tmp_path / "MODEL_CARD.md").read_text()


def _transfer_run(data, teacher_tokenizer, **config):
    from types import SimpleNamespace

    from prsm.engine.data.splits import stratified_split

    c = DistillConfig(teacher="x", data="y", **config)
    log: list[str] = []
    return SimpleNamespace(config=c, data=data, split=stratified_split(data, 0), unlabelled=None,
                           teacher=SimpleNamespace(tokenizer=teacher_tokenizer, runtime="local"),
                           reporter=SimpleNamespace(log=log.append, messages=log), search_made_rows=False)


def test_the_search_offers_english_sentences_as_a_transfer_set_none_of_the_jobs_own(review_rows, monkeypatch,
                                                                                    tiny_bert_teacher):
    from transformers import AutoTokenizer

    from prsm.engine.data import builtin
    from prsm.engine.data.builtin import load_builtin
    from prsm.engine.stages import prepare

    tokenizer = AutoTokenizer.from_pretrained(tiny_bert_teacher)
    snippets = load_builtin("review-snippets")
    # the job's data holds 50 of the set's own sentences: they are not offered back to it
    mixed = review_rows.subset(np.arange(950))
    mixed.texts = list(mixed.texts) + list(snippets.texts[:50])
    mixed.labels = np.concatenate([mixed.labels, snippets.labels[:50]])
    run = _transfer_run(mixed, tokenizer)
    rows = prepare._unlabelled_rows(run)
    ref, most = search_plan.SEARCH_TRANSFER[0], search_plan.search_transfer_rows(len(run.split.train))
    variants = len(rows) - most  # the search's text variants follow the transfer set
    assert variants > 0 and run.search_made_rows
    assert not set(rows.texts[:most]) & set(mixed.texts) and set(rows.texts[:most]) <= set(snippets.texts)
    assert ref in rows.source and (rows.labels == -1).all()
    from prsm.engine.checks.pii import scan

    assert scan(rows.texts[:most])["texts_with_pii"] == 0  # the few tweets with a phone number are left out

    assert prepare._unlabelled_rows(_transfer_run(mixed, tokenizer, search="off")) is None
    own = prepare._unlabelled_rows(_transfer_run(mixed, tokenizer, unlabelled_data=ref, max_unlabelled_examples=10))
    assert len(own) == 10 + variants  # the request's own transfer set, as it asked
    asked = prepare._unlabelled_rows(_transfer_run(mixed, tokenizer, text_variants=1))
    assert ref not in asked.source and len(asked) < variants  # its own variants, and nothing more
    monkeypatch.setattr(builtin, "vader_sdist_path", lambda fetch=True: (_ for _ in ()).throw(
        builtin.BuiltinSourceMissing("not here")))
    missing = _transfer_run(mixed, tokenizer)
    assert len(prepare._unlabelled_rows(missing)) == variants  # nothing fetched: variants only, and said
    assert any("not on this machine" in message for message in missing.reporter.messages)
