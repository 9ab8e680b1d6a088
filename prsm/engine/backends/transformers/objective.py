"""The transformer student's objective: logit distillation, plus hidden-state and attention
transfer from mapped teacher layers when asked (these need the teacher online)."""

from __future__ import annotations

import torch
from torch import nn

from ...losses import attention_loss, distillation_loss, hidden_state_loss


class TransformerObjective(nn.Module):
    """KD on logits (Hinton et al., 2015) + hidden states (TinyBERT, Jiao et al., 2020) +
    attention (MiniLM, Wang et al., 2020); student layer i learns from teacher layer ``layers[i]``."""

    def __init__(self, teacher_module, layers: list[int], student_hidden: int, teacher_hidden: int,
                 transfer: list[str], temperature: float, alpha: float, teacher_ids=None) -> None:
        super().__init__()
        # a student with a trimmed vocabulary numbers its tokens differently: teacher_ids[i] is the
        # teacher's id for the student's token i (the tokens themselves are the same)
        self.register_buffer("teacher_ids", None if teacher_ids is None else torch.as_tensor(teacher_ids),
                             persistent=False)
        object.__setattr__(self, "teacher", teacher_module)  # not a submodule: never trained or saved
        self.layers, self.temperature, self.alpha = layers, temperature, alpha
        self.hidden, self.attention = "hidden" in transfer, "attention" in transfer
        # a learned map from the student's width to the teacher's, as in TinyBERT
        self.projections = nn.ModuleList(
            nn.Identity() if student_hidden == teacher_hidden else nn.Linear(student_hidden, teacher_hidden, bias=False)
            for _ in (layers if self.hidden else []))

    def forward(self, module, batch, teacher_logits, labels):
        intermediate = self.hidden or self.attention
        out = module(**batch, output_hidden_states=self.hidden, output_attentions=self.attention)
        teacher_out = self._teacher(batch) if intermediate or (teacher_logits is None and self.alpha > 0) else None
        if teacher_logits is None and teacher_out is not None:
            teacher_logits = teacher_out.logits.float()
        loss = distillation_loss(out.logits, teacher_logits, labels, self.temperature, self.alpha)
        mask = batch["attention_mask"]
        if self.hidden:
            loss = loss + sum(hidden_state_loss(project(out.hidden_states[i + 1]), teacher_out.hidden_states[t + 1], mask)
                              for i, (t, project) in enumerate(zip(self.layers, self.projections))) / len(self.layers)
        if self.attention:
            loss = loss + sum(attention_loss(out.attentions[i], teacher_out.attentions[t], mask)
                              for i, t in enumerate(self.layers)) / len(self.layers)
        return loss

    @torch.no_grad()
    def _teacher(self, batch):
        device = batch["input_ids"].device
        if getattr(self, "_teacher_device", None) != device:  # move and switch to eval once, not every step:
            self.teacher.to(device)                            # each walks all of a BERT-sized teacher's modules
            self.teacher.eval()
            object.__setattr__(self, "_teacher_device", device)
        if self.teacher_ids is not None:
            batch = dict(batch, input_ids=self.teacher_ids.to(device)[batch["input_ids"]])
        return self.teacher(**batch, output_hidden_states=self.hidden, output_attentions=self.attention)
