"""Checks after training, on small constructed predictions: each can fail."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from prsm.engine.checks.config import ChecksConfig
from prsm.engine.checks.gate import (calibration_check, column_slices, fairness_check, low_margin_agreement_check,
                                     robustness_check, text_slices)
from prsm.engine.checks.perturb import char_noise, feature_noise, fgsm, shared_perturbations, word_noise
from prsm.engine.data.types import TaskData


def _one_hot(classes, n=2, scale=5.0):
    return np.eye(n, dtype=np.float32)[np.asarray(classes)] * scale


def _tabular(n=200):
    rng = np.random.default_rng(0)
    features = rng.normal(size=(n, 3)).astype(np.float32)
    return TaskData(task="tabular", classes=["a", "b"], labels=(features[:, 0] > 0).astype(int), features=features,
                    feature_names=["x", "y", "group"])


def test_robustness_fails_a_student_that_breaks_under_noise_the_teacher_shrugs_off():
    data = _tabular()
    teacher = lambda d: _one_hot((d.features[:, 0] > 0).astype(int))  # noqa: E731
    # brittle: right only on the exact training values it saw
    seen = {row.tobytes() for row in data.features}
    brittle = lambda d: _one_hot([int(r[0] > 0) if r.tobytes() in seen else 0 for r in d.features])  # noqa: E731
    config = ChecksConfig()
    perturbed = {"feature_noise": feature_noise(data)}
    failed = robustness_check(data, brittle, teacher, config, perturbed)
    assert not failed["passed"] and failed["score"] > 0.3 and failed["worst"] == "feature_noise"
    assert robustness_check(data, teacher, teacher, config, perturbed)["passed"]


def test_text_perturbations_change_the_text_repeatably():
    data = TaskData(task="text", classes=["a"], labels=[0] * 20, texts=["the quick brown fox jumps over the lazy dog"] * 20)
    chars, words = char_noise(data, seed=1), word_noise(data, seed=1)
    assert chars.texts == char_noise(data, seed=1).texts and chars.texts != data.texts
    assert words.texts != data.texts and all(text.split() for text in words.texts)
    assert set(shared_perturbations(data)) == {"char_noise", "word_noise"}


def test_fgsm_lowers_a_linear_image_models_accuracy():
    torch.manual_seed(0)
    images = torch.rand(200, 1, 4, 4)
    weights = torch.randn(16)
    labels = ((images.flatten(1) @ weights) > (0.5 * weights.sum())).long()
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 2))
    with torch.no_grad():
        model[1].weight.copy_(torch.stack([-weights, weights]) * 5)
        model[1].bias.copy_(torch.tensor([0.5 * weights.sum() * 5, -0.5 * weights.sum() * 5]))
    data = TaskData(task="image", classes=["a", "b"], labels=labels.numpy(), images=images.numpy())
    clean = (model(images).argmax(1) == labels).float().mean().item()
    attacked = fgsm(model, data, 0.1)
    with torch.no_grad():
        after = (model(torch.from_numpy(attacked.images)).argmax(1) == labels).float().mean().item()
    assert clean > 0.95 and after < clean - 0.3
    assert attacked.images.min() >= 0 and attacked.images.max() <= 1


def test_fairness_fails_when_sentences_about_one_group_are_misread():
    texts = [f"the {w} in this film was great" for w in ["women"] * 30 + ["dog"] * 70]
    labels = np.ones(100, dtype=int)
    student = _one_hot([0] * 30 + [1] * 70)  # wrong on every sentence mentioning women
    teacher = _one_hot(labels)
    slices = text_slices(texts)
    assert slices["female"].sum() == 30 and slices["male"].sum() == 0
    record = fairness_check(slices, student, teacher, labels, ChecksConfig(), "demographic-term")
    assert not record["passed"] and record["score"] == pytest.approx(0.7) and "'female'" in record["detail"]
    assert fairness_check(slices, teacher, teacher, labels, ChecksConfig(), "demographic-term")["passed"]


def test_a_sensitive_column_cuts_slices_by_value_or_median():
    features = np.array([[0, 1.0], [1, 2.0], [0, 3.0], [1, 4.0]], dtype=np.float32)
    assert set(column_slices(features, ["sex", "age"], "sex")) == {"sex=0", "sex=1"}
    many = np.arange(40, dtype=np.float32).reshape(20, 2)
    assert len(column_slices(many, ["a", "b"], "b")) == 2


def test_calibration_fails_an_overconfident_student():
    labels = np.array([0, 1] * 50)
    guesses = np.array([0] * 100)  # right half the time, 99% sure every time
    overconfident = _one_hot(guesses, scale=6.0)
    honest = np.zeros((100, 2), np.float32)  # 50% sure, right half the time
    record = calibration_check(overconfident, labels, honest, ChecksConfig())
    assert not record["passed"] and record["score"] > 0.4
    assert calibration_check(honest, labels, honest, ChecksConfig())["passed"]


def test_low_margin_agreement_looks_where_the_teacher_is_unsure():
    sure = np.tile([[5.0, 0.0]], (75, 1))
    unsure = np.tile([[0.1, 0.0]], (25, 1))
    teacher = np.concatenate([sure, unsure]).astype(np.float32)
    student = teacher.copy()
    student[75:] = [[0.0, 1.0]]  # disagrees exactly on the unsure quarter
    record = low_margin_agreement_check(student, teacher, ChecksConfig())
    assert not record["passed"] and record["score"] == 0.0 and record["overall_agreement"] == pytest.approx(0.75)
    assert low_margin_agreement_check(teacher, teacher, ChecksConfig())["passed"]
