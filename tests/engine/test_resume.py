"""A run stopped by its callback resumes from its checkpoint and ends with the same weights as a
run that was never interrupted."""

from __future__ import annotations

import pytest
from safetensors.torch import load_file

from prsm.engine.errors import Cancelled
from prsm.engine.pipeline import DistillConfig, run_distillation


class StopAtStep:
    def __init__(self, step: int) -> None:
        self.step, self.seen = step, 0

    def on_event(self, event: dict) -> None:
        if event["stage"] == "train" and "step" in event:
            self.seen = event["step"]

    def should_stop(self) -> bool:
        return self.seen >= self.step


def config(teacher, data) -> DistillConfig:
    # checkpoints by step count alone, so where they fall does not depend on the machine's speed
    return DistillConfig(teacher=str(teacher), data=str(data), epochs=4, checkpoint_every=7, checkpoint_seconds=None,
                         max_train_examples=400, exports=["safetensors"])


def test_a_resumed_run_ends_with_the_same_weights_as_an_uninterrupted_one(tmp_path, digits_teacher, digits_csv):
    straight = run_distillation(config(digits_teacher, digits_csv), tmp_path / "straight")
    with pytest.raises(Cancelled):
        run_distillation(config(digits_teacher, digits_csv), tmp_path / "stopped", StopAtStep(10))
    assert (tmp_path / "stopped" / "checkpoints" / "student.pt").is_file()
    resumed = run_distillation(config(digits_teacher, digits_csv), tmp_path / "stopped")

    assert resumed["training"]["resumed_from_step"] >= 10
    assert resumed["training"]["steps"] == straight["training"]["steps"]
    first = load_file(tmp_path / "straight" / "model" / "model.safetensors")
    second = load_file(tmp_path / "stopped" / "model" / "model.safetensors")
    assert first.keys() == second.keys()
    assert all((first[name] == second[name]).all() for name in first)
    assert resumed["student"]["accuracy"] == straight["student"]["accuracy"]


def test_a_changed_config_does_not_resume_a_foreign_checkpoint(tmp_path, digits_teacher, digits_csv):
    with pytest.raises(Cancelled):
        run_distillation(config(digits_teacher, digits_csv), tmp_path / "run", StopAtStep(5))
    changed = config(digits_teacher, digits_csv).model_copy(update={"seed": 1})
    report = run_distillation(changed, tmp_path / "run")
    assert report["training"]["resumed_from_step"] is None
