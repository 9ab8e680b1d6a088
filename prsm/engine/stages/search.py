"""The search stage: short trials choose the student's design and its distillation settings (see
:mod:`prsm.engine.students.search` for the schedule). It runs after the teacher's outputs are
cached, so every trial reads them, and before ``train``, which trains the chosen trial fully.

Each finished trial is saved in ``checkpoints/search.json`` at once; a resumed run skips the trials
already there. Only the validation split is read.
"""

from __future__ import annotations

import json
import time

import numpy as np

from ..backends.base import Student
from ..checks.gate import calibration_check, low_margin_agreement_check
from ..data.types import TaskData
from ..errors import Cancelled
from ..run import Run
from ..students import search as plan_of
from ..students.design import screen
from ..training.cache import cached_teacher_logits
from ..training.callbacks import Reporter
from ..training.checkpoint import save_atomic, write_text_atomic
from ..training.loop import TrainData, TrainSettings
from .prepare import design_request, measurer, teacher_logits_key
from .safety import fairness_on, fit_with_breaker, robustness_of, robustness_rows
from .train import _build, _device, _on_training_device, _online_teacher, training_rows, trial_weights, with_strategies


def fixed_settings(run: Run) -> dict:
    """What the request set itself, which the search keeps."""
    c = run.config
    fixed = {k: v for k, v in (("temperature", c.temperature), ("alpha", c.alpha)) if v is not None}
    if c.learning_rate is not None:
        fixed["lr_scale"] = 1.0
    if run.unlabelled is None:  # nothing to train on beside the labelled rows
        fixed["extra"] = False
    return fixed


class _TrialReporter(Reporter):
    """The trainer's reporter for one trial: each epoch's validation accuracy goes to the Optuna
    trial, and a pruned trial asks the trainer to stop; progress is the search stage's."""

    def __init__(self, parent: Reporter, trial, index: int, total: int, label: str) -> None:
        super().__init__()
        self.parent, self.trial, self.index, self.total, self.label = parent, trial, index, total, label
        self.pruned = False
        self.history: list[float] = []

    def progress(self, fraction: float, **fields) -> None:
        # the loss goes on so that the circuit breaker watches trials too; a trial's ETA is not the job's
        kept = {k: v for k, v in fields.items() if k in ("metrics", "step", "total_steps")}
        self.parent.progress((self.index + fraction) / self.total, message=f"trial {self.index + 1}/{self.total}: {self.label}",
                             **kept)

    def metric(self, metrics: dict, **fields) -> None:
        if "val_accuracy" not in metrics:
            return
        self.history.append(float(metrics["val_accuracy"]))
        self.trial.report(max(self.history), step=len(self.history))  # the best so far: the weights a trial keeps
        if self.trial.should_prune():
            self.pruned = True

    def log(self, message: str) -> None:
        pass

    def should_stop(self) -> bool:
        return self.pruned or self.parent.should_stop()


def search(run: Run) -> None:
    c = run.config
    level = plan_of.LEVELS[c.search]
    defaults = run.backend.default_settings(run.student, len(training_rows(run)))
    final_epochs = c.epochs or defaults["epochs"]
    path, key = run.state_dir / "search.json", run.fingerprint()
    saved = json.loads(path.read_text()) if path.is_file() else {}
    if saved.get("fingerprint") != key:  # the designs too are kept: a resumed search plans the same trials
        saved = {"fingerprint": key, "designs": plan_of.shortlist(run.design["candidates"] + _other_families(run),
                                                                  run.design["chosen"], level.designs), "trials": []}
    designs, records = saved["designs"], saved["trials"]
    by_name = {d["name"]: d for d in designs}
    # search="off" trains without the rows the search made itself: a trial of its own
    off = {"extra": False} if run.search_made_rows else None
    plan = plan_of.trial_plan([d["name"] for d in designs], level, c.seed, fixed_settings(run), off)
    study = plan_of.study_from(records, plan, level, final_epochs)
    encoded: dict[str, tuple] = {}
    gate_rows: dict = {}  # the teacher's side of the deploy checks on validation, computed once

    def trials() -> bool:
        """Run the trials not finished yet, in order; True when the time limit stopped them."""
        started = time.perf_counter() - sum(r["seconds"] for r in records)
        for spec in plan[len(records):]:
            if c.search_seconds is not None and time.perf_counter() - started >= c.search_seconds \
                    and any(r["state"] == "complete" and not r.get("reference") for r in records):
                return True
            run.reporter.check_stop()
            record = _trial(run, spec, by_name[spec["design"]], study, plan, level, encoded, gate_rows)
            records.append(record)
            write_text_atomic(path, json.dumps(saved, indent=1))
            run.reporter.emit("trial", fraction=len(records) / len(plan), trial=_public(record),
                              message=_line(record, len(plan)))
        return False

    stopped_by_time = trials()
    chosen, why = plan_of.choose(records, by_name, c.optimization_target, len(run.split.validation))
    for record in records:  # only the chosen trial's weights can be kept
        if record["number"] != chosen["number"]:
            trial_weights(run, record["number"]).unlink(missing_ok=True)
    run.hyper = {k: chosen[k] for k in ("temperature", "alpha", "lr_scale", "extra")}
    labelled = len(run.split.train)
    if chosen["design"] != run.chosen["name"]:
        run.chosen = by_name[chosen["design"]]
        _rebuild(run, encoded)  # training_rows(run): without the unlabelled rows when not chosen
    elif not chosen["extra"] and run.unlabelled is not None:
        run.train_inputs = {k: v[:labelled] for k, v in run.train_inputs.items()}
    if not chosen["extra"] and run.unlabelled is not None and run.teacher_train_logits is not None:
        run.teacher_train_logits = run.teacher_train_logits[:labelled]
    run.search = _record(run, level, records, chosen, why, final_epochs, stopped_by_time, designs, plan)
    run.reporter.log(f"search chose trial {chosen['number'] + 1}: {_label(chosen)} ({why})")


def _other_families(run: Run) -> list[dict]:
    """The backend's students of other families (text: bag, CNN, BiLSTM, and the first layers of a
    pretrained base), screened like the design's, where the request lets them serve: they learn
    from logits only; the light ones have no Transformers format; a base has its own tokenizer, so
    the teacher cannot run on its tokens (augment)."""
    c = run.config
    if c.transfer != ["logits"] or c.student_base is not None or c.student_from is not None \
            or (run.data.task == "text" and "adversarial" in c.strategies) \
            or any(v is not None for v in (c.layer_count, c.hidden_size, c.attention_heads)):
        return []  # the request chose the family: layers of its own, of a base, or matched token by token
    budget = run.design["param_budget"]
    found = run.backend.search_candidates(run.design_teacher, run.split.train, budget, vocabulary_size=c.vocabulary_size,
                                          light_students=not (c.exports is not None and "huggingface" in c.exports),
                                          pretrained=not c.augment)
    fitting = screen(found, design_request(c), budget, measurer(run))
    return [candidate.summary() for candidate in fitting]


def _trial(run: Run, spec: dict, design: dict, study, plan, level, encoded: dict, gate_rows: dict) -> dict:
    c = run.config
    student = _build(run, design)
    labelled = len(run.split.train)
    with_extra = spec["alpha"] > 0 and (spec["extra"] or run.unlabelled is None)
    # a trial is a share of the training this design would get on these rows (its own default
    # epochs: a pretrained student on a few labelled rows needs more of them than on many)
    defaults = run.backend.default_settings(student, len(training_rows(run)) if with_extra else labelled)
    base_lr = c.learning_rate if c.learning_rate is not None else defaults["learning_rate"]
    epochs = level.trial_epochs(c.epochs or defaults["epochs"])
    settings = TrainSettings(epochs=epochs, batch_size=c.batch_size or defaults["batch_size"],
                             learning_rate=base_lr * spec["lr_scale"], patience=epochs, temperature=spec["temperature"],
                             alpha=spec["alpha"], checkpoint_every=None, checkpoint_seconds=None, seed=c.seed,
                             device=_device(run))
    train_inputs, validation_inputs = _encoded(run, design, student, encoded)
    transfer = c.transfer if spec["alpha"] > 0 else ["logits"]
    objective = run.backend.objective(student, run.design_teacher, settings, transfer)
    if with_extra:
        train = TrainData(train_inputs, training_rows(run).labels, run.teacher_train_logits, augment=run.augmentation,
                          online_teacher=_online_teacher(run, objective))
    elif spec["alpha"] > 0:  # the labelled rows only, with the teacher's outputs on them
        logits = run.teacher_train_logits[:labelled] if run.teacher_train_logits is not None else None
        train = TrainData({k: v[:labelled] for k, v in train_inputs.items()}, run.split.train.labels, logits,
                          augment=run.augmentation, online_teacher=_online_teacher(run, objective))
    else:  # labels alone: the labelled rows only, as the baseline trains
        train = TrainData({k: v[:labelled] for k, v in train_inputs.items()}, run.split.train.labels, None,
                          augment=run.augmentation)
    if spec["alpha"] > 0:
        objective = with_strategies(run, objective, train, student.module)
    validation = TrainData(validation_inputs, run.split.validation.labels)
    trial = plan_of.ask(study, spec, plan)
    reporter = _TrialReporter(run.reporter, trial, spec["number"], len(plan), _label(spec))
    began = time.perf_counter()
    state = "complete"
    try:
        with _on_training_device(run, settings, student, online=train.online_teacher is not None):
            # each trial under a breaker of its own (a new trial's first losses are not a divergence):
            # a loss that turns NaN, or the budget running out, stops the run
            fit_with_breaker(run, lambda: run.backend.fit(student, train, validation, settings, objective, None,
                                                          reporter, ""))
    except Cancelled:
        if not reporter.pruned:
            raise
        state = "pruned"
    history = reporter.history
    gate = None
    if state == "complete" and not spec.get("reference"):  # it may be chosen: train keeps it if the full run ends lower
        save_atomic(run.backend.weights(student), trial_weights(run, spec["number"]))
        gate = _gate(run, student, gate_rows)
    plan_of.tell(study, trial, None if state == "pruned" else max(history))
    return {**spec, "state": state, **({"gate": gate} if gate is not None else {}), "val_accuracy": max(history),
            "epochs": len(history), "planned_epochs": epochs, "history": history,
            "intermediate": {str(i + 1): max(history[:i + 1]) for i in range(len(history))},
            "rungs": plan_of.rung_records(study, trial), "params": student.params,
            "learning_rate": settings.learning_rate, "seconds": round(time.perf_counter() - began, 3)}


GATE_CHECKS = ("calibration", "low_margin_agreement", "fairness", "robustness")


def _gate(run: Run, student: Student, rows: dict) -> dict | None:
    """The checks that gate a deploy and depend on the student (``GATE_CHECKS``), measured on the
    validation split for a trial that may be chosen, so that the search prefers a student the
    product will deploy. The teacher's logits on validation are the ones the training's agreement
    watch reads (the same cache file); its logits on the perturbed rows are computed once per
    search. An HTTP teacher is not asked about perturbed rows here (each text costs the user):
    robustness is left to the final check on the test split."""
    c = run.config.checks
    if not c.enabled:
        return None
    validation = run.split.validation
    if "teacher" not in rows:
        rows["teacher"] = np.asarray(cached_teacher_logits(run.teacher, run.teacher.encode(validation), run.out / "cache",
                                                           teacher_logits_key(run, "validation")))
        if getattr(run.teacher, "runtime", "") != "http":
            rows["robustness"] = robustness_rows(run, validation)
            rows["teacher_on"] = _remembering(run.teacher.logits)
    teacher = rows["teacher"]
    logits = run.backend.evaluate(student, validation)
    checks = {"calibration": calibration_check(logits, validation.labels, teacher, c),
              "low_margin_agreement": low_margin_agreement_check(logits, teacher, c),
              "fairness": fairness_on(run, validation, logits, teacher)}
    if "robustness" in rows:
        checks["robustness"] = robustness_of(run, student, *rows["robustness"], rows["teacher_on"])
    failed = [name for name, record in checks.items() if not record["passed"]]
    return {"passed": not failed, "failed": failed,
            "checks": {name: {"passed": bool(r["passed"]), "score": round(float(r["score"]), 6),
                              "threshold": r["threshold"]} for name, r in checks.items()}}


def _remembering(logits_of):
    """``logits_of`` over TaskData, each set of rows computed once (the same objects every trial)."""
    seen: dict[int, tuple[TaskData, np.ndarray]] = {}

    def call(data: TaskData) -> np.ndarray:
        if id(data) not in seen:
            seen[id(data)] = (data, logits_of(data))  # the rows are held, so their id is not reused
        return seen[id(data)][1]
    return call


def _encoded(run: Run, design: dict, student: Student, encoded: dict) -> tuple:
    """The training and validation rows in this design's encoding (a capped vocabulary tokenizes
    otherwise); the chosen design's training rows are already encoded."""
    if design["name"] not in encoded:
        train = run.train_inputs if design["name"] == run.chosen["name"] else student.adapter.encode(training_rows(run))
        encoded[design["name"]] = (train, student.adapter.encode(run.split.validation))
    return encoded[design["name"]]


def _rebuild(run: Run, encoded: dict) -> None:
    """The chosen design differs from the rule's pick: the student the next stages train is it, on
    the rows its trials already encoded where they did (every training row, labelled ones first)."""
    run.student = _build(run, run.chosen)
    if run.chosen["name"] not in encoded:  # a resumed run whose trials all ran before
        run.train_inputs = run.student.adapter.encode(training_rows(run))
        return
    inputs = encoded[run.chosen["name"]][0]
    run.train_inputs = {k: v[:len(training_rows(run))] for k, v in inputs.items()}


def _label(spec: dict) -> str:
    if spec.get("reference"):
        return f"{spec['design']}, labels only"
    extra = ", with the unlabelled rows" if spec.get("extra") else ""
    return f"{spec['design']}, T={spec['temperature']:g}, alpha={spec['alpha']:g}, lr x{spec['lr_scale']:g}{extra}"


def _line(record: dict, total: int) -> str:
    return (f"trial {record['number'] + 1}/{total} ({_label(record)}): validation {record['val_accuracy']:.4f} "
            f"after {record['epochs']} epochs, {record['state']}")


def _public(record: dict) -> dict:
    return {k: v for k, v in record.items() if k not in ("intermediate", "rungs")}


def _record(run: Run, level, records, chosen, why, final_epochs, stopped_by_time, designs, plan) -> dict:
    reference = next((r for r in records if r.get("reference")), None)
    labels_only = None
    if reference is not None:
        same = [r for r in records if r["design"] == reference["design"] and not r.get("reference")]
        best_same = max((r["val_accuracy"] for r in same), default=None)
        labels_only = {"design": reference["design"], "val_accuracy": reference["val_accuracy"],
                       "distilled_val_accuracy": best_same, "chosen_val_accuracy": chosen["val_accuracy"],
                       "gain": None if best_same is None else round(best_same - reference["val_accuracy"], 6)}
    return {"level": level.name, "trials": [_public(r) for r in records], "chosen": chosen["number"], "why": why,
            "designs": [{**{k: d.get(k) for k in ("name", "params", "layers", "width", "flops", "latency_ms")},
                         "family": plan_of.family(d), **({"source": d["source"]} if d.get("source") else {})}
                        for d in designs],
            "trial_epochs": max((r.get("planned_epochs", 0) for r in records), default=level.trial_epochs(final_epochs)),
            "min_epochs": level.min_epochs(final_epochs),
            "final_epochs": final_epochs, "reduction_factor": plan_of.REDUCTION, "planned": len(plan),
            "stopped_by_time_limit": stopped_by_time, "validation_rows": len(run.split.validation),
            "seconds": round(sum(r["seconds"] for r in records), 3), "labels_only": labels_only,
            "expected_cost_factor": round(plan_of.expected_cost_factor(level, final_epochs, len(plan)), 3),
            "settings": {k: chosen[k] for k in ("temperature", "alpha", "lr_scale", "extra")},
            "pruner": "optuna.pruners.SuccessiveHalvingPruner", "rows": len(training_rows(run)),
            "validation_mean": round(float(np.mean([r["val_accuracy"] for r in records])), 6)}
