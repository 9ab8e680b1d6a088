"""The pipeline's stages, in running order; each takes the shared ``Run`` and fills it in."""

from .prepare import design, load_data, load_teacher, split, teacher_eval
from .train import baseline, cache_teacher, train
from .finish import evaluate, export, report

__all__ = ["load_data", "load_teacher", "split", "teacher_eval", "design", "cache_teacher", "train", "baseline",
           "evaluate", "export", "report"]
