"""The circuit breaker on spending: the meter's price rule, a budget that runs out at a known step,
one spent before training starts, and one with room to spare recorded in the report."""

from __future__ import annotations

import json
import time

import pytest

from prsm.engine.checks import ChecksConfig, CircuitBreakerTripped
from prsm.engine.checks import spending
from prsm.engine.checks.spending import Budget, SpendingMeter
from prsm.engine.pipeline import DistillConfig, run_distillation

FTNS = 1_000_000  # units


def _config(teacher, data, budget: Budget, **fields) -> DistillConfig:
    # search off: the steps counted here are the final training's (tests/engine/test_search.py has a budget
    # that runs out during the search)
    fields = {"max_train_examples": 200, "epochs": 6, "patience": 10, "exports": ["safetensors"], "search": "off",
              **fields}
    return DistillConfig(teacher=str(teacher), data=str(data), budget=budget, **fields)


def test_the_meter_charges_fixed_fees_plus_the_hourly_rate_rounded_half_up(monkeypatch):
    now = [100.0]
    monkeypatch.setattr(spending, "clock", lambda: now[0])
    meter = SpendingMeter(Budget(limit_units=1_000 * FTNS, fixed_units=180 * FTNS, compute_hour_units=3_600), run_started=100.0)

    assert meter.read() == 180 * FTNS
    now[0] = 102.5  # 3,600 units an hour is one a second: 2.5 rounds half up to 3
    assert meter.read() == 180 * FTNS + 3
    assert meter.over("at step 1") is None
    assert (meter.shown(1_000 * FTNS), meter.shown(1_000 * FTNS + 250_000)) == ("1,000", "1,000.25")


def test_a_budget_that_runs_out_stops_training_at_a_known_step_and_says_why(tmp_path, digits_teacher, digits_csv,
                                                                            monkeypatch):
    # every reading of the clock is an hour later: 60 FTNS an hour makes each training step cost 60 FTNS,
    # the reading before training included, so 600 FTNS are reached at the 10th reading: step 9
    readings = [0]

    def an_hour_per_reading():
        readings[0] += 1
        return time.perf_counter() + 3600 * readings[0]

    monkeypatch.setattr(spending, "clock", an_hour_per_reading)
    budget = Budget(limit_units=600 * FTNS, compute_hour_units=60 * FTNS)

    with pytest.raises(CircuitBreakerTripped, match=r"spending reached 600(\.\d\d)? of the 600 FTNS budget at step 9$") as tripped:
        run_distillation(_config(digits_teacher, digits_csv, budget), tmp_path)

    check = tripped.value.check
    assert (check["reason"], check["phase"], check["step"], check["passed"]) == ("over_budget", "during", 9, False)
    assert check["budget_units"] == 600 * FTNS <= check["spent_units"] < 601 * FTNS
    written = json.loads((tmp_path / "safety-trip.json").read_text())
    assert written["check"]["detail"] == check["detail"] and written["checks"]["circuit_breaker"]["reason"] == "over_budget"
    assert not (tmp_path / "report.json").exists()
    assert not (tmp_path / "checkpoints" / "student.pt").exists()


def test_a_budget_spent_before_training_stops_the_run_before_its_first_step_even_with_checks_off(
        tmp_path, digits_teacher, digits_csv):
    steps = []

    class Watcher:
        def on_event(self, event):
            if event.get("step"):
                steps.append(event["step"])

        def should_stop(self):
            return False

    budget = Budget(limit_units=180 * FTNS, fixed_units=180 * FTNS)
    config = _config(digits_teacher, digits_csv, budget, checks=ChecksConfig(enabled=False))

    with pytest.raises(CircuitBreakerTripped, match="spending reached 180 of the 180 FTNS budget before training"):
        run_distillation(config, tmp_path, callback=Watcher())
    assert steps == []


def test_a_run_within_its_budget_records_what_it_spent(tmp_path, digits_teacher, digits_csv):
    budget = Budget(limit_units=1_000 * FTNS, fixed_units=180 * FTNS, compute_hour_units=25 * FTNS)

    report = run_distillation(_config(digits_teacher, digits_csv, budget, epochs=2), tmp_path)

    record = report["checks"]["circuit_breaker"]
    assert record["passed"] and record["budget_units"] == 1_000 * FTNS
    assert 180 * FTNS < record["spent_units"] < 181 * FTNS  # well under a minute at 25 FTNS an hour
    assert "of the 1,000 FTNS budget by the end of training" in record["detail"]
