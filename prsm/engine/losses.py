"""Distillation losses."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def soft_target_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """T^2 * KL(softmax(t/T) || softmax(s/T)), averaged over the batch.

    Hinton, Vinyals and Dean, "Distilling the Knowledge in a Neural Network" (2015): the T^2
    factor keeps the soft targets' gradients on the same scale as the hard labels' when T changes.
    """
    log_student = F.log_softmax(student_logits / temperature, dim=-1)
    log_teacher = F.log_softmax(teacher_logits / temperature, dim=-1)
    return F.kl_div(log_student, log_teacher, reduction="batchmean", log_target=True) * temperature**2


def distillation_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor | None, labels: torch.Tensor,
                      temperature: float = 4.0, alpha: float = 0.7) -> torch.Tensor:
    """alpha * T^2 * KL(p_t^T || p_s^T) + (1 - alpha) * CE(s, y)  (Hinton et al., 2015).

    ``alpha = 0`` (or no teacher logits) is plain supervised training on the labels alone: the
    labels-only baseline uses exactly this function. Rows labelled ``-1`` (unlabelled, a transfer
    set) have no hard-label term: each row's loss is its own terms, averaged over the batch, so a
    labelled row weighs the same whatever shares its batch (averaging the cross-entropy over the
    labelled rows alone gave a lone labelled row a whole batch's weight, and training swung).
    """
    hard = F.cross_entropy(student_logits, labels, ignore_index=-1, reduction="sum") / len(labels)
    if teacher_logits is None or alpha == 0:
        return hard
    return alpha * soft_target_loss(student_logits, teacher_logits, temperature) + (1 - alpha) * hard


def hidden_state_loss(student_hidden: torch.Tensor, teacher_hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over real tokens of ||W h_s - h_t||^2 / d, the hidden-state transfer of TinyBERT
    (Jiao et al., 2020) and FitNets' hints (Romero et al., 2015); W is applied by the caller."""
    mask = mask.unsqueeze(-1).to(student_hidden.dtype)
    squared = ((student_hidden - teacher_hidden) ** 2) * mask
    return squared.sum() / (mask.sum() * student_hidden.shape[-1]).clamp_min(1)


def attention_loss(student_attention: torch.Tensor, teacher_attention: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """KL(A_t || A_s) between head-averaged attention distributions over real query tokens.

    MiniLM (Wang et al., 2020) and TinyBERT transfer self-attention; averaging over heads lets a
    student with fewer heads than its teacher learn the teacher's attention pattern.
    """
    student = student_attention.mean(dim=1).clamp_min(1e-9)
    teacher = teacher_attention.mean(dim=1).clamp_min(1e-9)
    per_query = (teacher * (teacher.log() - student.log())).sum(-1)
    mask = mask.to(per_query.dtype)
    return (per_query * mask).sum() / mask.sum().clamp_min(1)
