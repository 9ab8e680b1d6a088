"""Checkpoints by step count, by time, or whichever comes first; how often they are written never
changes the weights or stops a run from resuming."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from prsm.engine.adapters import TensorAdapter
from prsm.engine.config import DistillConfig
from prsm.engine.errors import Cancelled
from prsm.engine.training import loop
from prsm.engine.training.callbacks import Reporter
from prsm.engine.training.loop import LogitObjective, Trainer, TrainData, TrainSettings

ROWS, BATCH, EPOCHS = 96, 16, 2  # 6 steps an epoch, 12 in all


@pytest.fixture
def saves(monkeypatch):
    """The global step of every checkpoint the trainer writes."""
    steps: list[int] = []
    real = loop.save_atomic

    def counting(state, path):
        steps.append(state["state"]["global_step"])
        real(state, path)

    monkeypatch.setattr(loop, "save_atomic", counting)
    return steps


class StopAt:
    def __init__(self, step: int) -> None:
        self.step, self.seen = step, 0

    def on_event(self, event: dict) -> None:
        self.seen = event.get("step", self.seen)

    def should_stop(self) -> bool:
        return self.seen >= self.step


def fit(folder, reporter: Reporter | None = None, **interval):
    rng = np.random.default_rng(0)
    x, labels = rng.normal(size=(ROWS, 4)).astype(np.float32), rng.integers(0, 2, ROWS)
    torch.manual_seed(0)
    module = torch.nn.Linear(4, 2)
    settings = TrainSettings(epochs=EPOCHS, batch_size=BATCH, patience=EPOCHS, **interval)
    objective = LogitObjective(TensorAdapter(), settings.temperature, alpha=0.0)
    trainer = Trainer(module, TensorAdapter(), objective, settings, folder / "student.pt", reporter)
    return trainer.fit(TrainData({"x": x}, labels), TrainData({"x": x[:16]}, labels[:16]))


def test_an_explicit_step_count_checkpoints_every_n_steps(tmp_path, saves):
    fit(tmp_path, checkpoint_every=5, checkpoint_seconds=None)
    assert saves == [5, 10, 12]  # and once at the end


def test_a_long_time_interval_writes_only_the_final_checkpoint(tmp_path, saves):
    fit(tmp_path, checkpoint_every=None, checkpoint_seconds=3600)
    assert saves == [12]


def test_a_short_time_interval_checkpoints_every_step(tmp_path, saves):
    fit(tmp_path, checkpoint_every=None, checkpoint_seconds=1e-9)
    assert saves == list(range(1, 13)) + [12]


def test_the_interval_changes_neither_the_weights_nor_whether_a_checkpoint_resumes(tmp_path, saves):
    straight = fit(tmp_path / "straight", checkpoint_every=5, checkpoint_seconds=None).module
    with pytest.raises(Cancelled):
        fit(tmp_path / "stopped", Reporter(StopAt(7)), checkpoint_every=5, checkpoint_seconds=None)
    resumed = fit(tmp_path / "stopped", checkpoint_every=None, checkpoint_seconds=60)
    assert resumed.resumed_from_step >= 7  # resumed, from the stop, not from a fresh start
    assert all(torch.equal(a, b) for a, b in zip(straight.state_dict().values(), resumed.module.state_dict().values()))


def test_the_config_checkpoints_by_time_unless_told_otherwise():
    config = DistillConfig(teacher="t")
    assert config.checkpoint_every is None and config.checkpoint_seconds == 60
    assert "checkpoint_seconds" not in config.training_fingerprint()


def test_the_command_line_takes_seconds_and_zero_turns_them_off():
    from prsm.cli import _config_fields, build_parser

    def fields(*flags):
        return _config_fields(build_parser().parse_args(["distill", "--teacher", "t", *flags]))

    assert fields()["checkpoint_seconds"] == 60 and fields()["checkpoint_every"] is None
    assert fields("--checkpoint-seconds", "0", "--checkpoint-every", "50")["checkpoint_seconds"] is None
    assert fields("--checkpoint-seconds", "5")["checkpoint_seconds"] == 5
