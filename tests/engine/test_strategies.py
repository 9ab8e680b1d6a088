"""Training strategies beyond basic distillation, end to end on digits through the engine:
curriculum (easy rows first), adversarial (robust distillation on PGD perturbations) and
progressive (a teacher assistant between teacher and student)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from prsm.engine.errors import BadInput, Cancelled
from prsm.engine.pipeline import DistillConfig, run_distillation
from prsm.engine.training.strategies import (
    CURRICULUM_START,
    curriculum_rows,
    curriculum_size,
    difficulty_ranks,
    pgd,
)

FAST = {"search": "off", "max_train_examples": 400, "exports": ["safetensors"]}


def _config(teacher, data, **extra) -> DistillConfig:
    return DistillConfig(teacher=str(teacher), data=str(data), **{**FAST, **extra})


def test_rows_are_ranked_from_what_the_teacher_is_surest_of_to_what_it_doubts():
    logits = np.array([[0.0, 3.0], [2.0, 0.0], [0.1, 0.0], [0.0, 5.0]])
    labels = np.array([1, 1, 0, -1])  # row 1: the teacher is wrong; row 3: unlabelled, its own answer counts
    ranks = difficulty_ranks(logits, labels)
    assert list(np.argsort(ranks)) == [3, 0, 2, 1]


def test_the_curriculum_grows_from_the_easiest_share_to_every_row_by_half_way():
    sizes = [curriculum_size(1000, epoch, 10) for epoch in range(10)]
    assert sizes[0] == int(1000 * CURRICULUM_START)
    assert sizes == sorted(sizes) and sizes[5:] == [1000] * 5
    ranks = np.random.default_rng(0).permutation(1000)
    first = curriculum_rows(ranks, 0, 10)
    assert set(ranks[first]) == set(range(300))


def test_pgd_stays_within_epsilon_and_the_bounds_and_raises_the_loss():
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 3)
    x, y = torch.rand(16, 4), torch.randint(0, 3, (16,))

    def loss_at(z):
        return torch.nn.functional.cross_entropy(model(z), y)

    adv = pgd(loss_at, x, 0.05, steps=5, bounds=(0.0, 1.0))
    assert float((adv - x).abs().max()) <= 0.05 + 1e-6
    assert float(adv.min()) >= 0 and float(adv.max()) <= 1
    with torch.no_grad():
        assert float(loss_at(adv)) > float(loss_at(x))


def test_curriculum_trains_on_a_growing_share_and_resumes_exactly(tmp_path, digits_teacher, digits_csv):
    from tests.engine.test_resume import StopAtStep

    basic = run_distillation(_config(digits_teacher, digits_csv), tmp_path / "basic")
    settings = {"strategies": ["curriculum"], "checkpoint_every": 5, "checkpoint_seconds": None}
    straight = run_distillation(_config(digits_teacher, digits_csv, **settings), tmp_path / "straight")
    training = straight["training"]
    assert training["strategies"] == ["curriculum"] and basic["training"]["strategies"] == ["basic"]
    rows = training["curriculum"]["rows_per_epoch"]
    assert rows[0] < rows[-1] and rows == sorted(rows)
    assert rows[0] == -(-rows[-1] * 3 // 10)  # the first epoch: the easiest 30%
    assert straight["student"]["accuracy"] > 0.8
    with pytest.raises(Cancelled):
        run_distillation(_config(digits_teacher, digits_csv, **settings), tmp_path / "stopped", StopAtStep(12))
    resumed = run_distillation(_config(digits_teacher, digits_csv, **settings), tmp_path / "stopped")
    assert resumed["training"]["resumed_from_step"] >= 10
    first = load_file(tmp_path / "straight" / "model" / "model.safetensors")
    second = load_file(tmp_path / "stopped" / "model" / "model.safetensors")
    assert all((first[name] == second[name]).all() for name in first)


def test_adversarial_distillation_holds_up_better_under_attack(tmp_path, digits_teacher, digits_csv):
    epsilon = {"adversarial_epsilon": 0.5}  # half a feature's spread: digits' pixels are 0..16
    basic = run_distillation(_config(digits_teacher, digits_csv, attack_eval=True, **epsilon), tmp_path / "basic")
    robust = run_distillation(_config(digits_teacher, digits_csv, strategies=["adversarial"], **epsilon),
                              tmp_path / "robust")
    attacked, defended = basic["student"]["under_attack"], robust["student"]["under_attack"]
    assert attacked["attack"] == defended["attack"] == "pgd"
    assert attacked["epsilon"] == defended["epsilon"] == pytest.approx(0.5)
    assert robust["training"]["adversarial"]["perturbed_share_of_loss"] == 0.5
    assert basic["student"]["params"] == robust["student"]["params"]
    # measured here: 6% against 33% under the attack, 92.9% against 92.6% clean
    assert defended["accuracy"] > attacked["accuracy"] + 0.15
    assert robust["student"]["accuracy"] > basic["student"]["accuracy"] - 0.03


def test_progressive_distillation_trains_an_assistant_between_teacher_and_student(tmp_path, digits_teacher, digits_csv):
    report = run_distillation(_config(digits_teacher, digits_csv, strategies=["progressive"]), tmp_path / "run")
    progressive = report["training"]["progressive"]
    assert progressive["assistant"] is not None
    assert report["student"]["params"] * 2 <= progressive["assistant_params"] <= report["teacher"]["params"]
    assert progressive["assistant_validation_accuracy"] > 0.8
    assert "assistant" in report["stages"]
    assert report["student"]["accuracy"] > 0.8


def test_strategy_settings_that_cannot_hold_are_refused(digits_teacher, digits_csv):
    with pytest.raises(ValueError, match="augment changes the rows"):
        _config(digits_teacher, digits_csv, strategies=["adversarial"], augment=True)
    with pytest.raises(ValueError, match="add 'adversarial' or attack_eval"):
        _config(digits_teacher, digits_csv, adversarial_epsilon=0.1)


def test_adversarial_text_perturbs_the_students_embeddings_and_is_measured(tmp_path, tiny_bert_teacher, reviews_csv):
    common = {"target_size": "large", "epochs": 3, "search": "off", "exports": ["onnx"]}
    basic = run_distillation(DistillConfig(teacher=str(tiny_bert_teacher), data=str(reviews_csv), attack_eval=True,
                                           adversarial_epsilon=0.5, **common), tmp_path / "basic")
    robust = run_distillation(DistillConfig(teacher=str(tiny_bert_teacher), data=str(reviews_csv),
                                            strategies=["adversarial"], adversarial_epsilon=0.5, **common),
                              tmp_path / "robust")
    for report in (basic, robust):
        attacked = report["student"]["under_attack"]
        assert "embedding" in attacked["epsilon_unit"] and attacked["epsilon"] == 0.5
        assert 0 <= attacked["accuracy"] <= report["student"]["accuracy"] + 1e-9  # an attack never helps
    assert robust["training"]["strategies"] == ["adversarial"] and robust["exports"]["onnx"]["verified"]
    assert robust["student"]["params"] == basic["student"]["params"]


def test_a_transformer_assistant_learns_the_teachers_layers_one_by_one(tmp_path, tiny_bert_teacher, reviews_csv):
    report = run_distillation(DistillConfig(teacher=str(tiny_bert_teacher), data=str(reviews_csv), epochs=3,
                                            search="off", exports=["onnx"], strategies=["progressive"],
                                            layer_count=1, hidden_size=16), tmp_path / "run")
    progressive = report["training"]["progressive"]
    assert progressive["assistant"] is not None, progressive
    assert progressive["assistant_transfer"] == ["logits", "hidden"]  # each of its layers from its teacher layer
    assert report["student"]["params"] * 2 <= progressive["assistant_params"] <= report["teacher"]["params"]
    assert 0 <= progressive["assistant_validation_accuracy"] <= 1 and report["exports"]["onnx"]["verified"]
