"""A text student cut from a pretrained base with its own tokenizer (``student_base``): the base's
first layers and its trimmed vocabulary, the teacher's outputs cached from the teacher's own
encoding, exports that reload with the base's tokenizer, and the refusals."""

from __future__ import annotations

import json
import string

import numpy as np
import pydantic
import pytest
import torch

from prsm.engine.backends.transformers import BACKEND, bases
from prsm.engine.data.loaders import load_data
from prsm.engine.data.splits import stratified_split
from prsm.engine.errors import BadInput
from prsm.engine.pipeline import DistillConfig, run_distillation

from .conftest import FILLER, NEGATIVE, POSITIVE, sentiment_sentences, train_and_save_bert


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory):
    """A bare 3-layer, 32-wide BertModel, trained on other sentences, whose WordPiece vocabulary (single characters and whole
    words, in another order than the teacher's, most of them unused by the task) is not the teacher's: a stand-in for a small
    pretrained encoder, saved as sentence-transformers packages save theirs (no head)."""
    from transformers import BertConfig, BertForSequenceClassification, BertModel, BertTokenizerFast

    folder = tmp_path_factory.mktemp("bases") / "tiny-base"
    folder.mkdir()
    letters = list(string.ascii_lowercase)
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + letters + [f"##{c}" for c in letters]
    words = POSITIVE + NEGATIVE + FILLER + ["cinema", "scene", "actor", "ending"] + [f"other{i}" for i in range(120)]
    tokens += sorted(set(words) - set(letters), reverse=True)  # most of them words the task never uses
    tokenizer = BertTokenizerFast(vocab={token: i for i, token in enumerate(tokens)}, do_lower_case=True)
    config = BertConfig(vocab_size=len(tokens), hidden_size=32, num_hidden_layers=3, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=64,
                        id2label={0: "negative", 1: "positive"}, label2id={"negative": 0, "positive": 1})
    # "pretraining": a few seconds on other sentences of the same kind; only the encoder is kept
    scratch = tmp_path_factory.mktemp("bases") / "pretraining"
    train_and_save_bert(BertForSequenceClassification, config, tokenizer, sentiment_sentences(600, seed=11), scratch)
    encoder = BertForSequenceClassification.from_pretrained(scratch).bert
    assert isinstance(encoder, BertModel)
    encoder.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def based_run(tmp_path_factory, tiny_bert_teacher, tiny_base, reviews_csv):
    out = tmp_path_factory.mktemp("based-run")
    config = DistillConfig(teacher=str(tiny_bert_teacher), data=str(reviews_csv), target_size="large",
                           optimization_target="accuracy", student_base=str(tiny_base), text_variants=1)
    return run_distillation(config, out), out


def test_the_student_is_the_bases_first_layers_with_its_trimmed_vocabulary(based_run, tiny_base):
    report, _ = based_run
    initialised = report["student"]["initialised_from"]
    layers = report["student"]["architecture"]["num_hidden_layers"]
    assert initialised["base"] == str(tiny_base)
    assert initialised["base_layers"] == list(range(layers)) and layers <= 3
    assert report["student"]["architecture"]["hidden_size"] == 32  # the base's width, not the teacher's 64
    assert initialised["word_embeddings"] == "copied" and initialised["copied_tensors"] > 0
    vocabulary = initialised["vocabulary"]
    assert vocabulary["applied"] and report["student"]["architecture"]["vocab_size"] == vocabulary["kept"]
    assert vocabulary["teacher_vocabulary"] == len(json.loads((tiny_base / "tokenizer.json").read_text())["model"]["vocab"])


def test_it_learns_the_teachers_outputs_from_the_teachers_own_encoding(based_run, tiny_bert_teacher, reviews_csv):
    from prsm.engine.teachers import load_teacher

    report, out = based_run
    assert report["training"]["transfer"] == ["logits"]
    # the tokenizers number tokens differently: the cached outputs are the teacher's on its own
    # encoding of the rows (the validation rows' here), not on the student's token ids
    validation = stratified_split(load_data(str(reviews_csv)), seed=0).validation
    expected = load_teacher(str(tiny_bert_teacher)).logits(validation)
    cached = [np.load(path) for path in sorted((out / "cache").glob("teacher-logits-*.npy"))]
    assert any(c.shape == expected.shape and np.allclose(c, expected, atol=1e-5) for c in cached)
    assert report["student"]["accuracy"] >= 0.85 * report["teacher"]["accuracy"]
    assert report["student"]["agreement"] >= 0.8


def test_the_exports_reload_with_the_bases_tokenizer(based_run):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    report, out = based_run
    assert {name for name, record in report["exports"].items() if not record["verified"]} == set()
    folder = out / report["exports"]["huggingface"]["path"]
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    assert len(tokenizer) == model.config.vocab_size
    # a word in neither the training texts nor the trimmed vocabulary splits into the base's letters
    assert tokenizer.unk_token_id not in tokenizer("scenery")["input_ids"]


def test_the_model_card_names_the_base(based_run, tiny_base):
    report, out = based_run
    card = (out / "MODEL_CARD.md").read_text()
    layers = report["student"]["architecture"]["num_hidden_layers"]
    assert f"Starts from: `{tiny_base}`, its first {layers} layers and its tokenizer" in card


def test_building_copies_the_bases_tensors(tiny_bert_teacher, tiny_base, reviews_csv):
    from prsm.engine.teachers import load_teacher

    teacher = load_teacher(str(tiny_bert_teacher))
    train = load_data(str(reviews_csv))
    candidate = next(c for c in BACKEND.candidates(teacher, train, base=str(tiny_base)) if c.layers == 2)
    student = BACKEND.build(candidate, teacher, train, seed=0, base=str(tiny_base))
    encoder = bases.load_base(str(tiny_base)).encoder()
    got, want = student.module.state_dict(), encoder.state_dict()
    for name in ("encoder.layer.1.attention.self.query.weight", "encoder.layer.0.output.dense.bias", "pooler.dense.weight"):
        assert torch.equal(got[f"bert.{name}"], want[name])
    kept = torch.from_numpy(np.asarray(student.extra["kept_ids"]))
    assert torch.equal(got["bert.embeddings.word_embeddings.weight"], want["embeddings.word_embeddings.weight"][kept])


def test_the_packaged_minilm_is_a_builtin_base():
    base = bases.load_base("builtin:all-minilm-l6-v2")
    assert (base.config.num_hidden_layers, base.config.hidden_size) == (6, 384)
    assert base.tokenizer("a moving film")["input_ids"][0] == base.tokenizer.cls_token_id


@pytest.mark.parametrize("fields, message", [
    ({"transfer": ["logits", "hidden"]}, "transfer=hidden"),
    ({"transfer": ["logits", "attention"]}, "transfer=attention"),
    ({"augment": True}, "text_variants"),
])
def test_token_level_learning_is_refused_with_a_base(fields, message):
    with pytest.raises(pydantic.ValidationError, match=message):
        DistillConfig(teacher="t", student_base="builtin:all-minilm-l6-v2", **fields)


def test_bad_bases_are_refused(tmp_path, tiny_base):
    with pytest.raises(BadInput, match="no built-in base 'nope'"):
        bases.load_base("builtin:nope")
    with pytest.raises(BadInput, match="is not a directory"):
        bases.load_base(str(tmp_path / "missing"))
    custom = tmp_path / "custom"
    custom.mkdir()
    config = json.loads((tiny_base / "config.json").read_text()) | {"auto_map": {"AutoModel": "model.MyModel"}}
    (custom / "config.json").write_text(json.dumps(config))
    with pytest.raises(BadInput, match="custom code"):
        bases.load_base(str(custom))
    unsafe = tmp_path / "unsafe"
    unsafe.mkdir()
    (unsafe / "config.json").write_text((tiny_base / "config.json").read_text())
    with pytest.raises(BadInput, match="no safetensors"):
        bases.load_base(str(unsafe))


def test_a_generated_student_refuses_a_base(tmp_path, digits_teacher, digits_csv):
    config = DistillConfig(teacher=str(digits_teacher), data=str(digits_csv), student_base="builtin:all-minilm-l6-v2",
                           epochs=1)
    with pytest.raises(BadInput, match="student_base is for text students"):
        run_distillation(config, tmp_path / "run")
