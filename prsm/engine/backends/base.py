"""The interface every backend implements; the pipeline talks to backends only through it.

A backend knows its students: which candidates to try (``candidates``/``measure``), how to build
one (``build``), how to train it (``fit``), run it (``evaluate``) and write it out (``export``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from torch import nn

from ..data.types import TaskData
from ..errors import BadInput
from ..students.design import Candidate
from ..training.callbacks import Reporter
from ..training.loop import LogitObjective, Trainer, TrainData, TrainResult, TrainSettings


# Every backend trains with every strategy (training.strategies) except these, on this data: adversarial
# training perturbs image and tabular tensors or a transformer's input embeddings, and a Keras text
# student (an embedding bag over token ids) has neither. The planner reads this before anything loads.
NOT_TRAINED = {("tensorflow", "text", "adversarial"): "a Keras text student reads token ids, which have no gradient "
                                                      "to follow, and has no transformer embeddings to perturb"}


def strategy_refused(backend: str, strategies, task: str | None) -> tuple[str, str] | None:
    """The first of ``strategies`` that ``backend`` cannot train with on ``task`` data, and why; None: none."""
    for strategy in strategies:
        if why := NOT_TRAINED.get((backend, task, strategy)):
            return strategy, f"the {strategy} strategy is not available on the {backend} backend for {task}: {why}"
    return None


@dataclass
class Student:
    module: nn.Module
    adapter: object
    architecture: dict
    family: str
    extra: dict = field(default_factory=dict)

    @property
    def params(self) -> int:
        """Trainable parameters (a Keras model's as PyTorch counts them: state is not a parameter)."""
        if isinstance(self.module, nn.Module):
            return int(sum(p.numel() for p in self.module.parameters()))
        return int(sum(int(np.prod(w.shape)) for w in self.module.trainable_weights))


class Backend(ABC):
    name: str = ""
    tasks: tuple[str, ...] = ()
    default_exports: tuple[str, ...] = ()
    formats: tuple[str, ...] = ()

    @abstractmethod
    def candidates(self, teacher, train: TaskData, base: str | None = None,
                   vocabulary_size: int | None = None) -> list[Candidate]:
        """``base``: a pretrained model the students start from (``student_base``), where the
        backend has any; ``vocabulary_size``: a cap on a token student's vocabulary. A backend
        that has no such thing refuses it."""

    def search_candidates(self, teacher, train: TaskData, budget: int, base: str | None = None,
                          vocabulary_size: int | None = None, light_students: bool = True,
                          pretrained: bool = True) -> list[Candidate]:
        """Students only the search tries (other families than the design rule's), within ``budget``
        parameters; measured like the rest. ``light_students``: students without a Transformers
        format may be offered; ``pretrained``: students cut from a pretrained base (their own
        tokenizer) may be. None by default."""
        return []

    def default_exports_for(self, student: Student) -> tuple[str, ...]:
        """The formats written when the request names none, for this student."""
        return self.default_exports

    def copy_candidate(self, path: str, train: TaskData) -> Candidate:
        """The design of a model the student starts as a copy of (``student_from``)."""
        raise BadInput(f"student_from: the {self.name} backend cannot start a student from a copy of a model yet; "
                       "the pytorch backend copies a zoo folder and the transformers backend a Hugging Face directory")

    @abstractmethod
    def measure(self, candidate: Candidate, teacher, train: TaskData) -> None: ...

    def measure_mobile(self, candidate: Candidate, teacher, train: TaskData) -> None:
        """Latency and memory as the candidate would run on a phone (``target_hardware`` mobile)."""
        raise BadInput(f"target_hardware 'mobile' is measured as a TFLite int8 file, which the {self.name} backend "
                       "does not write: use the tensorflow backend (or backend auto)")

    @abstractmethod
    def build(self, candidate: Candidate, teacher, train: TaskData, seed: int, base: str | None = None,
              vocabulary_size: int | None = None) -> Student: ...

    @abstractmethod
    def default_settings(self, student: Student, train_rows: int) -> dict:
        """Learning rate and batch size that suit this family (a config may override them)."""

    def objective(self, student: Student, teacher, settings: TrainSettings, transfer: list[str]) -> nn.Module:
        return LogitObjective(student.adapter, settings.temperature, settings.alpha)

    def fit(self, student: Student, train: TrainData, validation: TrainData, settings: TrainSettings,
            objective: nn.Module, checkpoint: Path | None, reporter: Reporter, fingerprint: str = "") -> TrainResult:
        trainer = Trainer(student.module, student.adapter, objective, settings, checkpoint, reporter, fingerprint)
        return trainer.fit(train, validation)

    def evaluate(self, student: Student, data: TaskData) -> np.ndarray:
        """The student's logits of ``data``, on the CPU threads measured fastest for it (training.threads)."""
        from ..training.threads import measured_logits

        return measured_logits(student.module, student.adapter, student.adapter.encode(data),
                               key=("student", student.params))[0]

    def adversarial_objective(self, objective: nn.Module, attack: dict):
        """``objective`` on PGD perturbations of each batch as well (``attack``: ``attack_settings``')."""
        from ..training.strategies import AdversarialObjective

        return AdversarialObjective(objective, **attack)

    def accuracy_under_attack(self, student: Student, data: TaskData, attack: dict, seed: int) -> float | None:
        """The student's accuracy on ``data`` under a PGD attack (image and tabular tensors); None where
        its inputs take no gradient."""
        if getattr(student.adapter, "kind", "") != "tensor":
            return None
        from ..training.strategies import accuracy_under_attack

        return accuracy_under_attack(student.module, student.adapter, student.adapter.encode(data), data.labels, attack,
                                     seed=seed)

    @abstractmethod
    def export(self, student: Student, formats: list[str], folder: Path, root: Path, test: TaskData) -> dict:
        """Write each format under ``folder``, verify it, and return {format: record}."""

    # What the stages need of a trained student beyond fit/evaluate/export; torch's by default,
    # and a backend whose students are not torch modules (tensorflow) overrides each.

    def weights(self, student: Student) -> dict:
        """The student's weights as tensors, for a checkpoint file (read back with ``weights_only``)."""
        return {name: tensor.detach().to("cpu", copy=True) for name, tensor in student.module.state_dict().items()}

    def load_weights(self, student: Student, weights: dict) -> None:
        student.module.load_state_dict(weights)

    def to_cpu(self, student: Student) -> None:
        student.module.to("cpu")

    def size_bytes(self, student: Student) -> int:
        return int(sum(p.numel() * p.element_size() for p in student.module.parameters()))

    def cost(self, student: Student, inputs: dict) -> dict:
        """Latency at batch 1 and 32, memory and FLOPs in the student's own runtime."""
        from ..evaluation.compare import torch_cost

        return torch_cost(student.module, student.adapter, inputs)

    def latency_onnx(self, student: Student, inputs: dict, path: Path, classes: list[str]) -> Path | None:
        """The student as ONNX, to be timed in onnxruntime beside an ONNX teacher; None where the
        backend has no such export (its own runtime's figures stand)."""
        from ..export.onnx import export_onnx

        return export_onnx(student.module, student.adapter, {k: v[:2] for k, v in inputs.items()}, path, classes)

    def adversarial(self, student: Student, data: TaskData, epsilon: float) -> TaskData:
        """FGSM rows against this student (the robustness check's white-box attack on images)."""
        from ..checks.perturb import fgsm

        return fgsm(student.module, data, epsilon)
