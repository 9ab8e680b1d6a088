"""Checks before training: personal data, labels, class balance, the teacher's risk."""

from __future__ import annotations

import json

import numpy as np
import pytest

from prsm.engine.checks.config import ChecksConfig
from prsm.engine.checks.data_checks import class_imbalance_check, label_sanity_check, pii_check, redact_texts
from prsm.engine.checks.pii import find_pii, iban_valid, luhn_valid, redact, scan
from prsm.engine.checks.teacher_risk import teacher_risk_check
from prsm.engine.data.types import TaskData

CARD = "4111 1111 1111 1111"        # a Luhn-valid test card number
NOT_A_CARD = "4111 1111 1111 1112"  # one digit off: fails Luhn
IBAN = "GB82 WEST 1234 5698 7654 32"  # the ISO 13616 example
BAD_IBAN = "GB82 WEST 1234 5698 7654 33"


def test_luhn_and_mod_97_tell_real_numbers_from_lookalikes():
    assert luhn_valid(CARD) and not luhn_valid(NOT_A_CARD)
    assert iban_valid(IBAN) and not iban_valid(BAD_IBAN)


def test_it_finds_each_kind_of_personal_data_and_nothing_in_plain_text():
    text = f"mail ada@example.org or call +44 20 7946 0958, card {CARD}, iban {IBAN}"
    assert sorted(f.kind for f in find_pii(text)) == ["card", "email", "iban", "phone"]
    assert find_pii(f"order {NOT_A_CARD} shipped in 2019, a great film") == []


def test_examples_are_masked_and_redaction_replaces_every_finding():
    texts = [f"pay with {CARD}", "write to bob.smith@mail.example.com", "nothing here"]
    found = scan(texts)
    assert found["texts_with_pii"] == 2 and found["counts"]["card"] == 1 and found["counts"]["email"] == 1
    shown = json.dumps(found["examples"])
    assert "4111 1111" not in shown and "bob.smith" not in shown
    assert redact(texts[0]) == "pay with [CARD]" and redact(texts[1]) == "write to [EMAIL]"


def _text_data(texts, labels):
    classes = sorted(set(labels))
    return TaskData(task="text", classes=classes, labels=[classes.index(x) for x in labels], texts=texts, sha256="abc")


def test_the_pii_check_fails_on_personal_data_unless_it_is_redacted():
    texts = [f"call me on 020 7946 0958 about the film {i}" for i in range(3)] + ["a fine film"] * 7
    config = ChecksConfig()
    failed = pii_check(texts, config)
    assert not failed["passed"] and failed["score"] == pytest.approx(0.3) and "3 phone numbers" in failed["detail"]
    assert pii_check(texts, config, redacted=True)["passed"]
    assert pii_check(["a fine film"] * 10, config)["passed"]
    clean = redact_texts(_text_data(texts, ["pos"] * 5 + ["neg"] * 5))
    assert scan(clean.texts)["texts_with_pii"] == 0 and clean.sha256 != "abc"


def test_label_sanity_flags_conflicting_duplicates_and_tiny_classes():
    config = ChecksConfig()
    good = _text_data([f"review {i}" for i in range(20)], ["pos", "neg"] * 10)
    assert label_sanity_check(good, config)["passed"]
    conflicting = _text_data(["same words"] * 4 + [f"review {i}" for i in range(16)], ["pos", "neg"] * 10)
    record = label_sanity_check(conflicting, config)
    assert not record["passed"] and record["conflicting_inputs"] == 4
    lonely = _text_data([f"review {i}" for i in range(11)], ["pos"] * 10 + ["rare"])
    assert "'rare' has 1 example" in label_sanity_check(lonely, config)["detail"]


def test_class_imbalance_is_the_ratio_of_largest_to_smallest_class():
    data = TaskData(task="tabular", classes=["a", "b"], labels=[0] * 90 + [1] * 3, features=np.zeros((93, 2), np.float32))
    record = class_imbalance_check(data, ChecksConfig())
    assert record["score"] == pytest.approx(30) and not record["passed"]
    assert class_imbalance_check(data, ChecksConfig(max_class_imbalance=50))["passed"]


class _Teacher:
    def __init__(self, path):
        self.path = path


def test_teacher_risk_reads_the_model_card_and_flags_restricted_licences_and_domains(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"architectures": ["BertForSequenceClassification"]}))
    (tmp_path / "README.md").write_text("---\nlicense: cc-by-nc-4.0\ntags:\n  - sentiment\n---\n# a model\n")
    config = ChecksConfig()
    record = teacher_risk_check(_Teacher(tmp_path), config, domain="movie reviews")
    assert not record["passed"] and record["licence"] == "cc-by-nc-4.0" and "restricts use" in record["detail"]
    (tmp_path / "README.md").write_text("---\nlicense: apache-2.0\n---\n")
    assert teacher_risk_check(_Teacher(tmp_path), config, domain="movie reviews")["passed"]
    medical = teacher_risk_check(_Teacher(tmp_path), config, domain="medical triage notes")
    assert not medical["passed"] and "moderator" in medical["detail"]
    assert teacher_risk_check(_Teacher(tmp_path), ChecksConfig(restricted_domains=[]), domain="medical")["passed"]


def test_teacher_risk_reads_a_catalog_card_intended_use(tmp_path):
    (tmp_path / "catalog.json").write_text(json.dumps({"name": "x", "intended_use": "biometric face recognition"}))
    record = teacher_risk_check(_Teacher(tmp_path), ChecksConfig())
    assert not record["passed"] and "biometric" in record["detail"]
