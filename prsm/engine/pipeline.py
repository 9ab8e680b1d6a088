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

import json
from pathlib import Path

from .config import DistillConfig
from .errors import BadInput, Cancelled
from .run import Run
from .stages import stages_for
from .threadsafe_ast import install as _threadsafe_ast
from .training.callbacks import Callback, Reporter

_threadsafe_ast()  # workers run jobs on several threads; see threadsafe_ast

__all__ = ["DistillConfig", "run_distillation", "BadInput", "Cancelled", "Callback"]


def run_distillation(config: DistillConfig | dict, out_dir: str | Path, callback: Callback | None = None) -> dict:
    """Run the whole pipeline; see the module docstring for the callback, resume and errors."""
    config = config if isinstance(config, DistillConfig) else DistillConfig.model_validate(config)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stages = stages_for(config)
    run = Run(config=config, out=out, reporter=Reporter(callback, [(stage.name, stage.weight) for stage in stages]))
    for index, stage in enumerate(stages):
        if index:  # a stop asked for during a stage is honoured when it ends; the report, once begun, finishes
            run.reporter.check_stop()
        run.reporter.begin(stage.name)
        stage.run(run)
    run.reporter.end()
    report = run.report
    # "order" keeps the running order where a store does not keep keys' order (PostgreSQL's jsonb sorts them)
    report["stages"] = {name: {"seconds": seconds, "order": index}
                        for index, (name, seconds) in enumerate(run.reporter.seconds.items())}
    (out / "report.json").write_text(json.dumps(report, indent=2))
    run.reporter.emit("stage", fraction=1.0, message="completed")
    return report
