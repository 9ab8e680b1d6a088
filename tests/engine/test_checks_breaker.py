"""The circuit breaker: its rules on constructed readings, and a real run it stops on a NaN loss."""

from __future__ import annotations

import json
import math

import pytest

from prsm.engine.checks import ChecksConfig, CircuitBreaker, CircuitBreakerTripped
from prsm.engine.checks.breaker import BreakerCallback
from prsm.engine.errors import BadInput
from prsm.engine.pipeline import DistillConfig, run_distillation


def test_a_nan_or_infinite_loss_trips_it():
    for bad in (math.nan, math.inf):
        breaker = CircuitBreaker(ChecksConfig())
        breaker.observe_loss(1.0, step=1)
        breaker.observe_loss(bad, step=2)
        assert breaker.tripped["reason"] == "nan_or_inf_loss" and not breaker.tripped["passed"]
        assert breaker.tripped["step"] == 2


def test_divergence_trips_it_but_ordinary_noise_does_not():
    noisy = CircuitBreaker(ChecksConfig())
    for loss in [2.3, 1.5, 0.9, 0.6, 0.8, 0.5, 0.7, 0.4, 0.6]:
        noisy.observe_loss(loss)
    assert noisy.tripped is None and noisy.record()["passed"]
    diverging = CircuitBreaker(ChecksConfig())
    for loss in [2.3, 1.0, 0.5, 0.4, 5.0, 40.0, 300.0]:
        diverging.observe_loss(loss)
    assert diverging.tripped["reason"] == "divergence"


def test_a_sudden_drop_in_agreement_with_the_teacher_trips_it():
    breaker = CircuitBreaker(ChecksConfig(max_agreement_drop=0.2))
    for epoch, agreement in enumerate([0.5, 0.8, 0.85, 0.82], 1):
        breaker.observe_validation(agreement, epoch)
    assert breaker.tripped is None
    breaker.observe_validation(0.4, 5)
    assert breaker.tripped["reason"] == "agreement_drop" and breaker.tripped["score"] == pytest.approx(0.45)


def test_the_callback_forwards_events_without_nans_and_asks_to_stop_once_tripped():
    seen = []

    class Inner:
        def on_event(self, event):
            seen.append(event)

        def should_stop(self):
            return False

    callback = BreakerCallback(CircuitBreaker(ChecksConfig()), Inner())
    callback.on_event({"type": "progress", "step": 3, "metrics": {"loss": math.nan}})
    assert callback.should_stop() and seen[0]["metrics"]["loss"] is None
    assert issubclass(CircuitBreakerTripped, BadInput)


def test_a_real_run_whose_loss_turns_nan_is_stopped_with_the_reason(tmp_path, digits_teacher, digits_csv, monkeypatch):
    from prsm.engine.training import loop

    original, calls = loop.LogitObjective.forward, {"n": 0}

    def poisoned(self, module, batch, teacher_logits, labels):
        calls["n"] += 1
        loss = original(self, module, batch, teacher_logits, labels)
        return loss * math.nan if calls["n"] >= 4 else loss

    monkeypatch.setattr(loop.LogitObjective, "forward", poisoned)
    config = DistillConfig(teacher=str(digits_teacher), data=str(digits_csv), max_train_examples=200, epochs=3,
                           exports=["safetensors"])
    with pytest.raises(CircuitBreakerTripped) as tripped:
        run_distillation(config, tmp_path)
    check = tripped.value.check
    assert check["reason"] == "nan_or_inf_loss" and check["phase"] == "during" and "nan" in str(tripped.value)
    assert calls["n"] < 20  # stopped within the first epoch's steps, not at the end of training
    written = json.loads((tmp_path / "safety-trip.json").read_text())
    assert written["check"]["reason"] == "nan_or_inf_loss" and "label_sanity" in written["checks"]
    assert not (tmp_path / "checkpoints" / "student.pt").exists()
    assert not (tmp_path / "report.json").exists()
