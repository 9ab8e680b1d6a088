"""The circuit breaker that watches a training run and stops it when it goes wrong.

It is fed the loss the training loop reports and the validation agreement with the teacher at
each epoch's end, through :class:`BreakerCallback` wrapped around the run's own callback (a
callback observes and may only ask to stop). Once tripped it asks the loop to stop; the stage
then raises :class:`CircuitBreakerTripped` carrying the check record.
"""

from __future__ import annotations

import math

from ..errors import BadInput
from .config import ChecksConfig
from .record import check_record

EMA_WEIGHT = 0.3  # weight of the newest loss in the smoothed loss


class CircuitBreakerTripped(BadInput):
    """Training was stopped by the circuit breaker; ``check`` is the failed check record."""

    def __init__(self, check: dict) -> None:
        super().__init__(f"circuit breaker tripped: {check['detail']}")
        self.check = check


class CircuitBreaker:
    """Trips on (a) a NaN or infinite loss; (b) divergence: the smoothed loss (an EMA) above
    ``divergence_factor`` x its running minimum and ``divergence_margin`` above it; (c) the
    validation agreement with the teacher falling ``max_agreement_drop`` below its best so far.
    Divergence is read off the loss curve as in Goodfellow et al., Deep Learning (2016), 8.2; the
    guard mirrors the loss-spike skipping of large-model training (Chowdhery et al., PaLM, 2022)."""

    def __init__(self, config: ChecksConfig) -> None:
        self.config = config
        self.ema: float | None = None
        self.best_ema = math.inf
        self.best_agreement = -1.0
        self.losses_seen = 0
        self.epochs_seen = 0
        self.tripped: dict | None = None

    def observe_loss(self, loss: float, step: int | None = None) -> None:
        if self.tripped:
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
        if self.tripped or self.config.max_agreement_drop is None:
            return
        self.epochs_seen += 1
        drop = self.best_agreement - agreement
        if self.best_agreement >= 0 and drop > self.config.max_agreement_drop:
            self._trip("agreement_drop", drop, self.config.max_agreement_drop,
                       f"agreement with the teacher on validation fell from {self.best_agreement:.1%} to "
                       f"{agreement:.1%} at epoch {epoch}", epoch=epoch)
        self.best_agreement = max(self.best_agreement, agreement)

    def _trip(self, reason: str, score: float, threshold: float, detail: str, **where) -> None:
        self.tripped = check_record(score=score, threshold=threshold, passed=False, detail=detail, phase="during",
                                    reason=reason, **where)

    def record(self) -> dict:
        """The ``circuit_breaker`` check: the trip, or a pass over what was watched."""
        if self.tripped:
            return self.tripped
        return check_record(score=0, threshold=0, passed=True, phase="during", reason=None,
                            detail=f"watched {self.losses_seen} loss readings and {self.epochs_seen} validations: "
                                   "no NaN/inf loss, no divergence, no drop in agreement with the teacher")


class BreakerCallback:
    """Wraps the run's callback: forwards every event, feeds the breaker, asks to stop once tripped."""

    def __init__(self, breaker: CircuitBreaker, inner=None) -> None:
        self.breaker, self.inner = breaker, inner

    def on_event(self, event: dict) -> None:
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
        return self.breaker.tripped is not None or bool(self.inner is not None and self.inner.should_stop())


def _finite(event: dict) -> dict:
    """The event with NaN/inf metrics as None: JSON stores (PostgreSQL's jsonb among them) refuse them."""
    metrics = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in event["metrics"].items()}
    return {**event, "metrics": metrics}
