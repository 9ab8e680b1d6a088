"""The distillation loss of Hinton et al. (2015), checked against its definition."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from prsm.engine.losses import distillation_loss, soft_target_loss


def test_the_soft_target_term_is_zero_when_student_and_teacher_agree():
    logits = torch.randn(8, 5)
    assert soft_target_loss(logits, logits.clone(), temperature=3.0).abs() < 1e-6


def test_the_soft_target_term_is_t_squared_times_the_kl_of_the_softened_distributions():
    student, teacher = torch.randn(4, 3), torch.randn(4, 3)
    t = 2.5
    p, q = F.softmax(teacher / t, -1), F.softmax(student / t, -1)
    expected = (p * (p.log() - q.log())).sum(-1).mean() * t**2
    assert torch.allclose(soft_target_loss(student, teacher, t), expected, atol=1e-6)


def test_alpha_zero_is_plain_cross_entropy_on_the_labels():
    student, teacher, labels = torch.randn(6, 4), torch.randn(6, 4), torch.randint(0, 4, (6,))
    assert torch.allclose(distillation_loss(student, teacher, labels, 4.0, 0.0), F.cross_entropy(student, labels))


def test_alpha_weighs_the_two_terms():
    student, teacher, labels = torch.randn(6, 4), torch.randn(6, 4), torch.randint(0, 4, (6,))
    soft, hard = soft_target_loss(student, teacher, 4.0), F.cross_entropy(student, labels)
    assert torch.allclose(distillation_loss(student, teacher, labels, 4.0, 0.3), 0.3 * soft + 0.7 * hard)
