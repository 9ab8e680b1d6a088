"""Unlabelled data (a transfer set): the teacher labels it once (cached), the student learns the
teacher's outputs on it, the hard-label term skips it, and the labels-only baseline never sees it."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from prsm.engine.adapters import SequenceAdapter, predict_logits
from prsm.engine.data.loaders import load_data
from prsm.engine.data.splits import stratified_split
from prsm.engine.data.unlabelled import UNLABELLED, load_unlabelled
from prsm.engine.errors import BadInput
from prsm.engine.losses import distillation_loss, soft_target_loss
from prsm.engine.pipeline import DistillConfig, run_distillation

from .conftest import sentiment_sentences, tiny_bert_classifier


def test_unlabelled_rows_have_no_hard_label_term():
    torch.manual_seed(0)
    student, teacher = torch.randn(6, 3), torch.randn(6, 3)
    labels = torch.tensor([0, 2, -1, 1, -1, -1])
    loss = distillation_loss(student, teacher, labels, temperature=2.0, alpha=0.5)
    labelled = labels >= 0
    # every row's own terms, averaged over the batch: the labelled rows' cross-entropy counts 3/6
    expected = 0.5 * soft_target_loss(student, teacher, 2.0) + \
        0.5 * torch.nn.functional.cross_entropy(student[labelled], labels[labelled]) * 3 / 6
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    only_unlabelled = distillation_loss(student, teacher, torch.full((6,), -1), temperature=2.0, alpha=0.5)
    assert only_unlabelled.item() == pytest.approx(0.5 * soft_target_loss(student, teacher, 2.0).item(), rel=1e-6)
    # all labelled: the plain mean cross-entropy, as before
    full = torch.tensor([0, 1, 2, 0, 1, 2])
    assert distillation_loss(student, None, full).item() == pytest.approx(
        torch.nn.functional.cross_entropy(student, full).item(), rel=1e-6)


def test_unlabelled_data_needs_the_teacher():
    with pytest.raises(ValidationError, match="alpha > 0"):
        DistillConfig(teacher="t", alpha=0.0, unlabelled_data="builtin:review-snippets")


@pytest.fixture()
def text_like():
    texts, labels = sentiment_sentences(20)
    from prsm.engine.data.types import TaskData

    return TaskData(task="text", classes=["negative", "positive"], labels=[int(x == "positive") for x in labels],
                    texts=texts)


def test_text_files_of_every_kind_load_without_labels(tmp_path, text_like):
    (tmp_path / "a.txt").write_text("a fine film\n\n  a dull one  \n")
    (tmp_path / "b.csv").write_text("id,text\n1,a fine film\n2,\"a dull, long one\"\n")
    (tmp_path / "c.jsonl").write_text(json.dumps({"text": "a fine film", "label": "whatever"}) + "\n")
    assert load_unlabelled(str(tmp_path / "a.txt"), text_like).texts == ["a fine film", "a dull one"]
    rows = load_unlabelled(str(tmp_path / "b.csv"), text_like)
    assert rows.texts == ["a fine film", "a dull, long one"] and (rows.labels == UNLABELLED).all()
    assert rows.classes == text_like.classes and len(rows.sha256) == 64
    assert load_unlabelled(str(tmp_path / "c.jsonl"), text_like).texts == ["a fine film"]


def test_unlabelled_data_that_does_not_fit_is_refused(tmp_path, text_like):
    digits = load_data("builtin:digits")
    (tmp_path / "notext.csv").write_text("review\nfine\n")
    (tmp_path / "few.csv").write_text("p0,p1\n1,2\n")
    (tmp_path / "bad.jsonl").write_text('{"text": "ok"}\n{"txt": "no"}\n')
    (tmp_path / "x.parquet").write_bytes(b"PAR1")
    cases = [(str(tmp_path / "notext.csv"), text_like, "no 'text' column"),
             (str(tmp_path / "few.csv"), digits, "no 'pixel_0_0' column"),
             (str(tmp_path / "bad.jsonl"), text_like, "line 2 has no 'text'"),
             (str(tmp_path / "x.parquet"), text_like, "unknown format"),
             (str(tmp_path / "missing.txt"), text_like, "no such file"),
             ("builtin:digits", text_like, "holds tabular data; the training data is text")]
    for ref, like, message in cases:
        with pytest.raises(BadInput, match=message):
            load_unlabelled(ref, like)


def test_the_review_snippets_are_another_domain_of_the_same_archive():
    snippets = load_data("builtin:review-snippets")
    reviews = load_data("builtin:movie-reviews")
    assert snippets.meta["parts"] == {"tweets": 4196, "amazonReviewSnippets": 3610, "nytEditorialSnippets": 4946}
    assert not set(snippets.texts) & set(reviews.texts)


def test_batches_sorted_by_length_give_the_same_logits():
    model, tokenizer = tiny_bert_classifier()
    texts = ["good", "bad film " * 6, "film", "good bad good bad good bad film", "bad"] * 7
    from prsm.engine.data.types import TaskData

    inputs = SequenceAdapter(tokenizer, 32).encode(TaskData(task="text", classes=["neg", "pos"], labels=[0] * 35, texts=texts))
    one_batch = predict_logits(model, SequenceAdapter(tokenizer, 32), inputs, batch_size=64)
    sorted_batches = predict_logits(model, SequenceAdapter(tokenizer, 32), inputs, batch_size=4)
    np.testing.assert_allclose(sorted_batches, one_batch, atol=1e-5)
    assert not np.allclose(one_batch[0], one_batch[1])  # rows stay in their own order


@pytest.fixture(scope="module")
def few_labels(tmp_path_factory, digits_csv, digits_teacher):
    """100 labelled digits, and the whole training pool's features (no labels) as the transfer set."""
    folder = tmp_path_factory.mktemp("unlabelled")
    pool = stratified_split(load_data(str(digits_csv)), seed=0).train
    path = folder / "pool.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(pool.feature_names)
        writer.writerows(pool.features.astype(int).tolist())
    common = dict(teacher=str(digits_teacher), data=str(digits_csv), max_train_examples=100, hidden_size=32,
                  layer_count=1, epochs=40, exports=[], checkpoint_seconds=None)
    without = run_distillation(DistillConfig(**common), folder / "without")
    with_pool = run_distillation(DistillConfig(**common, unlabelled_data=str(path), baseline=True), folder / "with")
    return without, with_pool, folder, len(pool)


def test_the_teacher_labels_the_transfer_set_and_the_student_learns_from_it(few_labels):
    without, with_pool, folder, pool_rows = few_labels
    assert with_pool["data"]["unlabelled"]["rows"] == pool_rows
    assert with_pool["data"]["split"]["train"] == without["data"]["split"]["train"] <= 100
    cached = [np.load(p) for p in (folder / "with" / "cache").glob("teacher-logits-*.npy")]
    assert sorted(len(c) for c in cached)[-1] == with_pool["data"]["split"]["train"] + pool_rows
    # ten classes from about ten labelled examples each: the teacher's view of 1,200 more helps a lot
    assert with_pool["student"]["accuracy"] > without["student"]["accuracy"] + 0.03
    # the baseline learns from the labelled rows alone (the unlabelled ones have nothing to teach it)
    assert with_pool["baseline"]["accuracy"] < with_pool["student"]["accuracy"]
    card = (folder / "with" / "MODEL_CARD.md").read_text()
    assert f"Transfer set: {pool_rows:,} unlabelled examples" in card


def test_text_variants_mask_words_and_keep_short_spans():
    from prsm.engine.data.unlabelled import text_variants

    texts = [" ".join(f"w{i}" for i in range(12))] * 400
    variants = text_variants(texts, 1, seed=0, mask_token="<mask>")
    assert variants == text_variants(texts, 1, seed=0, mask_token="<mask>")
    assert variants != text_variants(texts, 1, seed=1, mask_token="<mask>")
    spans = [v.split() for v in variants if len(v.split()) <= 5]
    assert 0.15 < len(spans) / len(variants) < 0.35  # about a quarter are spans of 1..5 words
    full = [v.split() for v in variants if len(v.split()) == 12]
    masked = sum(w == "<mask>" for words in full for w in words) / sum(len(words) for words in full)
    assert masked == pytest.approx(0.1 / (1 - 0.9**12), abs=0.02)  # unchanged copies (no word masked) are dropped
    assert all(w == "<mask>" or w in texts[0].split() for v in variants for w in v.split())


def test_text_variants_join_the_training_rows_for_the_teacher(tmp_path, tiny_bert_teacher, reviews_csv, digits_teacher,
                                                              digits_csv):
    config = DistillConfig(teacher=str(tiny_bert_teacher), data=str(reviews_csv), text_variants=2, epochs=1,
                           exports=[], checkpoint_seconds=None, layer_count=1)
    report = run_distillation(config, tmp_path)
    train = report["data"]["split"]["train"]
    assert train < report["data"]["unlabelled"]["rows"] <= 2 * train  # copies equal to their text are dropped
    assert "variants of each training text" in report["data"]["unlabelled"]["source"]
    with pytest.raises(BadInput, match="text_variants makes new versions of texts"):
        run_distillation(DistillConfig(teacher=str(digits_teacher), data=str(digits_csv), text_variants=1, exports=[]),
                         tmp_path / "digits")


def test_personal_data_in_unlabelled_texts_is_found_and_redacted_when_asked(tmp_path, tiny_bert_teacher, reviews_csv):
    pool = tmp_path / "pool.txt"
    pool.write_text("the film was great\nwrite to jane.doe@example.com about the dull plot\nboring acting\n")
    common = dict(teacher=str(tiny_bert_teacher), data=str(reviews_csv), unlabelled_data=str(pool), epochs=1,
                  exports=[], checkpoint_seconds=None, layer_count=1)
    found = run_distillation(DistillConfig(**common), tmp_path / "found")
    record = found["checks"]["pii_unlabelled"]
    assert record["texts_with_pii"] == 1 and not record["passed"]
    redacted = run_distillation(DistillConfig(**common, checks={"redact_pii": True}), tmp_path / "redacted")
    assert redacted["checks"]["pii_unlabelled"]["passed"]
    assert redacted["data"]["unlabelled"]["sha256"] != found["data"]["unlabelled"]["sha256"]
