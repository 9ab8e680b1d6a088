"""Stages that train: the teacher-output cache, the distilled student, the labels-only baseline.

With ``augment`` the batches change every epoch, so nothing is cached: the teacher runs online on
each augmented batch, either in the objective (which holds the teacher, on the training device) or
in the loop, through the teacher's own ``logits_of`` (any runtime, ONNX included)."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import torch

from ..adapters import Inputs
from ..backends.base import Student
from ..data.types import TaskData
from ..data.unlabelled import concat
from ..run import Run
from ..students.design import Candidate
from ..students.search import DEFAULTS
from ..training.augment import augmentation_for
from ..training.cache import cached_teacher_logits
from ..training.checkpoint import load_checkpoint
from ..training.loop import TrainData, TrainSettings
from ..training.strategies import attack_settings, difficulty_ranks
from .prepare import design_params, teacher_logits_key
from .safety import fit_with_breaker

DEFAULT_TEMPERATURE, DEFAULT_ALPHA = DEFAULTS["temperature"], DEFAULTS["alpha"]


def _device(run: Run) -> str:
    if run.config.device != "auto":
        return run.config.device
    return "cuda" if torch.cuda.is_available() else "cpu"


def _build(run: Run, design: dict | None = None) -> Student:
    """A fresh student of ``design`` (a candidate's record; the chosen one by default), from the seed."""
    candidate = Candidate(**(design if design is not None else run.chosen))
    source = candidate.source or {"base": run.config.student_base, "vocabulary_size": run.config.vocabulary_size}
    return run.backend.build(candidate, run.design_teacher, run.split.train, run.config.seed, base=source.get("base"),
                             vocabulary_size=source.get("vocabulary_size"))


def hyper_defaults(run: Run) -> dict:
    """T, alpha and the learning rate's scale without a search: the request's own, else the defaults."""
    c = run.config
    return {"temperature": c.temperature if c.temperature is not None else DEFAULT_TEMPERATURE,
            "alpha": c.alpha if c.alpha is not None else DEFAULT_ALPHA, "lr_scale": 1.0, "extra": True}


def settings_for(run: Run, student: Student, alpha: float) -> TrainSettings:
    c = run.config
    defaults = run.backend.default_settings(student, len(training_rows(run)) if alpha > 0 else len(run.split.train))
    chosen = {"epochs": c.epochs, "batch_size": c.batch_size, "learning_rate": c.learning_rate, "patience": c.patience}
    values = {k: (v if v is not None else defaults[k]) for k, v in chosen.items()}
    if c.learning_rate is None:
        values["learning_rate"] = defaults["learning_rate"] * run.hyper["lr_scale"]
    return TrainSettings(**values, temperature=run.hyper["temperature"], alpha=alpha, checkpoint_every=c.checkpoint_every,
                         checkpoint_seconds=c.checkpoint_seconds, seed=c.seed, device=_device(run))


def training_rows(run: Run) -> TaskData:
    """The labelled training rows, then any unlabelled ones (a transfer set) for the teacher to label,
    unless the search chose the student better without them."""
    if run.unlabelled is None or run.hyper.get("extra") is False:
        return run.split.train
    if run.training_rows is None:
        run.training_rows = concat(run.split.train, run.unlabelled)
    return run.training_rows


def cache_teacher(run: Run) -> None:
    run.hyper = hyper_defaults(run)
    run.student = _build(run)
    rows = training_rows(run)
    inputs = run.student.adapter.encode(rows)
    run.train_inputs = inputs
    if run.config.augment:
        run.augmentation = augmentation_for(run.data.task, inputs, run.student.adapter, run.config.augment_flip)
    elif run.config.alpha != 0:  # None: the search chooses, and every distilled trial reads them
        run.teacher_train_logits = cached_teacher_logits(
            run.teacher, _teacher_inputs(run, rows, inputs), run.out / "cache",
            teacher_logits_key(run, "train", rows), run.reporter)


def _teacher_inputs(run: Run, rows: TaskData, student_inputs: Inputs) -> Inputs:
    """The teacher's own encoding; a transformer student shares its teacher's tokenizer, so the
    student's inputs serve (and are computed once)."""
    if getattr(run.student.adapter, "kind", "") == getattr(run.teacher.adapter, "kind", None) == "sequence" \
            and run.student.adapter.tokenizer is run.teacher.adapter.tokenizer:
        return student_inputs
    return run.teacher.encode(rows)


def assistant(run: Run) -> None:
    """Progressive distillation (Mirzadeh et al., 2020, "Improved Knowledge Distillation via Teacher
    Assistant"): an assistant of intermediate size, about the geometric mean of the teacher's and the
    student's parameters, learns from the teacher first; the student then learns from the assistant's
    outputs (cached), which are nearer to what a small model can follow. Evaluation still compares
    the student with the teacher."""
    design = _assistant_design(run)
    if design is None:
        run.progressive = {"assistant": None, "why": "no design lies between the teacher and the student: "
                                                      "the student learns from the teacher directly"}
        run.reporter.log(run.progressive["why"])
        return
    student = _build(run, design)
    alpha = run.hyper["alpha"] if run.hyper["alpha"] > 0 else DEFAULT_ALPHA
    settings = settings_for(run, student, alpha)
    transfer = _assistant_transfer(run, student)
    objective = run.backend.objective(student, run.design_teacher, settings, transfer)
    rows = training_rows(run)
    inputs = run.train_inputs if type(student.adapter) is type(run.student.adapter) \
        and getattr(student.adapter, "tokenizer", None) is getattr(run.student.adapter, "tokenizer", None) \
        else student.adapter.encode(rows)
    data = TrainData(inputs, rows.labels, run.teacher_train_logits)
    validation = TrainData(student.adapter.encode(run.split.validation), run.split.validation.labels)
    run.reporter.log(f"teacher assistant {design['name']}: {design['params']:,} params, between the teacher's "
                     f"{design_params(run):,} and the student's {run.chosen['params']:,}")
    with _on_training_device(run, settings, student, online=transfer != ["logits"]):
        result = fit_with_breaker(run, lambda: run.backend.fit(student, data, validation, settings, objective,
                                                               run.state_dir / "assistant.pt", run.reporter,
                                                               run.fingerprint() + ":assistant"))
    logits = run.backend.evaluate(student, rows).astype("float32")
    run.teacher_train_logits = logits  # the student learns from the assistant from here on
    best = max((h["val_accuracy"] for h in result.history), default=None)
    run.progressive = {"assistant": design["name"], "assistant_params": student.params,
                       "assistant_validation_accuracy": best, "assistant_epochs_trained": len(result.history),
                       "assistant_seconds": result.seconds, "temperature": settings.temperature, "alpha": settings.alpha,
                       "assistant_transfer": transfer}


def _assistant_transfer(run: Run, assistant: Student) -> list[str]:
    """What the assistant learns of the teacher: a transformer assistant made of the teacher's own layers
    learns them layer by layer (each of its layers the hidden states of the teacher layer it was taken
    from, as TinyBERT does) beside the logits; any other, the logits."""
    layered = run.backend.name == "transformers" and not assistant.extra.get("light") \
        and assistant.extra.get("base") is None and not assistant.extra.get("copy") \
        and (assistant.extra.get("initialised_from") or {}).get("teacher_layers") \
        and isinstance(getattr(run.design_teacher, "module", None), torch.nn.Module)
    return ["logits", "hidden"] if layered else ["logits"]


def _assistant_design(run: Run) -> dict | None:
    """The largest design of the student's family within the geometric mean of the teacher's and the
    student's parameters, and at least twice the student's; None when there is none."""
    import math

    final, teacher = run.chosen["params"], design_params(run)
    ceiling = math.sqrt(final * teacher)
    family = run.chosen["architecture"].get("kind")
    candidates = run.backend.candidates(run.design_teacher, run.split.train, base=run.config.student_base,
                                        vocabulary_size=run.config.vocabulary_size)
    pool = [c for c in candidates if 2 * final <= c.params <= ceiling and c.architecture.get("kind") == family
            and not c.source]
    if not pool:
        return None
    return max(pool, key=lambda c: (c.params, c.name)).summary()


def with_strategies(run: Run, objective: torch.nn.Module, data: TrainData,
                    student_module: torch.nn.Module | None = None) -> torch.nn.Module:
    """The run's training strategies applied to one training: curriculum ranks the rows of ``data``
    by the teacher's confidence; adversarial wraps the objective (training.strategies)."""
    strategies = run.config.strategies
    if "curriculum" in strategies and data.teacher_logits is not None:
        data.ranks = difficulty_ranks(data.teacher_logits, data.labels)
    if "adversarial" in strategies and run.data.task == "text":
        from ..errors import BadInput
        from ..training.strategies import ADVERSARIAL_EPSILON, EmbeddingAdversarialObjective, embeddings_adversarial_ready

        if not embeddings_adversarial_ready(student_module):
            raise BadInput("adversarial training of text perturbs a transformer student's input embeddings; this "
                           "student has none to perturb")
        epsilon = run.config.adversarial_epsilon or ADVERSARIAL_EPSILON["text"]
        run.attack = {"key": "inputs_embeds", "epsilon": epsilon, "scale": None, "bounds": None}
        objective = EmbeddingAdversarialObjective(objective, epsilon)
    elif "adversarial" in strategies:
        objective = run.backend.adversarial_objective(objective, attack_of(run))
    return objective


def attack_of(run: Run) -> dict:
    """The adversarial perturbations' key, size, per-feature scale and bounds for this run's rows."""
    if run.attack is None:
        run.attack = attack_settings(run.data.task, run.train_inputs, run.config.adversarial_epsilon)
    return run.attack


def train(run: Run) -> None:
    settings = settings_for(run, run.student, run.hyper["alpha"])
    objective = run.backend.objective(run.student, run.design_teacher, settings, run.config.transfer)
    train_data = TrainData(run.train_inputs, training_rows(run).labels, run.teacher_train_logits,
                           augment=run.augmentation, online_teacher=_online_teacher(run, objective))
    objective = with_strategies(run, objective, train_data, run.student.module)
    validation = TrainData(run.student.adapter.encode(run.split.validation), run.split.validation.labels)
    run.validation_inputs = validation.inputs
    validation.teacher_logits = _validation_teacher_logits(run, validation.inputs)
    with _on_training_device(run, settings, run.student, online=train_data.online_teacher is not None):
        result = fit_with_breaker(run, lambda: run.backend.fit(run.student, train_data, validation, settings, objective,
                                                               run.state_dir / "student.pt", run.reporter, run.fingerprint()))
    run.train_result = result
    run.train_settings = settings
    run.kept_trial = _keep_trial_if_better(run, result)


def trial_weights(run: Run, number: int) -> Path:
    """Where the search keeps a finished trial's weights (its best epoch's)."""
    return run.state_dir / f"trial-{number}.pt"


def _keep_trial_if_better(run: Run, result) -> dict | None:
    """The chosen trial's weights, where they scored higher on validation than the full training's
    best epoch: a short trial whose learning rate decays within it can end above a longer run of
    the same settings (seen on movie reviews: 0.811 against 0.797). Both are scored on the same
    validation rows in the same encoding; the test split is read later, once, whichever is kept."""
    if not run.search:
        return None
    trial = run.search["trials"][run.search["chosen"]]  # trials are listed in their numbers' order
    final = max((h["val_accuracy"] for h in result.history), default=None)
    path = trial_weights(run, trial["number"])
    if final is None or trial["val_accuracy"] <= final or not path.is_file():
        return None
    run.backend.load_weights(run.student, load_checkpoint(path))
    run.reporter.log(f"kept trial {trial['number'] + 1}'s weights: validation accuracy {trial['val_accuracy']:.4f}, "
                     f"the full training's best {final:.4f}")
    return {"trial": trial["number"], "val_accuracy": trial["val_accuracy"], "final_val_accuracy": final}


@contextmanager
def _on_training_device(run: Run, settings: TrainSettings, student: Student, online: bool):
    """Train on the configured device (an online teacher beside the student), then bring both back
    to the CPU: the evaluation, its latencies and the exports are CPU figures whatever trained."""
    teacher_module = getattr(run.teacher, "module", None)
    if online and settings.device != "cpu" and isinstance(teacher_module, torch.nn.Module):
        teacher_module.to(settings.device)
    try:
        yield
    finally:
        run.backend.to_cpu(student)
        if isinstance(teacher_module, torch.nn.Module):
            teacher_module.to("cpu")


def _online_teacher(run: Run, objective: torch.nn.Module):
    """The teacher's logits for each augmented batch, where the objective does not run the teacher
    itself (the transformer objective holds it and runs it on the student's device)."""
    if not run.config.augment or run.config.alpha == 0 or getattr(objective, "teacher", None) is not None:
        return None
    return lambda inputs: run.teacher.logits_of(inputs, batch_size=len(next(iter(inputs.values()))))


def _validation_teacher_logits(run: Run, inputs: Inputs):
    """The teacher on the validation split, for the circuit breaker's agreement watch (cached)."""
    if not (run.config.checks.enabled and run.config.checks.max_agreement_drop):
        return None
    return cached_teacher_logits(run.teacher, _teacher_inputs(run, run.split.validation, inputs), run.out / "cache",
                                 teacher_logits_key(run, "validation"))


def baseline(run: Run) -> None:
    """The same student, same seed and schedule, trained on the labels alone (alpha = 0)."""
    if not run.config.baseline:
        return
    student = _build(run)
    settings = settings_for(run, student, alpha=0.0)
    objective = run.backend.objective(student, run.design_teacher, settings, ["logits"])
    labelled = len(run.split.train)  # the first rows; unlabelled ones after them mean nothing without a teacher
    inputs = {name: array[:labelled] for name, array in run.train_inputs.items()}
    train_data = TrainData(inputs, run.split.train.labels, None, augment=run.augmentation)
    validation = TrainData(run.validation_inputs, run.split.validation.labels)
    with _on_training_device(run, settings, student, online=False):
        result = run.backend.fit(student, train_data, validation, settings, objective,
                                 run.state_dir / "baseline.pt", run.reporter, run.fingerprint() + ":baseline")
    run.baseline_student = student
    run.baseline_result = result
