"""Early stopping waits until the student has learnt something: epochs spent at the level of
always answering the commonest class do not use up the patience; once it beats that, they do."""

from __future__ import annotations

import numpy as np
import torch

from prsm.engine.adapters import TensorAdapter
from prsm.engine.training.loop import LogitObjective, Trainer, TrainData, TrainSettings

ROWS = 64


class Frozen(torch.nn.Module):
    """Fixed logits from the first feature: no trainable effect on the answers (lr 0)."""

    def __init__(self, sign: float) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.tensor([sign]))

    def forward(self, x):
        score = x[:, :1] * self.weight
        return torch.cat([-score, score], dim=1)


def _fit(tmp_path, sign: float, epochs: int = 8, patience: int = 2):
    x = np.linspace(-1, 1, ROWS, dtype=np.float32).reshape(-1, 1)
    labels = (x[:, 0] > 0).astype(np.int64)
    settings = TrainSettings(epochs=epochs, batch_size=16, patience=patience, learning_rate=0.0, weight_decay=0.0)
    objective = LogitObjective(TensorAdapter(), settings.temperature, alpha=0.0)
    trainer = Trainer(Frozen(sign), TensorAdapter(), objective, settings, tmp_path / "student.pt")
    return trainer.fit(TrainData({"x": x}, labels), TrainData({"x": x}, labels))


def test_a_student_that_never_beats_the_commonest_class_trains_every_epoch(tmp_path):
    stuck = _fit(tmp_path, sign=0.0)  # all logits equal: always class 0, half right
    assert [h["val_accuracy"] for h in stuck.history] == [0.5] * 8
    assert not stuck.stopped_early


def test_a_student_that_has_learnt_and_stops_improving_stops_after_its_patience(tmp_path):
    learnt = _fit(tmp_path, sign=1.0)  # right on every row from the start, and never better
    assert learnt.history[0]["val_accuracy"] == 1.0
    assert learnt.stopped_early and len(learnt.history) == 3  # the best epoch, then patience 2
