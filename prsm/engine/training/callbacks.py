"""Progress reporting. A callback observes and may only ask the run to stop (like Hugging Face's
``TrainerControl``): the engine checks ``should_stop()`` between steps, checkpoints, and raises
:class:`~prsm.engine.errors.Cancelled`.

Events are plain dicts::

    {"type": "stage" | "progress" | "metric" | "log", "stage": str, "progress": 0..100,
     "message": str, "metrics": {...}, "step": int, "total_steps": int, "eta_s": float}
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Protocol

from ..errors import Cancelled


class Callback(Protocol):
    def on_event(self, event: dict) -> None: ...

    def should_stop(self) -> bool: ...


class Reporter:
    """Turns stage-local progress into overall progress and forwards events to a callback.

    ``spans`` is (stage name, weight) in running order, the pipeline's
    :data:`~prsm.engine.stages.STAGES`: each stage spans its weight's share of 0..100. A stage not
    in it moves the progress not at all (a bare training loop's reporter has no spans)."""

    def __init__(self, callback: Callback | None = None, spans: Iterable[tuple[str, float]] = ()) -> None:
        self.callback = callback
        self.stage = ""
        self.started: dict[str, float] = {}
        self.seconds: dict[str, float] = {}
        self.last = 0.0
        self._starts = {}
        spans = list(spans)
        total, cumulative = sum(span for _, span in spans), 0
        for name, span in spans:
            self._starts[name] = (100 * cumulative / total, 100 * span / total)
            cumulative += span

    def begin(self, stage: str, message: str = "") -> None:
        self.end()
        self.stage = stage
        self.started[stage] = time.perf_counter()
        self.emit("stage", message=message or stage.replace("_", " "), fraction=0.0)

    def end(self) -> None:
        if self.stage and self.stage not in self.seconds:
            self.seconds[self.stage] = round(time.perf_counter() - self.started[self.stage], 3)

    def progress(self, fraction: float, **fields) -> None:
        self.emit("progress", fraction=fraction, **fields)

    def metric(self, metrics: dict, **fields) -> None:
        self.emit("metric", metrics=metrics, **fields)

    def log(self, message: str) -> None:
        self.emit("log", message=message)

    def emit(self, kind: str, fraction: float | None = None, **fields) -> None:
        if self.callback is None:
            return
        start, span = self._starts.get(self.stage, (0.0, 0.0))
        progress = start + span * min(max(fraction, 0.0), 1.0) if fraction is not None else start
        # never backwards: a log line mid-stage reports where the stage has got to, not its start
        self.last = max(self.last, round(progress, 2))
        self.callback.on_event({"type": kind, "stage": self.stage, "progress": self.last, **fields})

    def should_stop(self) -> bool:
        return bool(self.callback is not None and self.callback.should_stop())

    def check_stop(self) -> None:
        if self.should_stop():
            raise Cancelled(f"stopped on request during {self.stage}")
