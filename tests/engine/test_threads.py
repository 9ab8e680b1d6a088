"""CPU threads chosen by measuring the work (issue 21): the faster count wins, the choice is kept for
the same work, a pass and a training measure on their own first batches and steps without running any
twice, and a resumed training keeps the count its checkpoint recorded."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from prsm.engine.training import threads as threads_module
from prsm.engine.training.loop import LogitObjective, Trainer, TrainData, TrainSettings
from prsm.engine.training.threads import StepProbe, ThreadChoice, forget_choices, run_choosing_threads


@pytest.fixture(autouse=True)
def two_threads(monkeypatch):
    """Two threads available whatever this machine has, and nothing remembered from other tests."""
    monkeypatch.setattr(threads_module, "available_threads", lambda: 2)
    forget_choices()
    yield
    forget_choices()


def _sleeps(slow_on: int, log: list | None = None):
    def run():
        count = torch.get_num_threads()
        if log is not None:
            log.append(count)
        time.sleep(0.02 if count == slow_on else 0.002)
        return count
    return run


def _probe_run(key, slow_on: int, steps: int = 8, log: list | None = None):
    probe = StepProbe(key)
    for _ in range(steps):
        with probe.step():
            _sleeps(slow_on, log)()
    return probe


def test_the_faster_thread_count_wins_and_is_kept_for_the_same_work():
    assert _probe_run("split-well", slow_on=1).choice.threads == 2
    assert _probe_run("split-badly", slow_on=2).choice.threads == 1
    log: list[int] = []
    again = _probe_run("split-well", slow_on=2, log=log)
    assert again.choice.threads == 2 and log == [2] * 8  # remembered: not measured again
    summary = again.choice.summary()
    assert summary["chosen_by"] == "measured" and set(summary["probe_ms"]) == {"1", "2"}
    assert summary["probe_ms"]["2"] < summary["probe_ms"]["1"]
    assert ThreadChoice.from_summary(summary).threads == again.choice.threads  # as a checkpoint keeps it


def test_a_pass_runs_each_batch_once_in_order_and_the_rest_on_the_faster_count():
    log: list[int] = []
    parts = [(lambda i=i: (i, _sleeps(slow_on=1, log=log)())) for i in range(20)]
    out, choice = run_choosing_threads("pass", parts)
    assert [i for i, _ in out] == list(range(20)) and len(log) == 20
    assert choice.threads == 2
    # a warm-up on every thread, one timed pair (the other count first): 10x apart decides, then the faster
    assert log[:3] == [2, 1, 2] and set(log[3:]) == {2}
    short, none = run_choosing_threads("short pass", parts[:5])  # too short to measure: as torch is set
    assert len(short) == 5 and none is None


def test_close_counts_take_a_second_pair_in_the_other_order_and_the_warm_up_starts_on_the_last_choice():
    def steady(ms_at: dict, log: list):
        def run():
            count = torch.get_num_threads()
            log.append(count)
            time.sleep(ms_at[count] / 1000)
        return run

    close: list[int] = []
    probe = StepProbe("close")
    for _ in range(8):
        with probe.step():
            steady({1: 12, 2: 10}, close)()  # 1.2x apart: not decisive on one pair
    assert close[:5] == [2, 1, 2, 2, 1] and set(close[5:]) == {2}
    assert len(probe.times[1]) == len(probe.times[2]) == 2

    after: list[int] = []
    _probe_run("one thread wins", slow_on=2)
    probe = StepProbe("next work")
    for _ in range(6):
        with probe.step():
            steady({1: 2, 2: 20}, after)()
    assert after[:3] == [1, 2, 1] and set(after[3:]) == {1}  # warmed up on the last choice: one slow step in all


def test_a_training_chooses_on_its_own_first_steps_and_a_resumed_one_keeps_the_choice(tmp_path):
    from prsm.engine.adapters import TensorAdapter
    from prsm.engine.errors import Cancelled
    from prsm.engine.training.callbacks import Reporter

    rng = np.random.default_rng(0)
    x = rng.normal(size=(512, 8)).astype(np.float32)
    labels = (x[:, 0] > 0).astype(np.int64)

    def trainer(reporter=None):
        torch.manual_seed(0)
        module = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
        return Trainer(module, TensorAdapter(), LogitObjective(TensorAdapter(), 4.0, 0.0),
                       TrainSettings(epochs=2, batch_size=32, checkpoint_every=4), tmp_path / "run.pt", reporter)

    class StopAt(Reporter):
        steps_seen = 0

        def should_stop(self) -> bool:
            self.steps_seen += 1
            return self.steps_seen >= 10

    data, validation = TrainData({"x": x}, labels), TrainData({"x": x[:64]}, labels[:64])
    with pytest.raises(Cancelled):
        trainer(StopAt()).fit(data, validation)
    stopped = torch.load(tmp_path / "run.pt", weights_only=True)["state"]
    assert stopped["global_step"] == 10 and stopped["threads"]["threads"] in (1, 2)
    forget_choices()  # as in a new process: nothing remembered, only what the checkpoint says
    result = trainer().fit(data, validation)
    assert result.resumed_from_step == 10
    assert result.threads == stopped["threads"]  # not measured again
    assert set(result.threads["probe_ms"]) == {"1", "2"}


def test_a_training_records_the_threads_it_ran_on(tmp_path):
    from prsm.engine.adapters import TensorAdapter

    rng = np.random.default_rng(1)
    x = rng.normal(size=(256, 8)).astype(np.float32)
    labels = (x[:, 0] > 0).astype(np.int64)
    module = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
    trainer = Trainer(module, TensorAdapter(), LogitObjective(TensorAdapter(), 4.0, 0.0),
                      TrainSettings(epochs=2, batch_size=32, checkpoint_every=None))
    result = trainer.fit(TrainData({"x": x}, labels), TrainData({"x": x[:64]}, labels[:64]))
    assert result.threads["threads"] in (1, 2) and result.threads["chosen_by"] == "measured"
    assert set(result.threads["probe_ms"]) == {"1", "2"}


def test_a_teachers_pass_measured_on_its_own_batches_gives_every_row_its_own_logits(tiny_bert_teacher, reviews_csv):
    from prsm.engine.adapters import predict_logits
    from prsm.engine.data.loaders import load_data
    from prsm.engine.teachers import load_teacher

    teacher = load_teacher(str(tiny_bert_teacher))
    inputs = teacher.encode(load_data(str(reviews_csv)))
    assert len(set(inputs["attention_mask"].sum(axis=1))) > 1  # rows of several lengths: sorted, then put back
    whole = predict_logits(teacher.module, teacher.adapter, inputs, 256)
    measured = teacher.logits_of(inputs, batch_size=4)  # enough batches to measure on
    assert teacher.thread_choice is not None and teacher.thread_choice.threads in (1, 2)
    np.testing.assert_allclose(measured, whole, rtol=1e-4, atol=1e-5)
