"""The one entry point the CLI, the SDK and the web platform's workers call.

Usage::

    from prsm.engine.pipeline import DistillConfig, run_distillation

    config = DistillConfig(teacher="path/to/teacher", data="builtin:digits", target_size="small")
    report = run_distillation(config, out_dir="runs/digits", callback=my_callback)

``run_distillation(config, out_dir, callback=None) -> dict`` loads the data and the teacher,
splits the data (stratified, from ``config.seed``), evaluates the teacher, designs a student from
measured candidates, caches the teacher's outputs, trains the student by distillation (and the
labels-only baseline with ``config.baseline``), evaluates both on the held-out test split, writes
and verifies the exports, and writes ``report.json`` (the fields of CONTRACT.md, plus extras) and
``MODEL_CARD.md`` into ``out_dir``. It returns the report.

``callback`` is any object with ``on_event(event: dict)`` and ``should_stop() -> bool``. Events
are dicts with ``type`` (``stage``, ``progress``, ``metric``, ``log``), ``stage``, ``progress``
(0..100 over the whole run) and, as they apply, ``message``, ``metrics``, ``step``,
``total_steps`` and ``eta_s``. When ``should_stop()`` returns True the run writes a checkpoint
and raises :class:`prsm.engine.errors.Cancelled`.

Resuming: calling ``run_distillation`` again with the same config and ``out_dir`` reuses the
student design, the cached teacher outputs and the last checkpoint, and ends with the same weights
an uninterrupted run would have. Input the user can fix raises :class:`prsm.engine.errors.BadInput`
(one line, naming the problem) before any training starts where it can be known then.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .config import DistillConfig
from .data.splits import Split
from .errors import BadInput, Cancelled
from .training.callbacks import Callback, Reporter

__all__ = ["DistillConfig", "run_distillation", "BadInput", "Cancelled", "Callback"]


@dataclass
class Run:
    """What the stages hand each other."""

    config: DistillConfig
    out: Path
    reporter: Reporter
    data: object = None
    teacher: object = None
    split: Split | None = None
    unlabelled: object = None  # TaskData of rows for the teacher to label (a transfer set), or None
    backend: object = None
    student: object = None
    design: dict = field(default_factory=dict)
    results: dict = field(default_factory=dict)

    @property
    def state_dir(self) -> Path:
        return self.out / "checkpoints"


def run_distillation(config: DistillConfig | dict, out_dir: str | Path, callback: Callback | None = None) -> dict:
    """Run the whole pipeline; see the module docstring for the callback, resume and errors."""
    from . import stages

    config = config if isinstance(config, DistillConfig) else DistillConfig.model_validate(config)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    run = Run(config=config, out=out, reporter=Reporter(callback))
    started = time.time()
    for stage in (stages.load_data, stages.load_teacher, stages.split, stages.teacher_eval, stages.design,
                  stages.cache_teacher, stages.train, stages.baseline, stages.evaluate, stages.export):
        run.reporter.begin(stage.__name__)
        stage(run)
        run.reporter.check_stop()
    run.reporter.begin("report")
    report = stages.report(run, started)
    run.reporter.end()
    report["stages"] = {name: {"seconds": seconds} for name, seconds in run.reporter.seconds.items()}
    (out / "report.json").write_text(json.dumps(report, indent=2))
    run.reporter.emit("stage", fraction=1.0, message="completed")
    return report


def fingerprint(run: Run) -> str:
    """What a checkpoint, a cache or a design must match to be reused: the config's training
    fields, the data's hash and the teacher's files."""
    parts = {"config": run.config.training_fingerprint(), "data": run.data.sha256, "teacher": run.teacher.ref,
             "teacher_size": run.results["teacher_describe"]["size_bytes"]}
    if run.config.unlabelled_data:  # the rows themselves, not only their reference
        parts["unlabelled"] = run.unlabelled.sha256 if run.unlabelled is not None else None
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def jsonable(value):
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
