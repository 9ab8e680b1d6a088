"""Transformer students: teacher layers chosen by what they do (CKA), and a vocabulary trimmed to
the task's tokens so that a small student's parameters go to layers, not unused embeddings."""

from __future__ import annotations

import string

import numpy as np
import pytest
import torch

from prsm.engine.backends.transformers import students, vocab
from prsm.engine.pipeline import DistillConfig, run_distillation

from .conftest import FILLER, NEGATIVE, POSITIVE, sentiment_sentences, train_and_save_bert

# words the teacher's vocabulary knows but the task never uses (most of a real vocabulary)
UNUSED = [f"{a}{b}{c}" for a in "bcdfg" for b in "aeiou" for c in "klmnprst"]


def test_even_work_keeps_layers_that_change_a_lot_apart():
    # 6 teacher layers: 1-4 barely change their input, 5 and 6 each change it a lot
    hidden = 7
    cka = np.ones((hidden, hidden))
    work = [0.0, 0.02, 0.02, 0.02, 0.02, 0.4, 0.4]  # change made by layer j (index j)
    for a in range(hidden):
        for b in range(a + 1, hidden):
            cka[a, b] = cka[b, a] = 1 - sum(work[a + 1:b + 1])
    plan = students.layers_by_similarity(cka.tolist(), 3)
    assert plan["evenly_spaced"] == [1, 3, 5]
    assert plan["teacher_layers"] == [3, 4, 5]  # layers 1-4 merged into one student layer; 5 and 6 kept apart
    assert max(plan["segment_change"]) == pytest.approx(0.4)


def test_equal_work_gives_evenly_spaced_layers():
    hidden = 13
    cka = [[1 - 0.05 * abs(a - b) for b in range(hidden)] for a in range(hidden)]
    for layers in (1, 2, 3, 4, 6):
        plan = students.layers_by_similarity(cka, layers)
        assert plan["teacher_layers"] == students.chosen_teacher_layers(12, layers)
        assert plan["teacher_layers"][-1] == 11


@pytest.fixture(scope="module")
def wide_vocab_teacher(tmp_path_factory):
    """A tiny BERT whose WordPiece vocabulary holds single characters and many words the task never
    uses, as a real teacher's does; trained for a few seconds on the synthetic reviews."""
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    folder = tmp_path_factory.mktemp("teachers") / "wide-vocab-bert"
    folder.mkdir()
    characters = list(string.ascii_lowercase)
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + characters + [f"##{c}" for c in characters]
    tokens += sorted(set(POSITIVE + NEGATIVE + FILLER + UNUSED) - set(characters))
    tokenizer = BertTokenizerFast(vocab={token: i for i, token in enumerate(tokens)}, do_lower_case=True)
    config = BertConfig(vocab_size=len(tokens), hidden_size=64, num_hidden_layers=4, num_attention_heads=4,
                        intermediate_size=128, max_position_embeddings=64, id2label={0: "negative", 1: "positive"},
                        label2id={"negative": 0, "positive": 1})
    train_and_save_bert(BertForSequenceClassification, config, tokenizer, sentiment_sentences(400, seed=7), folder)
    return folder


def test_trimming_keeps_the_training_tokens_and_splits_them_the_same_way(wide_vocab_teacher):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(wide_vocab_teacher)
    texts, _ = sentiment_sentences(100, seed=3)
    plan = vocab.trim_plan(tokenizer, texts, max_length=32)
    assert plan["applied"] and plan["kept"] < plan["teacher_vocabulary"] * 0.5
    kept = plan["kept_ids"]
    trimmed = vocab.trimmed_tokenizer(tokenizer, kept)
    assert len(trimmed) == len(kept)
    before = tokenizer(texts, padding=True)["input_ids"]
    after = trimmed(texts, padding=True)["input_ids"]
    assert [[int(kept[i]) for i in row] for row in after] == before  # same tokens, new ids
    # a word the training texts never used still splits into characters, not [UNK]
    unseen = trimmed("bakt")["input_ids"]
    assert trimmed.unk_token_id not in unseen and len(unseen) == 2 + 4


class NotWordPiece:
    """A tokenizer whose model is BPE, as far as trimming can see."""
    backend_tokenizer = type("T", (), {"to_str": lambda self: '{"model": {"type": "BPE"}}'})()


def test_a_byte_level_tokenizer_is_left_whole():
    plan = vocab.trim_plan(NotWordPiece(), ["a"], 8)
    assert not plan["applied"] and "BPE" in plan["reason"]


@pytest.fixture(scope="module")
def trimmed_run(tmp_path_factory, wide_vocab_teacher, reviews_csv):
    out = tmp_path_factory.mktemp("trimmed-run")
    # hidden-state transfer runs the teacher beside the student: its ids must be mapped back
    # search off: the tests compare this run's design with a capped vocabulary's, which must be the same
    config = DistillConfig(teacher=str(wide_vocab_teacher), data=str(reviews_csv), target_size="medium",
                           optimization_target="accuracy", transfer=["logits", "hidden"], search="off")
    return run_distillation(config, out), out


def test_the_student_uses_a_trimmed_vocabulary_and_chosen_layers(trimmed_run):
    report, _ = trimmed_run
    initialised = report["student"]["initialised_from"]
    trimmed = initialised["vocabulary"]
    assert trimmed["applied"] and trimmed["kept"] < trimmed["teacher_vocabulary"]
    assert report["student"]["architecture"]["vocab_size"] == trimmed["kept"]
    assert initialised["word_embeddings"] in ("copied", "projected")
    assert "CKA" in initialised["layer_choice"]["rule"]
    assert len(initialised["teacher_layers"]) == report["student"]["architecture"]["num_hidden_layers"]
    assert report["student"]["accuracy"] >= 0.8 * report["teacher"]["accuracy"]


def test_the_trimmed_student_exports_with_its_own_tokenizer(trimmed_run):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    report, out = trimmed_run
    assert {name for name, record in report["exports"].items() if not record["verified"]} == set()
    folder = out / report["exports"]["huggingface"]["path"]
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    assert len(tokenizer) == model.config.vocab_size == report["student"]["architecture"]["vocab_size"]
    encoded = tokenizer(["a lovely charming film", "the plot was dull and tedious"], padding=True, return_tensors="pt")
    assert int(encoded["input_ids"].max()) < model.config.vocab_size
    with torch.inference_mode():
        predicted = model(**encoded).logits.argmax(1).tolist()
    assert [model.config.id2label[i] for i in predicted] == ["positive", "negative"]


def test_a_vocabulary_cap_keeps_characters_and_the_most_frequent_tokens(wide_vocab_teacher):
    from collections import Counter

    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(wide_vocab_teacher)
    texts, _ = sentiment_sentences(100, seed=3)
    whole = vocab.trim_plan(tokenizer, texts, max_length=32)
    required = 5 + 2 * len(string.ascii_lowercase)  # special tokens, characters and their ## forms
    cap = required + 12
    plan = vocab.trim_plan(tokenizer, texts, max_length=32, cap=cap)
    assert plan["applied"] and plan["kept"] == cap == plan["cap"] < whole["kept"]
    kept = set(plan["kept_ids"].tolist())
    counts = Counter(i for row in tokenizer(texts)["input_ids"] for i in row)
    specials = set(tokenizer.all_special_ids)
    words = [i for i in counts if i not in specials and len(tokenizer.convert_ids_to_tokens(i).lstrip("#")) > 1]
    in_, out = [counts[i] for i in words if i in kept], [counts[i] for i in words if i not in kept]
    assert in_ and out and min(in_) >= max(out)  # the frequent words stayed, the rare ones went
    share = sum(counts[i] for i in counts if i in kept and i not in specials) / sum(
        counts[i] for i in counts if i not in specials)
    assert plan["coverage"] == pytest.approx(share, abs=1e-4) and plan["coverage"] < 1

    trimmed = vocab.trimmed_tokenizer(tokenizer, plan["kept_ids"])
    kept_word = tokenizer.convert_ids_to_tokens(max(words, key=lambda i: counts[i]))
    dropped_word = tokenizer.convert_ids_to_tokens(min(words, key=lambda i: counts[i]))
    assert trimmed.tokenize(kept_word) == [kept_word]
    pieces = trimmed.tokenize(dropped_word)  # a dropped word splits into kept pieces, never [UNK]
    assert len(pieces) > 1 and "".join(p.lstrip("#") for p in pieces) == dropped_word


def test_a_vocabulary_cap_too_small_or_on_another_tokenizer_is_refused(wide_vocab_teacher):
    from transformers import AutoTokenizer

    from prsm.engine.errors import BadInput

    tokenizer = AutoTokenizer.from_pretrained(wide_vocab_teacher)
    texts, _ = sentiment_sentences(20, seed=3)
    with pytest.raises(BadInput, match=r"vocabulary_size: 40 cannot hold the 57 .* the least is 58"):
        vocab.trim_plan(tokenizer, texts, max_length=32, cap=40)

    with pytest.raises(BadInput, match="vocabulary_size: the student's tokenizer is BPE"):
        vocab.trim_plan(NotWordPiece(), ["a"], 8, cap=1000)


def test_a_capped_vocabulary_run_gives_a_smaller_student_that_still_reads(tmp_path, wide_vocab_teacher, reviews_csv,
                                                                          trimmed_run):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    whole, _ = trimmed_run  # the same run with every token of the training texts
    # 83: the three rarest words of the training texts split into characters
    config = DistillConfig(teacher=str(wide_vocab_teacher), data=str(reviews_csv), target_size="medium",
                           optimization_target="accuracy", transfer=["logits", "hidden"], vocabulary_size=83,
                           exports=["huggingface"], search="off")
    report = run_distillation(config, tmp_path / "run")
    trimmed = report["student"]["initialised_from"]["vocabulary"]
    assert trimmed["cap"] == trimmed["kept"] == report["student"]["architecture"]["vocab_size"] == 83
    assert whole["student"]["initialised_from"]["vocabulary"]["kept"] > 83
    assert report["student"]["params"] < whole["student"]["params"]
    assert report["student"]["accuracy"] >= 0.8 * report["teacher"]["accuracy"]
    folder = tmp_path / "run" / report["exports"]["huggingface"]["path"]
    assert len(AutoTokenizer.from_pretrained(folder)) == AutoModelForSequenceClassification.from_pretrained(
        folder).config.vocab_size == 83
