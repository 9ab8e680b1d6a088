"""Teacher ensembles: several teachers fused into the one soft target, through the whole engine.

The teachers are real and different: two zoo MLPs of other widths trained on the same digits rows,
one of them as an ONNX file (another kind and runtime), and one saved with its labels in another
order or with an extra label (knowledge alignment)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from prsm.engine.config import EnsembleConfig
from prsm.engine.errors import BadInput
from prsm.engine.pipeline import DistillConfig, run_distillation
from prsm.engine.teachers.ensemble import EnsembleTeacher, fit_temperature
from tests.engine.conftest import train_mlp

FAST = {"search": "off", "epochs": 15, "max_train_examples": 300, "exports": ["safetensors"]}


@pytest.fixture(scope="module")
def second_teacher(tmp_path_factory, digits_csv):
    """A narrower MLP, another seed: a different teacher of the same task."""
    return _teacher(tmp_path_factory, digits_csv, "digits-mlp-narrow", hidden=[128, 64], seed=7)


def _teacher(tmp_path_factory, digits_csv, name, hidden, seed, order=None, extra=None):
    """A zoo MLP trained on the pipeline's training rows; ``order`` reorders its classes (outputs
    and names alike), ``extra`` adds a label no row has."""
    import torch

    from prsm.engine.data.loaders import load_data
    from prsm.engine.data.splits import stratified_split
    from prsm.engine.zoo import save_zoo_model

    train = stratified_split(load_data(str(digits_csv)), seed=0).train
    classes, labels = list(train.classes), train.labels
    if order is not None:  # class order[k] is output k
        position = {name: k for k, name in enumerate(order)}
        labels = np.array([position[train.classes[y]] for y in train.labels])
        classes = list(order)
    if extra is not None:
        classes = classes + [extra]
    model, architecture = train_mlp(train.features, labels, classes, hidden, epochs=20, seed=seed)
    torch.manual_seed(0)
    return save_zoo_model(model, architecture, tmp_path_factory.mktemp("teachers") / name)


@pytest.fixture(scope="module")
def second_onnx_teacher(tmp_path_factory, second_teacher):
    """The narrow teacher as an ONNX file (onnxruntime), its labels in metadata_props."""
    from prsm.engine.adapters import TensorAdapter
    from prsm.engine.export.onnx import export_onnx
    from prsm.engine.zoo import load_zoo_model

    model, architecture = load_zoo_model(second_teacher)
    path = tmp_path_factory.mktemp("teachers") / "digits-narrow.onnx"
    return export_onnx(model, TensorAdapter(), {"x": np.zeros((2, 64), np.float32)}, path, architecture["classes"])


def _config(primary, members, **extra) -> DistillConfig:
    spec = {"members": members, **{k: extra.pop(k) for k in ("fusion", "align") if k in extra}}
    return DistillConfig(teacher=str(primary), ensemble=EnsembleConfig(**spec), **{**FAST, **extra})


@pytest.fixture(scope="module")
def ensemble_run(tmp_path_factory, digits_teacher, second_onnx_teacher, digits_csv):
    """The narrow MLP as an ONNX file (onnxruntime) with the wide one as a zoo folder (PyTorch):
    two kinds and runtimes; the student is designed from the wide one."""
    out = tmp_path_factory.mktemp("ensemble")
    config = _config(digits_teacher, [{"teacher": str(second_onnx_teacher), "weight": 0.4},
                                      {"teacher": str(digits_teacher), "weight": 0.6}], data=str(digits_csv))
    return run_distillation(config, out), out


def test_an_ensemble_of_two_kinds_of_teacher_trains_a_student_and_reports_each_teacher(ensemble_run):
    report, out = ensemble_run
    ensemble = report["teacher"]["ensemble"]
    assert report["teacher"]["kind"] == "ensemble"
    assert [m["kind"] for m in ensemble["members"]] == ["onnx", "zoo"]
    assert [m["weight"] for m in ensemble["members"]] == [0.4, 0.6]
    assert ensemble["accuracy"] == pytest.approx(report["teacher"]["accuracy"])
    best = max(m["accuracy"] for m in ensemble["members"])
    assert ensemble["best_teacher_accuracy"] == best
    assert 0 <= ensemble["all_agree"] <= 1
    assert ensemble["student_retention_vs_best_teacher"] == pytest.approx(report["student"]["accuracy"] / best)
    assert ensemble["student_retention_vs_ensemble"] == pytest.approx(report["retention"])
    assert report["student"]["accuracy"] > 0.6  # it learnt digits
    # the latency of the ensemble is its teachers' together; its parameters too, and the student's
    # size budget is the teacher it was designed from
    members = report["teacher"]["ensemble"]["members"]
    assert report["teacher"]["runtime"] == "mixed"
    assert report["teacher"]["params"] > report["design"]["param_budget"]
    assert "MODEL_CARD.md" in {p.name for p in out.iterdir()}
    assert len(members) == 2
    assert json.loads((out / "report.json").read_text())["teacher"]["ensemble"]["fusion"] == "weighted_ensemble"


def test_the_fused_targets_are_the_weighted_mean_of_the_teachers_probabilities(tmp_path, digits_teacher,
                                                                               second_teacher, digits_csv):
    from prsm.engine.data.loaders import load_data
    from prsm.engine.teachers import load_teacher

    data = load_data(str(digits_csv)).subset(np.arange(60))
    members = [load_teacher(str(digits_teacher)), load_teacher(str(second_teacher))]
    for fusion in ("weighted_ensemble", "confidence"):
        ensemble = EnsembleTeacher(members, [0.7, 0.3], [None, None], fusion, align=False, primary=0)
        ensemble.align_data(data)
        fused = np.exp(ensemble.logits(data))
        probs = [_softmax(m.logits(data)) for m in members]
        if fusion == "weighted_ensemble":
            expected = 0.7 * probs[0] + 0.3 * probs[1]
        else:
            w = np.stack([0.7 * probs[0].max(1), 0.3 * probs[1].max(1)])
            w /= w.sum(0)
            expected = w[0][:, None] * probs[0] + w[1][:, None] * probs[1]
        assert np.allclose(fused, expected, atol=1e-5), fusion
        assert np.allclose(fused.sum(1), 1, atol=1e-5)


def test_domain_routing_sends_a_row_to_the_teacher_of_its_domain(tmp_path, digits_teacher, second_teacher, digits_csv):
    from prsm.engine.data.loaders import load_data
    from prsm.engine.teachers import load_teacher

    data = load_data(str(digits_csv)).subset(np.arange(30))
    data.domains = ["hand"] * 10 + ["print"] * 10 + [""] * 10
    members = [load_teacher(str(digits_teacher)), load_teacher(str(second_teacher))]
    ensemble = EnsembleTeacher(members, [0.5, 0.5], ["hand", "print"], "domain_routing", align=False, primary=0)
    ensemble.align_data(data)
    fused = np.exp(ensemble.logits(data))
    probs = [_softmax(m.logits(data)) for m in members]
    assert np.allclose(fused[:10], probs[0][:10], atol=1e-5)
    assert np.allclose(fused[10:20], probs[1][10:20], atol=1e-5)
    assert np.allclose(fused[20:], 0.5 * probs[0][20:] + 0.5 * probs[1][20:], atol=1e-5)
    data.domains = None
    with pytest.raises(BadInput, match="no 'domain' column"):
        ensemble.align_data(data)


def test_labels_in_another_order_are_refused_without_alignment_and_mapped_with_it(tmp_path_factory, digits_teacher,
                                                                                  digits_csv):
    from prsm.engine.data.loaders import load_data
    from prsm.engine.teachers import load_teacher

    reversed_order = [str(d) for d in range(9, -1, -1)]
    other = _teacher(tmp_path_factory, digits_csv, "digits-reversed", [64], seed=3, order=reversed_order)
    data = load_data(str(digits_csv))
    members = [load_teacher(str(digits_teacher)), load_teacher(str(other))]
    plain = EnsembleTeacher(members, [0.5, 0.5], [None, None], "weighted_ensemble", align=False, primary=0)
    with pytest.raises(BadInput, match="set knowledge_alignment"):
        plain.align_data(data)
    aligned = EnsembleTeacher(members, [0.5, 0.5], [None, None], "weighted_ensemble", align=True, primary=0)
    relabelled = aligned.align_data(data)
    sample = relabelled.subset(np.arange(200))
    mapped = aligned.member_logits(sample)
    # once mapped, the reversed teacher is right about as often as in its own order
    own = members[1].logits(sample).argmax(1)
    assert (mapped[1].argmax(1) == sample.labels).mean() == pytest.approx(
        (np.array([int(reversed_order[k]) for k in own]) == sample.labels).mean())
    assert (mapped[1].argmax(1) == sample.labels).mean() > 0.8


def test_a_teacher_missing_a_label_cannot_be_aligned_and_an_extra_label_is_dropped(tmp_path_factory, digits_teacher,
                                                                                   digits_csv):
    from prsm.engine.data.loaders import load_data
    from prsm.engine.teachers import load_teacher

    data = load_data(str(digits_csv))
    extra = _teacher(tmp_path_factory, digits_csv, "digits-extra", [64], seed=4, extra="not-a-digit")
    members = [load_teacher(str(digits_teacher)), load_teacher(str(extra))]
    ensemble = EnsembleTeacher(members, [0.5, 0.5], [None, None], "weighted_ensemble", align=True, primary=0)
    ensemble.align_data(data)
    assert ensemble.member_logits(data.subset(np.arange(5)))[1].shape == (5, 10)
    # the other way round: the classes are the primary's, and the other teacher lacks one of them
    backwards = EnsembleTeacher(members[::-1], [0.5, 0.5], [None, None], "weighted_ensemble", align=True, primary=0)
    with pytest.raises(BadInput, match="has no label 'not-a-digit'"):
        backwards.align_data(load_data(str(digits_csv)))


def test_calibration_fits_the_temperature_that_makes_the_labels_most_likely():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 4000)
    true_logits = rng.normal(size=(4000, 3))
    true_logits[np.arange(4000), labels] += 1.0
    # labels drawn from softmax(true_logits); a teacher whose logits are 3x too sharp wants T = 3
    probs = _softmax(true_logits)
    drawn = np.array([rng.choice(3, p=p) for p in probs])
    assert fit_temperature(3 * true_logits, drawn) == pytest.approx(3.0, rel=0.15)


def test_an_ensemble_refuses_what_it_cannot_do(digits_teacher, second_teacher):
    members = [{"teacher": str(digits_teacher), "weight": 0.5}, {"teacher": str(second_teacher), "weight": 0.5}]
    with pytest.raises(ValueError, match="augment"):
        _config(digits_teacher, members, augment=True)
    with pytest.raises(ValueError, match="must be one of the ensemble"):
        DistillConfig(teacher="elsewhere", ensemble=EnsembleConfig(members=members))
    with pytest.raises(ValueError, match="sum to 1"):
        EnsembleConfig(members=[{"teacher": "a", "weight": 0.5}, {"teacher": "b", "weight": 0.4}])
    with pytest.raises(ValueError, match="over HTTP"):
        EnsembleConfig(members=[{"teacher": "a", "weight": 0.5}, {"teacher": "openai:gpt-4", "weight": 0.5}])
    with pytest.raises(ValueError, match="domain_routing needs a domain"):
        EnsembleConfig(members=members, fusion="domain_routing")


def _softmax(z):
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


@pytest.fixture(scope="module")
def other_text_teacher(tmp_path_factory):
    """A second text teacher with its own tokenizer (another vocabulary order) and its labels the other
    way round: it can join an ensemble only through knowledge alignment."""
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    from tests.engine.conftest import FILLER, NEGATIVE, POSITIVE, sentiment_sentences, train_and_save_bert

    folder = tmp_path_factory.mktemp("teachers") / "tiny-bert-other"
    folder.mkdir()
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + sorted(set(POSITIVE + NEGATIVE + FILLER), reverse=True)
    tokenizer = BertTokenizerFast(vocab={token: i for i, token in enumerate(vocab)}, do_lower_case=True)
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=64, id2label={0: "positive", 1: "negative"},
                        label2id={"positive": 0, "negative": 1})
    train_and_save_bert(BertForSequenceClassification, config, tokenizer, sentiment_sentences(600, seed=3), folder)
    return folder


def test_two_text_teachers_with_their_own_tokenizers_and_label_orders_teach_one_student(tmp_path, tiny_bert_teacher,
                                                                                     other_text_teacher, reviews_csv):
    members = [{"teacher": str(tiny_bert_teacher), "weight": 0.5}, {"teacher": str(other_text_teacher), "weight": 0.5}]
    with pytest.raises(BadInput, match="set knowledge_alignment"):
        run_distillation(DistillConfig(teacher=str(tiny_bert_teacher), data=str(reviews_csv), search="off", epochs=2,
                                       ensemble={"members": members}), tmp_path / "plain")
    config = DistillConfig(teacher=str(tiny_bert_teacher), data=str(reviews_csv), search="off", epochs=8,
                           target_size="large", optimization_target="accuracy", exports=["onnx"],
                           ensemble={"members": members, "align": True})
    report = run_distillation(config, tmp_path / "aligned")
    ensemble = report["teacher"]["ensemble"]
    assert [m["kind"] for m in ensemble["members"]] == ["huggingface", "huggingface"]
    assert all(m["accuracy"] > 0.7 for m in ensemble["members"])  # the reversed labels mapped back
    assert all(m["temperature"] > 0 for m in ensemble["members"]) and ensemble["knowledge_alignment"]
    assert report["backend"] == "transformers" and report["exports"]["onnx"]["verified"]
    assert report["student"]["accuracy"] > 0.6
