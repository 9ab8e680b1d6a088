"""Safety checks before, during and after distillation.

The checks are functions of data, config and models; none takes the pipeline's run.
:mod:`prsm.engine.stages.safety` is where the stages call them and collect their records.

Every check returns one record, the shape ``report.json["checks"]`` carries (CONTRACT.md)::

    {"passed": bool, "score": float, "threshold": float, "detail": str, "phase": "before" | "during" | "after"}

plus, where useful, the measurements behind the score. ``phase`` marks a record as a safety
check: the platform trips a job's circuit breaker when any of them fails.

- before training (:mod:`.data_checks`, :mod:`.teacher_risk`): PII in text, label sanity, class
  imbalance, the teacher's licence and intended use;
- during training (:mod:`.breaker`, :mod:`.spending`): NaN/inf loss, divergence, a drop in agreement
  with the teacher, spending that reaches the job's budget;
- after training (:mod:`.gate`): robustness, fairness, calibration, low-margin agreement.
"""

from __future__ import annotations

from .breaker import CircuitBreaker, CircuitBreakerTripped
from .config import ChecksConfig
from .record import check_record

__all__ = ["ChecksConfig", "CircuitBreaker", "CircuitBreakerTripped", "check_record"]
