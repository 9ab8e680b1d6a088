"""The circuit breaker that watches a training run and stops it when it goes wrong.

It is fed the loss the training loop reports and the validation agreement with the teacher at
each epoch's end, through :class:`BreakerCallback` wrapped around the run's own callback (a
callback observes and may only ask to stop); with a budget it also reads the run's spending at
every step. Once tripped it asks the loop to stop; the stage then raises
:class:`CircuitBreakerTripped` carrying the check record.
"""

from __future__ import annotations

import math

from ..errors import BadInput
from .config import ChecksConfig
from .record import check_record
from .spending import SpendingMeter

# The record a run leaves in its folder when the breaker stops training; the platform reads it
# (safety.services.safety_breaker_trip_record) to queue the job for the moderators.
TRIP_FILE = "safety-trip.json"

EMA_WEIGHT = 0.3  # weight of the newest loss in the smoothed loss


class CircuitBreakerTripped(BadInput):
    """Training was stopped by the circuit breaker; ``check`` is the failed check record."""

    def __init__(self, check: dict) -> None:
        super().__init__(f"circuit breaker tripped: {check['detail']}")
        self.check = check


class CircuitBreaker:
    """Trips on (a) a NaN or infinite loss; (b) divergence: the smoothed loss (an EMA) above
    ``divergence_factor`` x its running minimum and ``divergence_margin`` above it; (c) the
    validation agreement with the teacher falling ``max_agreement_drop`` below its best so far;
    (d) with a ``spending`` meter, spending reaching the job's budget. Divergence is read off the
    loss curve as in Goodfellow et al., Deep Learning (2016), 8.2; the guard mirrors the loss-spike
    skipping of large-model training (Chowdhery et al., PaLM, 2022). With ``config.enabled`` off
    only the spending is watched: the budget is the owner's limit, not a safety check they opted out of."""

    def __init__(self, config: ChecksConfig, spending: SpendingMeter | None = None) -> None:
        self.config, self.spending = config, spending
        self.ema: float | None = None
        self.best_ema = math.inf
        self.best_agreement = -1.0
        self.losses_seen = 0
        self.epochs_seen = 0
        self.tripped: dict | None = None

    def observe_loss(self, loss: float, step: int | None = None) -> None:
        if self.tripped or not self.config.enabled:
            return
        self.losses_seen += 1
        if not math.isfinite(loss):
            self._trip("nan_or_inf_loss", loss, 0, f"the training loss became {loss} at step {step}", step=step)
            return
        self.ema = loss if self.ema is None else EMA_WEIGHT * loss + (1 - EMA_WEIGHT) * self.ema
        self.best_ema = min(self.best_ema, self.ema)
        c = self.config
        if self.ema > c.divergence_factor * self.best_ema and self.ema > self.best_ema + c.divergence_margin:
            self._trip("divergence", self.ema / max(self.best_ema, 1e-12), c.divergence_factor,
                       f"the loss diverged at step {step}: smoothed {self.ema:.3g}, best {self.best_ema:.3g}", step=step)

    def observe_validation(self, agreement: float, epoch: int | None = None) -> None:
        if self.tripped or not self.config.enabled or self.config.max_agreement_drop is None:
            return
        self.epochs_seen += 1
        drop = self.best_agreement - agreement
        if self.best_agreement >= 0 and drop > self.config.max_agreement_drop:
            self._trip("agreement_drop", drop, self.config.max_agreement_drop,
                       f"agreement with the teacher on validation fell from {self.best_agreement:.1%} to "
                       f"{agreement:.1%} at epoch {epoch}", epoch=epoch)
        self.best_agreement = max(self.best_agreement, agreement)

    def observe_spending(self, step: int | None = None) -> None:
        if self.tripped or self.spending is None:
            return
        self.tripped = self.spending.over(f"at step {step}" if step else "before training")
        if self.tripped and step:
            self.tripped["step"] = step

    def _trip(self, reason: str, score: float, threshold: float, detail: str, **where) -> None:
        self.tripped = check_record(score=score, threshold=threshold, passed=False, detail=detail, phase="during",
                                    reason=reason, **where)

    def record(self) -> dict:
        """The ``circuit_breaker`` check: the trip, or a pass over what was watched."""
        if self.tripped:
            return self.tripped
        watched = f"watched {self.losses_seen} loss readings and {self.epochs_seen} validations: " \
                  "no NaN/inf loss, no divergence, no drop in agreement with the teacher"
        if self.spending is None:
            return check_record(score=0, threshold=0, passed=True, phase="during", reason=None, detail=watched)
        meter, spent = self.spending, self.spending.read()
        spent_words = f"spent {meter.shown(spent)} of the {meter.shown(meter.budget.limit_units)} FTNS budget by the end of training"
        return check_record(score=meter.ftns(spent), threshold=meter.ftns(meter.budget.limit_units), passed=True,
                            phase="during", reason=None, spent_units=spent, budget_units=meter.budget.limit_units,
                            detail=f"{watched}; {spent_words}" if self.config.enabled else spent_words)


class BreakerCallback:
    """Wraps the run's callback: forwards every event, feeds the breaker, asks to stop once tripped."""

    def __init__(self, breaker: CircuitBreaker, inner=None) -> None:
        self.breaker, self.inner = breaker, inner
        self.step, self.asked_since_step = 0, 0

    def on_event(self, event: dict) -> None:
        if event.get("step") is not None:
            self.step, self.asked_since_step = int(event["step"]), 0
        metrics = event.get("metrics") or {}
        if event.get("type") == "progress" and "loss" in metrics:
            self.breaker.observe_loss(float(metrics["loss"]), event.get("step"))
        if event.get("type") == "metric":
            if metrics.get("train_loss") is not None and not math.isfinite(metrics["train_loss"]):
                self.breaker.observe_loss(float(metrics["train_loss"]), event.get("step"))
            if "val_agreement" in metrics:
                self.breaker.observe_validation(float(metrics["val_agreement"]), metrics.get("epoch"))
        if self.inner is not None:
            self.inner.on_event(_finite(event) if metrics else event)

    def should_stop(self) -> bool:
        # the loop asks once after every step and reports its step now and then: between reports,
        # the number of questions says which step this is
        self.asked_since_step += 1
        self.breaker.observe_spending(self.step + self.asked_since_step)
        return self.breaker.tripped is not None or bool(self.inner is not None and self.inner.should_stop())


def _finite(event: dict) -> dict:
    """The event with NaN/inf metrics as None: JSON stores (PostgreSQL's jsonb among them) refuse them."""
    metrics = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in event["metrics"].items()}
    return {**event, "metrics": metrics}
