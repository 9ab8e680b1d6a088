"""The search for the best student (issue 17): it picks by validation accuracy, reads the test split
only at the end, resumes where it stopped, and ``search="off"`` trains the rule's pick as before."""

from __future__ import annotations

import time
from dataclasses import fields
from xml.etree import ElementTree

import pytest

from prsm.engine.backends.pytorch import PyTorchBackend
from prsm.engine.backends.pytorch import students as pytorch_students
from prsm.engine.data.types import TaskData
from prsm.engine.errors import Cancelled
from prsm.engine.pipeline import DistillConfig, run_distillation
from prsm.engine.stages import prepare
from prsm.engine.students import search as search_plan
from tests.engine.events import Recorder

pytestmark = pytest.mark.slow

TINY = {"max_train_examples": 300, "epochs": 30, "exports": []}  # trials of 10 epochs, the shortest 1


def _config(teacher, data, **fields) -> DistillConfig:
    return DistillConfig(teacher=str(teacher), data=str(data), **{**TINY, **fields})


def test_the_search_picks_the_better_of_two_designs_where_the_rule_picks_the_worse(tmp_path, monkeypatch,
                                                                                   digits_teacher, digits_csv):
    # By construction: a 64-256-1-10 MLP squeezes every example through one number (it cannot tell
    # ten digits apart), yet has the most parameters, so the accuracy rule picks it; a 64-32-10 MLP can.
    def two(self, teacher, train, base=None, vocabulary_size=None):
        names = list(train.classes)
        return [pytorch_students._candidate("mlp-256x1", pytorch_students._architecture(
                    "mlp", "tabular", names, {"input_dim": 64, "hidden": [256, 1], "dropout": 0.1}), 2, 256),
                pytorch_students._candidate("mlp-32", pytorch_students._architecture(
                    "mlp", "tabular", names, {"input_dim": 64, "hidden": [32], "dropout": 0.1}), 1, 32)]

    monkeypatch.setattr(PyTorchBackend, "candidates", two)
    report = run_distillation(_config(digits_teacher, digits_csv, target_size="large", optimization_target="accuracy"),
                              tmp_path)
    assert report["design"]["chosen"] == "mlp-256x1"  # the rule's pick, by parameters alone
    best = {name: max(t["val_accuracy"] for t in report["search"]["trials"] if t["design"] == name and not t.get("reference"))
            for name in ("mlp-32", "mlp-256x1")}
    assert best["mlp-32"] > best["mlp-256x1"] + 0.2, best
    chosen = report["search"]["trials"][report["search"]["chosen"]]
    assert chosen["design"] == "mlp-32" == report["student"]["candidate"]
    assert report["student"]["params"] == chosen["params"]
    assert report["training"]["temperature"] == chosen["temperature"]
    assert report["training"]["alpha"] == chosen["alpha"]


class _WatchedData(TaskData):
    """The test split, noting the stage that first reads its rows (its length is not its rows)."""

    def __getattribute__(self, name):
        if name in ("labels", "features", "images", "texts", "subset"):
            watch = object.__getattribute__(self, "__dict__").get("_watch")  # None while being made
            if watch is not None:
                watch.reads.append(watch.stage())
        return object.__getattribute__(self, name)

    def __len__(self) -> int:
        return len(object.__getattribute__(self, "labels"))


class _Watch:
    def __init__(self, recorder: Recorder) -> None:
        self.recorder, self.reads = recorder, []

    def stage(self) -> str:
        begun = [e["stage"] for e in self.recorder.events if e["type"] == "stage"]
        return begun[-1] if begun else ""


def test_the_test_split_is_first_read_after_the_student_is_chosen_and_trained(tmp_path, monkeypatch,
                                                                              digits_teacher, digits_csv):
    recorder = Recorder()
    watch = _Watch(recorder)
    real = prepare.stratified_split

    def watched(*args, **kwargs):
        split = real(*args, **kwargs)
        test = _WatchedData(**{f.name: getattr(split.test, f.name) for f in fields(split.test)})
        object.__setattr__(test, "_watch", watch)
        split.test = test
        return split

    monkeypatch.setattr(prepare, "stratified_split", watched)
    report = run_distillation(_config(digits_teacher, digits_csv, baseline=True), tmp_path, recorder)
    assert report["search"]["trials"]
    stages = list(report["stages"])
    assert watch.reads, "the test split was never read"
    first = min(stages.index(stage) for stage in watch.reads)
    assert stages[first] == "teacher_eval"
    assert stages.index("teacher_eval") > max(stages.index(s) for s in ("design", "search", "train", "baseline"))


class _StopAfterTrials(Recorder):
    def __init__(self, trials: int) -> None:
        super().__init__()
        self.trials = trials

    def should_stop(self) -> bool:
        return sum(e["type"] == "trial" for e in self.events) >= self.trials


def _trials(report: dict) -> list[tuple]:
    return [(t["number"], t["design"], t["temperature"], t["alpha"], t["lr_scale"], t["state"], t["epochs"],
             t["val_accuracy"]) for t in report["search"]["trials"]]


def test_a_resumed_search_goes_on_from_the_trials_it_finished_and_picks_the_same_student(tmp_path, digits_teacher,
                                                                                         digits_csv):
    config = _config(digits_teacher, digits_csv)
    whole = run_distillation(config, tmp_path / "whole")
    stopper = _StopAfterTrials(3)
    with pytest.raises(Cancelled):
        run_distillation(config, tmp_path / "resumed", stopper)
    assert sum(e["type"] == "trial" for e in stopper.events) == 3
    recorder = Recorder()
    resumed = run_distillation(config, tmp_path / "resumed", recorder)
    # the three finished trials are not run again; the rest are, and prune and choose as before
    assert sum(e["type"] == "trial" for e in recorder.events) == len(whole["search"]["trials"]) - 3
    assert _trials(resumed) == _trials(whole)
    assert resumed["search"]["chosen"] == whole["search"]["chosen"]
    assert resumed["student"]["accuracy"] == whole["student"]["accuracy"]


def test_search_off_trains_the_rules_pick_with_the_default_settings(tmp_path, digits_teacher, digits_csv):
    recorder = Recorder()
    report = run_distillation(_config(digits_teacher, digits_csv, search="off"), tmp_path, recorder)
    assert "search" not in report and "search" not in report["stages"]
    assert not any(e["type"] == "trial" for e in recorder.events)
    assert report["student"]["candidate"] == report["design"]["chosen"]
    assert (report["training"]["temperature"], report["training"]["alpha"]) == (4.0, 0.7)
    assert report["training"]["learning_rate"] == pytest.approx(3e-3)  # the MLP family's default


def test_settings_the_request_gives_are_kept_and_the_labels_only_trial_is_reported_not_chosen(tmp_path, digits_teacher,
                                                                                             digits_csv):
    report = run_distillation(_config(digits_teacher, digits_csv, temperature=2.0), tmp_path)
    search = report["search"]
    assert {t["temperature"] for t in search["trials"]} == {2.0}
    reference = [t for t in search["trials"] if t.get("reference")]
    assert len(reference) == 1 and reference[0]["alpha"] == 0.0
    assert search["chosen"] != reference[0]["number"]
    assert search["labels_only"]["val_accuracy"] == reference[0]["val_accuracy"]
    assert report["training"]["temperature"] == 2.0
    card = (tmp_path / "MODEL_CARD.md").read_text()
    assert "How this student was chosen" in card and "(search.svg)" in card
    svg = ElementTree.fromstring((tmp_path / "search.svg").read_text())  # well-formed, one point per trial
    circles = svg.findall("{http://www.w3.org/2000/svg}circle")
    assert len(circles) == len(search["trials"]) + 1  # and the ring round the chosen one
    assert f"trial {search['chosen'] + 1}" in svg.find("{http://www.w3.org/2000/svg}desc").text


def test_the_schedule_predicts_the_search_time_within_a_factor_of_two(tmp_path, digits_teacher, digits_csv):
    report = run_distillation(_config(digits_teacher, digits_csv, max_train_examples=600, epochs=40), tmp_path)
    search = report["search"]
    assert search["predicted_seconds"] > 0
    assert 0.5 <= search["seconds"] / search["predicted_seconds"] <= 2.0, search


def test_a_time_limit_stops_the_search_after_the_first_finished_trial(tmp_path, digits_teacher, digits_csv):
    report = run_distillation(_config(digits_teacher, digits_csv, search_seconds=0.001), tmp_path)
    search = report["search"]
    assert search["stopped_by_time_limit"] and len(search["trials"]) == 1
    assert search["chosen"] == 0


def test_the_plan_starts_from_each_design_at_the_defaults_and_holds_what_the_request_fixed():
    level = search_plan.LEVELS["quick"]
    plan = search_plan.trial_plan(["a", "b"], level, seed=3, fixed={"alpha": 0.5})
    assert [(p["design"], p["temperature"], p["alpha"], p["lr_scale"]) for p in plan[:2]] == [
        ("a", 4.0, 0.5, 1.0), ("b", 4.0, 0.5, 1.0)]
    assert {p["alpha"] for p in plan[:-1]} == {0.5} and plan[-1]["reference"] and plan[-1]["alpha"] == 0.0
    assert len(plan) == level.trials + 1 and [p["number"] for p in plan] == list(range(len(plan)))
    assert plan == search_plan.trial_plan(["a", "b"], level, seed=3, fixed={"alpha": 0.5})
    assert plan != search_plan.trial_plan(["a", "b"], level, seed=4, fixed={"alpha": 0.5})
    assert search_plan.expected_cost_factor(search_plan.LEVELS["thorough"], 30) > \
        search_plan.expected_cost_factor(level, 30) > 0
    # rows the search made for itself: every design tries them first, then the rule's pick goes without
    # them, as search="off" trains it
    made = search_plan.trial_plan(["a", "b"], level, seed=3, fixed={}, off={"extra": False})
    assert [(p["design"], p["extra"]) for p in made[:3]] == [("a", True), ("b", True), ("a", False)]
    assert len(made) == level.trials + 1


def test_a_budget_that_runs_out_during_the_search_stops_the_run_with_the_reason(tmp_path, monkeypatch, digits_teacher,
                                                                                digits_csv):
    from prsm.engine.checks import spending
    from prsm.engine.checks.breaker import CircuitBreakerTripped

    readings = [0]

    def an_hour_per_reading():  # each reading of the meter's clock is an hour later: 60 FTNS a step
        readings[0] += 1
        return time.perf_counter() + 3600 * readings[0]

    monkeypatch.setattr(spending, "clock", an_hour_per_reading)
    budget = spending.Budget(limit_units=600 * 1_000_000, compute_hour_units=60 * 1_000_000)
    recorder = Recorder()
    with pytest.raises(CircuitBreakerTripped, match="spending reached 600"):
        run_distillation(_config(digits_teacher, digits_csv, budget=budget), tmp_path, recorder)
    assert recorder.events[-1]["stage"] == "search"


def test_a_transfer_set_is_tried_with_and_without_and_the_choice_is_what_trains(tmp_path, digits_teacher, digits_csv):
    import numpy as np

    from prsm.engine.data.loaders import load_data

    data = load_data(str(digits_csv))
    rows = tmp_path / "more.csv"  # unlabelled rows: the features alone
    np.savetxt(rows, data.features[:400], delimiter=",", fmt="%g", header=",".join(data.feature_names), comments="")
    report = run_distillation(_config(digits_teacher, digits_csv, unlabelled_data=str(rows)), tmp_path / "run")
    trials = report["search"]["trials"]
    assert {t["extra"] for t in trials if not t.get("reference")} == {False, True}
    assert trials[0]["extra"] is True  # the request's own transfer set is used at first, as without a search
    chosen = trials[report["search"]["chosen"]]
    assert report["data"]["unlabelled"]["used"] is chosen["extra"]
    assert report["data"]["unlabelled"]["made_for_the_search"] is False


def test_the_chosen_trials_weights_are_kept_where_the_full_training_ends_lower_on_validation(tmp_path, monkeypatch,
                                                                                              digits_teacher, digits_csv):
    import importlib

    train_stage = importlib.import_module("prsm.engine.stages.train")  # the module: stages exports a function of its name
    real = train_stage.settings_for

    def crippled(run, student, alpha):  # the full training cannot learn: its rate is all but zero
        settings = real(run, student, alpha)
        settings.learning_rate, settings.epochs = 1e-12, 1
        return settings

    monkeypatch.setattr(train_stage, "settings_for", crippled)
    report = run_distillation(_config(digits_teacher, digits_csv, baseline=False), tmp_path)
    search, kept = report["search"], report["training"]["kept_trial"]
    chosen = search["trials"][search["chosen"]]
    final = max(h["val_accuracy"] for h in report["training"]["history"])
    assert final < 0.5 < chosen["val_accuracy"]  # an untrained MLP against a trained one
    assert kept == {"trial": chosen["number"], "val_accuracy": chosen["val_accuracy"], "final_val_accuracy": final}
    assert report["student"]["accuracy"] > 0.7  # the kept weights were the ones evaluated on the test split
    assert f"search trial {chosen['number'] + 1}'s" in (tmp_path / "MODEL_CARD.md").read_text()
    # only the chosen trial's weights stay on disk
    assert sorted(p.name for p in (tmp_path / "checkpoints").glob("trial-*.pt")) == [f"trial-{chosen['number']}.pt"]


def test_the_full_training_is_kept_where_it_scores_at_least_the_chosen_trial(tmp_path, digits_teacher, digits_csv):
    report = run_distillation(_config(digits_teacher, digits_csv, baseline=False), tmp_path)
    chosen = report["search"]["trials"][report["search"]["chosen"]]
    final = max(h["val_accuracy"] for h in report["training"]["history"])
    assert final >= chosen["val_accuracy"]  # 30 epochs against the trial's 10 at most, on digits
    assert report["training"]["kept_trial"] is None


def _done(number: int, val: float, gate: dict | None) -> dict:
    return {"number": number, "design": f"d{number}", "state": "complete", "val_accuracy": val,
            **({"gate": gate} if gate is not None else {})}


def test_the_choice_passes_over_a_trial_that_fails_the_deploy_checks_on_validation():
    designs = {f"d{i}": {"flops": 100 - i} for i in range(3)}
    fails = {"passed": False, "failed": ["robustness"]}
    records = [_done(0, 0.90, fails), _done(1, 0.85, {"passed": True, "failed": []}),
               _done(2, 0.80, {"passed": True, "failed": []})]
    chosen, why = search_plan.choose(records, designs, "accuracy", 1000)
    assert chosen["number"] == 1
    assert "trial 1 scored higher (0.9000) but failed robustness" in why
    # where none passes, the checks do not narrow the choice, and the reason says so
    nobody = [_done(0, 0.90, fails), _done(1, 0.85, {"passed": False, "failed": ["calibration"]})]
    chosen, why = search_plan.choose(nobody, designs, "accuracy", 1000)
    assert chosen["number"] == 0 and "no trial passed the deploy checks" in why
    # unmeasured (checks off) counts as passing: the choice is by accuracy alone, as before
    chosen, why = search_plan.choose([_done(0, 0.80, None), _done(1, 0.85, None)], designs, "accuracy", 1000)
    assert chosen["number"] == 1 and "deploy" not in why


def test_the_search_measures_the_deploy_checks_on_validation_and_prefers_a_trial_that_passes(tmp_path, monkeypatch,
                                                                                           digits_teacher, digits_csv):
    import importlib

    search_stage = importlib.import_module("prsm.engine.stages.search")
    real = search_stage.robustness_of
    mlp_32 = 64 * 32 + 32 + 32 * 10 + 10

    def fragile_mlp_32(run, student, sample, perturbed, teacher):  # the better design, refused by construction
        record = real(run, student, sample, perturbed, teacher)
        return {**record, "passed": False} if student.params == mlp_32 else record

    monkeypatch.setattr(search_stage, "robustness_of", fragile_mlp_32)
    monkeypatch.setattr(PyTorchBackend, "candidates", lambda self, teacher, train, base=None, vocabulary_size=None: [
        pytorch_students._candidate("mlp-256x1", pytorch_students._architecture(
            "mlp", "tabular", list(train.classes), {"input_dim": 64, "hidden": [256, 1], "dropout": 0.1}), 2, 256),
        pytorch_students._candidate("mlp-32", pytorch_students._architecture(
            "mlp", "tabular", list(train.classes), {"input_dim": 64, "hidden": [32], "dropout": 0.1}), 1, 32)])
    # every other check's threshold out of the way: the forced failure is the only one, so the
    # choice is decided by it alone
    loose = {"min_low_margin_agreement": 0.0, "max_ece": 1.0, "max_robustness_gap": 1.0, "max_fairness_gap": 1.0}
    report = run_distillation(_config(digits_teacher, digits_csv, target_size="large", optimization_target="accuracy",
                                      baseline=False, checks=loose), tmp_path)
    search = report["search"]
    finished = [t for t in search["trials"] if t["state"] == "complete" and not t.get("reference")]
    assert all(set(t["gate"]["checks"]) == set(search_stage.GATE_CHECKS) for t in finished)
    assert not any("gate" in t for t in search["trials"] if t["state"] == "pruned" or t.get("reference"))
    weak = [t for t in finished if t["design"] == "mlp-256x1"]
    better = [t for t in finished if t["design"] == "mlp-32"]
    assert weak and better and all(t["gate"]["passed"] for t in weak)
    assert all(t["gate"]["failed"] == ["robustness"] for t in better)
    # measured, not made up: an MLP squeezed through one number agrees less with the teacher
    agreement = {t["design"]: t["gate"]["checks"]["low_margin_agreement"]["score"] for t in finished}
    assert agreement["mlp-256x1"] < agreement["mlp-32"], agreement
    chosen = search["trials"][search["chosen"]]
    assert chosen["design"] == "mlp-256x1" == report["student"]["candidate"]
    top = max(better, key=lambda t: t["val_accuracy"])
    assert top["val_accuracy"] > chosen["val_accuracy"]
    assert f"trial {top['number'] + 1} scored higher" in search["why"] and "failed robustness" in search["why"]
    card = (tmp_path / "MODEL_CARD.md").read_text()
    assert "deploy checks (validation)" in card and "| failed: robustness |" in card
