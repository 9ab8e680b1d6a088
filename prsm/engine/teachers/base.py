"""What every teacher offers the engine, whatever framework it came from."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Callable

import numpy as np

from ..adapters import Inputs, num_rows, take
from ..data.types import TaskData
from ..errors import BadInput

GENERIC_LABEL_PREFIXES = ("LABEL_",)


class Teacher(ABC):
    """A trained classifier used as a source of soft labels.

    ``classes`` is the teacher's own class order, or None when it does not say (the data's sorted
    order is then assumed). ``runtime`` names where it runs, so latency comparisons use the same one.
    """

    kind: str = ""
    runtime: str = "pytorch"
    task: str = ""
    classes: list[str] | None = None
    module = None  # the torch module, for torch teachers
    thread_choice = None  # the CPU threads its passes were measured fastest on (training.threads), once measured
    adapter = None

    def __init__(self, ref: str) -> None:
        self.ref = ref

    @abstractmethod
    def check(self, data: TaskData) -> None:
        """Refuse data whose shape the teacher cannot take (BadInput)."""

    @abstractmethod
    def describe(self) -> dict:
        """Parameters, bytes and the architecture's shape (layers, width, heads)."""

    def encode(self, data: TaskData) -> Inputs:
        return self.adapter.encode(data)

    def logits(self, data: TaskData, batch_size: int = 256) -> np.ndarray:
        return self.logits_of(self.encode(data), batch_size)

    def logits_of(self, inputs: Inputs, batch_size: int = 256) -> np.ndarray:
        """The teacher's logits of ``inputs``, on the CPU threads its first batches ran fastest on
        (training.threads); the choice is kept in ``thread_choice``."""
        from ..training.threads import measured_logits

        logits, choice = measured_logits(self.module, self.adapter, inputs, batch_size, key=("teacher", self.ref))
        self.thread_choice = choice or self.thread_choice
        return logits

    def cost(self, inputs: Inputs) -> dict:
        """Latency at batch 1 and 32, memory and FLOPs in the teacher's own runtime (PyTorch here)."""
        from ..evaluation.compare import torch_cost

        return torch_cost(self.module, self.adapter, inputs)

    def runner(self, inputs: Inputs, batch: int) -> Callable[[], object]:
        """A zero-argument call running one batch of ``batch`` rows, for latency measurement."""
        import torch

        rows = np.arange(batch) % num_rows(inputs)
        tensors = take(inputs, rows)

        def run():
            with torch.inference_mode():
                return self.adapter.forward(self.module, tensors)

        self.module.eval()
        return run

    def report_extra(self) -> dict:
        """Fields this kind of teacher adds to the report's ``teacher`` section (an HTTP teacher's usage)."""
        return {}

    @property
    def num_outputs(self) -> int:
        return len(self.classes) if self.classes else 0


def align_classes(data: TaskData, teacher: Teacher) -> TaskData:
    """The data relabelled in the teacher's class order (CONTRACT: a teacher's order wins).

    Generic names (``LABEL_0``, or none at all) mean the teacher does not say: the data's sorted
    order stands, provided the counts agree.
    """
    outputs = teacher.num_outputs
    if teacher.classes is None or _generic(teacher.classes):
        if outputs and outputs != data.num_classes:
            raise BadInput(f"the teacher has {outputs} classes, the data {data.num_classes} ({', '.join(data.classes)})")
        if teacher.classes is None or _generic(teacher.classes):
            teacher.classes = list(data.classes)
        return data
    unknown = [name for name in data.classes if name not in teacher.classes]
    if unknown:
        raise BadInput(f"data label {unknown[0]!r} is not one of the teacher's classes ({', '.join(teacher.classes)})")
    position = np.array([teacher.classes.index(name) for name in data.classes])
    aligned = data.subset(np.arange(len(data)))
    aligned.classes = list(teacher.classes)
    aligned.labels = position[data.labels]
    return aligned


def _generic(classes: list[str]) -> bool:
    return all(name.startswith(GENERIC_LABEL_PREFIXES) for name in classes)
