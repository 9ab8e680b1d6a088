"""The pipeline's stages, in running order; each takes the shared :class:`~prsm.engine.run.Run`
and fills in its fields.

:data:`STAGES` is the one list of them: :func:`prsm.engine.pipeline.run_distillation` runs it in
order, and the :class:`~prsm.engine.training.callbacks.Reporter` turns each stage's weight into its
share of the run's 0..100 progress.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from ..run import Run
from .build import build_teacher, teacher_build_needed
from .finish import evaluate, export, report
from .prepare import design, load_data, load_teacher, split, teacher_eval
from .search import search
from .train import assistant, baseline, cache_teacher, train


class Stage(NamedTuple):
    name: str  # the ``stage`` of its events and its key in report.json's ``stages``
    run: Callable[[Run], None]
    weight: int  # its share of the overall progress, relative to the other stages'
    needed: Callable[[object], bool] | None = None  # given the config; None: every run


STAGES: tuple[Stage, ...] = (
    Stage("build_teacher", build_teacher, 30, needed=teacher_build_needed),
    Stage("load_data", load_data, 3),
    Stage("load_teacher", load_teacher, 3),
    Stage("split", split, 1),
    Stage("design", design, 5),
    Stage("cache_teacher", cache_teacher, 5),
    Stage("assistant", assistant, 20, needed=lambda config: "progressive" in config.strategies),
    Stage("search", search, 30, needed=lambda config: config.search != "off"),
    Stage("train", train, 50),
    Stage("baseline", baseline, 10),
    # the test split is read here first: nothing before chooses anything by it
    Stage("teacher_eval", teacher_eval, 8),
    Stage("evaluate", evaluate, 7),
    Stage("export", export, 7),
    Stage("report", report, 1),
)

__all__ = ["STAGES", "Stage", "stages_for", "build_teacher", "load_data", "load_teacher", "split", "teacher_eval", "design", "cache_teacher", "assistant", "search", "train",
           "baseline", "evaluate", "export", "report"]


def stages_for(config) -> tuple[Stage, ...]:
    """The stages a run of ``config`` goes through (a catalog teacher already built skips its build)."""
    return tuple(stage for stage in STAGES if stage.needed is None or stage.needed(config))
