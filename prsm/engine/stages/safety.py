"""Where the stages call the safety checks: before training (in ``load_teacher`` and ``split``),
around the fit (in ``train``) and after the held-out evaluation (in ``evaluate``). The checks
themselves are pure functions in :mod:`prsm.engine.checks`; their records collect in
``run.safety_checks`` and the report merges them into ``checks``."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TypeVar

import numpy as np

from ..checks.breaker import TRIP_FILE, BreakerCallback, CircuitBreaker, CircuitBreakerTripped
from ..checks.data_checks import class_imbalance_check, label_sanity_check, pii_check, redact_texts
from ..checks.gate import (calibration_check, column_slices, fairness_check, low_margin_agreement_check,
                           robustness_check, text_slices)
from ..checks.perturb import fgsm, shared_perturbations
from ..checks.record import check_record
from ..checks.spending import SpendingMeter
from ..checks.teacher_risk import teacher_risk_check
from ..data.types import TaskData
from ..errors import BadInput, Cancelled
from ..jsonable import jsonable
from ..run import Run


T = TypeVar("T")


def before_training(run: Run) -> None:
    """Data and teacher checks; with ``redact_pii`` the text is cleaned before anything trains on it."""
    c = run.config.checks
    if not c.enabled:
        return
    records = run.safety_checks
    data = run.data
    if data.task == "text":
        run.data = _pii(run, "pii", data, "texts")
    if c.sensitive_column and data.task == "tabular" and c.sensitive_column not in (data.feature_names or []):
        raise BadInput(f"sensitive_column {c.sensitive_column!r} is not a column of the data")
    _timed(records, "label_sanity", lambda: label_sanity_check(data, c))
    _timed(records, "class_imbalance", lambda: class_imbalance_check(data, c))
    _timed(records, "teacher_risk", lambda: _teacher_risk(run))
    _log_failures(run, ("pii", "label_sanity", "class_imbalance", "teacher_risk"))


def _teacher_risk(run: Run) -> dict:
    """The teacher's risk; an ensemble's is every member's, its findings named by teacher."""
    c, members = run.config.checks, getattr(run.teacher, "members", None)
    if members is None:
        return teacher_risk_check(run.teacher, c, run.config.domain)
    records = [(member.ref, teacher_risk_check(member, c, run.config.domain)) for member in members]
    failed = [(ref, record) for ref, record in records if not record["passed"]]
    detail = "; ".join(f"{ref}: {record['detail']}" for ref, record in (failed or records))
    first = records[0][1]
    return first | {"passed": not failed, "score": float(sum(record["score"] for _, record in records)), "detail": detail,
                    "licence": "; ".join(f"{ref}: {r['licence']}" for ref, r in records if r.get("licence")) or None,
                    "intended_use": "; ".join(f"{ref}: {r['intended_use']}" for ref, r in records
                                              if r.get("intended_use")) or None}


def unlabelled_checks(run: Run) -> None:
    """The personal-data check on a transfer set's texts as well: the student learns from them
    through the teacher. With ``redact_pii`` they are cleaned the same way before the teacher reads them."""
    c, rows = run.config.checks, run.unlabelled
    if not c.enabled or rows is None or rows.task != "text":
        return
    run.unlabelled = _pii(run, "pii_unlabelled", rows, "unlabelled texts")
    _log_failures(run, ("pii_unlabelled",))


def _pii(run: Run, name: str, data: TaskData, what: str) -> TaskData:
    """The personal-data check on ``data``'s texts, recorded as ``name``; the data back, redacted
    when ``redact_pii`` is on and something was found."""
    c, records = run.config.checks, run.safety_checks
    _timed(records, name, lambda: pii_check(data.texts, c, redacted=c.redact_pii))
    if not (c.redact_pii and records[name]["texts_with_pii"]):
        return data
    run.reporter.log(f"personal data replaced in {records[name]['texts_with_pii']} {what}")
    return redact_texts(data)


def _timed(records: dict, name: str, check: Callable[[], dict]) -> None:
    """Run one check and keep its record with the seconds it took (the report shows what the
    checks cost next to what they found)."""
    started = time.perf_counter()
    records[name] = check()
    records[name]["seconds"] = round(time.perf_counter() - started, 3)


def fit_with_breaker(run: Run, fit: Callable[[], T]) -> T:
    """Run ``fit()`` with the circuit breaker watching; a trip raises CircuitBreakerTripped."""
    c = run.config.checks
    spending = _spending_meter(run)
    if not c.enabled and spending is None:
        return fit()
    if run.config.student_from is not None:
        # a copy of a model learning new data (an update, an adaptation) is meant to part from what its
        # teacher says; the breaker still watches the loss and the spending
        c = c.model_copy(update={"max_agreement_drop": None})
    breaker = CircuitBreaker(c, spending)
    inner = run.reporter.callback
    run.reporter.callback = BreakerCallback(breaker, inner)
    (run.out / TRIP_FILE).unlink(missing_ok=True)
    try:
        breaker.observe_spending()  # the stages before training may already have spent it all
        if breaker.tripped:
            _tripped(run, breaker.tripped)
        result = fit()
    except Cancelled:
        if breaker.tripped is None:
            raise
        _tripped(run, breaker.tripped)
    finally:
        run.reporter.callback = inner
    run.safety_checks["circuit_breaker"] = breaker.record()
    return result


def _spending_meter(run: Run) -> SpendingMeter | None:
    """A meter from the run's first stage on, when the run has a budget."""
    if run.config.budget is None:
        return None
    return SpendingMeter(run.config.budget, run_started=min(run.reporter.started.values(), default=time.perf_counter()))


def _tripped(run: Run, record: dict):
    run.safety_checks["circuit_breaker"] = record
    # the checkpoint holds the broken weights: a rerun starts afresh rather than resuming them
    (run.state_dir / "student.pt").unlink(missing_ok=True)
    (run.out / TRIP_FILE).write_text(json.dumps(jsonable({"check": record, "checks": run.safety_checks}), indent=2))
    run.reporter.log(f"circuit breaker tripped: {record['detail']}")
    raise CircuitBreakerTripped(record)


def after_training(run: Run) -> None:
    """Robustness, fairness, calibration and low-margin agreement on the held-out test split."""
    c = run.config.checks
    if not c.enabled:
        return
    test, records = run.split.test, run.safety_checks
    student_logits, teacher_logits = run.student_test_logits, run.teacher_test_logits
    _timed(records, "calibration", lambda: calibration_check(student_logits, test.labels, teacher_logits, c))
    _timed(records, "low_margin_agreement", lambda: low_margin_agreement_check(student_logits, teacher_logits, c))
    _timed(records, "fairness", lambda: _fairness(run, student_logits, teacher_logits))
    _timed(records, "robustness", lambda: _robustness(run))
    _log_failures(run, ("calibration", "low_margin_agreement", "fairness", "robustness"))


def _fairness(run: Run, student_logits: np.ndarray, teacher_logits: np.ndarray) -> dict:
    return fairness_on(run, run.split.test, student_logits, teacher_logits)


def fairness_on(run: Run, rows: TaskData, student_logits: np.ndarray, teacher_logits: np.ndarray) -> dict:
    c = run.config.checks
    if rows.task == "text":
        return fairness_check(text_slices(rows.texts), student_logits, teacher_logits, rows.labels, c, "demographic-term")
    if rows.task == "tabular" and c.sensitive_column:
        slices = column_slices(rows.features, rows.feature_names, c.sensitive_column)
        return fairness_check(slices, student_logits, teacher_logits, rows.labels, c, f"{c.sensitive_column!r}")
    why = "mark a sensitive column (checks.sensitive_column) to measure it" if rows.task == "tabular" else \
        "image data carries no slice labels"
    return check_record(score=0, threshold=c.max_fairness_gap, passed=True, phase="after", measured=False,
                        detail=f"not measured: {why}")


def _robustness(run: Run) -> dict:
    return robustness_of(run, run.student, *robustness_rows(run, run.split.test), run.teacher.logits)


def robustness_rows(run: Run, rows: TaskData) -> tuple[TaskData, dict[str, TaskData]]:
    """The rows the robustness check uses (at most ``max_rows``, drawn from the seed) and their
    perturbed copies, which both models see."""
    c = run.config.checks
    picked = np.sort(np.random.default_rng([run.config.seed, 7]).permutation(len(rows))[:c.max_rows])
    sample = rows.subset(picked)
    return sample, shared_perturbations(sample, run.config.seed)


def robustness_of(run: Run, student, sample: TaskData, perturbed: dict[str, TaskData],
                  teacher: Callable[[TaskData], np.ndarray]) -> dict:
    """``student``'s robustness record on ``sample`` and ``perturbed``; ``teacher`` gives the
    teacher's logits on a set of rows (the search passes one that remembers them)."""
    c = run.config.checks
    adversarial = {}
    if sample.task == "image" and c.fgsm_epsilon > 0:
        teacher_module = run.teacher.module if getattr(run.teacher.adapter, "kind", "") == "tensor" else None
        adversarial["fgsm"] = (run.backend.adversarial(student, sample, c.fgsm_epsilon),
                               fgsm(teacher_module, sample, c.fgsm_epsilon) if teacher_module is not None else None)
    return robustness_check(sample, lambda d: run.backend.evaluate(student, d), teacher, c, perturbed, adversarial)


def _log_failures(run: Run, names: tuple[str, ...]) -> None:
    for name in names:
        record = run.safety_checks.get(name)
        if record is not None and not record["passed"]:
            run.reporter.log(f"check {name} failed: {record['detail']}")
