"""The state one distillation run hands from stage to stage.

:func:`prsm.engine.pipeline.run_distillation` makes a :class:`Run`; each stage in
:data:`prsm.engine.stages.STAGES` reads what the stages before it produced and fills in its own
fields. A field is ``None`` until the stage that produces it has run (or, for the optional steps,
when the run does not do that step).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .adapters import Inputs
from .backends.base import Backend, Student
from .config import DistillConfig
from .data.splits import Split
from .data.types import TaskData
from .teachers.base import Teacher
from .training.augment import Augmentation
from .training.callbacks import Reporter
from .training.loop import TrainResult, TrainSettings


@dataclass
class Run:
    """What the stages hand each other, one group of fields per stage that writes them."""

    config: DistillConfig
    out: Path
    reporter: Reporter
    started: float = field(default_factory=time.time)  # wall clock, for the report's started_at

    # load_data, load_teacher
    data: TaskData | None = None
    teacher: Teacher | None = None
    teacher_describe: dict | None = None  # Teacher.describe(): params, size_bytes, layers, width, heads
    backend: Backend | None = None
    specialty_data: list = field(default_factory=list)  # each specialty check's rows (None: the test split)
    # split
    split: Split | None = None
    split_rule: str = ""  # how the test rows were chosen, in words
    unlabelled: TaskData | None = None  # rows for the teacher to label (a transfer set), or None
    search_made_rows: bool = False  # the unlabelled rows are text variants made for the search to try
    # teacher_eval
    teacher_test_logits: np.ndarray | None = None
    teacher_quality: dict | None = None  # evaluation.metrics.quality on the test split
    # design
    design: dict = field(default_factory=dict)  # the design record, as saved in checkpoints/design.json
    chosen: dict | None = None  # the chosen candidate's record (the fields of students.design.Candidate)
    # cache_teacher (hyper: temperature, alpha, lr_scale; the defaults, or the search's choice after it)
    hyper: dict = field(default_factory=dict)
    student: Student | None = None
    training_rows: TaskData | None = None  # labelled rows then unlabelled ones, when there is a transfer set
    train_inputs: Inputs | None = None  # the student's encoding of the training rows
    augmentation: Augmentation | None = None
    teacher_train_logits: np.ndarray | None = None  # cached teacher outputs; None when the teacher runs online
    progressive: dict | None = None  # progressive: the teacher assistant's design and training, where one was trained
    attack: dict | None = None  # adversarial: the perturbations' settings (training.strategies.attack_settings)
    specialty_checks: dict[str, dict] = field(default_factory=dict)  # evaluate: the request's named checks
    update: dict | None = None  # evaluate: a student_from model before and after, by domain (finish._update)
    under_attack: dict | None = None  # evaluate: the student's accuracy under a PGD attack, where measured
    # search: the trials and the choice (students.search), None when the run does not search
    search: dict | None = None
    # train
    validation_inputs: Inputs | None = None
    train_result: TrainResult | None = None
    train_settings: TrainSettings | None = None
    # train: the search's chosen trial, where it scored higher on validation than the full training
    # and its weights were kept instead ({"trial", "val_accuracy", "final_val_accuracy"}), else None
    kept_trial: dict | None = None
    # baseline
    baseline_student: Student | None = None
    baseline_result: TrainResult | None = None
    # evaluate
    student_test_logits: np.ndarray | None = None
    student_quality: dict | None = None  # quality plus agreement, per-class accuracy, confusion matrix
    baseline_quality: dict | None = None
    teacher_cost: dict | None = None  # evaluation.compare: latencies, memory, FLOPs, runtime, threads
    student_cost: dict | None = None  # in the teacher's runtime
    student_own_cost: dict | None = None  # in the student's own runtime (PyTorch; TFLite for a Keras student)
    # export
    exports: dict[str, dict] = field(default_factory=dict)  # format -> path, sha256, size_bytes, verified, ...
    # the safety checks (stages.safety), collected by the stages that run them: name -> check record
    safety_checks: dict[str, dict] = field(default_factory=dict)
    # report
    report: dict | None = None

    @property
    def design_teacher(self) -> Teacher:
        """The teacher the student is designed, built and cut from: the teacher, or an ensemble's
        primary member (its layers and tokenizer); the soft targets come from ``teacher`` itself."""
        return getattr(self.teacher, "primary", self.teacher)

    @property
    def state_dir(self) -> Path:
        return self.out / "checkpoints"

    def fingerprint(self) -> str:
        """What a checkpoint, a cache or a design must match to be reused: the config's training
        fields, the data's hash and the teacher's files."""
        parts = {"config": self.config.training_fingerprint(), "data": self.data.sha256, "teacher": self.teacher.ref,
                 "teacher_size": self.teacher_describe["size_bytes"]}
        if self.config.unlabelled_data:  # the rows themselves, not only their reference
            parts["unlabelled"] = self.unlabelled.sha256 if self.unlabelled is not None else None
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()
