"""The one training loop every torch backend uses: cached teacher logits (or, with augmentation,
the teacher online on each augmented batch), early stopping on validation accuracy, a checkpoint
every N steps or every S seconds, and an exact resume.

Exactness: each epoch's order comes from ``default_rng([seed, epoch])`` and each batch's
augmentation from ``default_rng([seed, epoch, step, ...])`` (nothing to save), and the
checkpoint carries the model, optimiser, schedule, objective and torch RNG state, so an interrupted
run resumed from its checkpoint takes the same steps and ends with the same weights.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from ..adapters import Inputs, num_rows, predict_logits, take, token_lengths
from ..errors import Cancelled
from ..losses import distillation_loss
from .augment import batch_rng
from .callbacks import Reporter
from .checkpoint import load_checkpoint, save_atomic
from .threads import StepProbe, ThreadChoice, threads


@dataclass
class TrainSettings:
    epochs: int = 10
    batch_size: int = 64
    learning_rate: float = 3e-3
    weight_decay: float = 1e-4
    warmup_fraction: float = 0.05
    temperature: float = 4.0
    alpha: float = 0.7
    patience: int = 3
    checkpoint_every: int | None = 50  # steps; None: by time alone
    checkpoint_seconds: float | None = None  # whichever of the two comes first; both None: only on stop and at the end
    seed: int = 0
    device: str = "cpu"
    group_by_length: bool = True  # token rows: batches of similar length (see epoch_order)


@dataclass
class TrainResult:
    module: nn.Module
    history: list[dict] = field(default_factory=list)
    best_epoch: int = 0
    stopped_early: bool = False
    steps: int = 0
    seconds: float = 0.0
    samples_per_s: float = 0.0
    resumed_from_step: int | None = None
    batches_by_length: bool = False  # token rows trained in batches of similar length (epoch_order)
    threads: dict | None = None  # the CPU threads it trained on and how they were chosen (training.threads)


class LogitObjective(nn.Module):
    """The Hinton et al. (2015) objective on the student's logits; see :func:`distillation_loss`."""

    def __init__(self, adapter, temperature: float, alpha: float) -> None:
        super().__init__()
        self.adapter, self.temperature, self.alpha = adapter, temperature, alpha

    def forward(self, module, batch, teacher_logits, labels):
        return distillation_loss(self.adapter.forward(module, batch), teacher_logits, labels, self.temperature, self.alpha)


@dataclass
class TrainData:
    inputs: Inputs
    labels: np.ndarray
    teacher_logits: np.ndarray | None = None  # cached (possibly memory-mapped) [n, classes]
    augment: Callable[[Inputs, np.random.Generator], Inputs] | None = None  # new variants of each batch
    online_teacher: Callable[[Inputs], np.ndarray] | None = None  # the teacher's logits of each (augmented) batch
    ranks: np.ndarray | None = None  # curriculum: each row's rank from easy (0) to hard (training.strategies)

    def epoch_rows(self, epoch: int, epochs: int) -> np.ndarray | None:
        """The rows an epoch trains on: all (None), or a curriculum's easiest share."""
        if self.ranks is None:
            return None
        from .strategies import curriculum_rows

        return curriculum_rows(self.ranks, epoch, epochs)

    def epoch_sizes(self, epochs: int) -> list[int]:
        rows = num_rows(self.inputs)
        return [rows if (chosen := self.epoch_rows(e, epochs)) is None else len(chosen) for e in range(epochs)]


class Trainer:
    """Fits ``module`` on ``train`` with ``objective``, keeping the weights best on ``validation``."""

    def __init__(self, module: nn.Module, adapter, objective: nn.Module, settings: TrainSettings,
                 checkpoint: Path | None = None, reporter: Reporter | None = None, fingerprint: str = "") -> None:
        self.module, self.adapter, self.objective, self.settings = module, adapter, objective, settings
        self.fingerprint = fingerprint  # what else must match for a checkpoint to be resumed (data, design)
        self.checkpoint, self.reporter = checkpoint, reporter or Reporter()
        self.device = torch.device(settings.device)
        self._last_loss: torch.Tensor | None = None  # read (a GPU sync) only when reported, saved or logged
        self._saved_at = time.monotonic()

    def fit(self, train: TrainData, validation: TrainData) -> TrainResult:
        with threads(torch.get_num_threads()):  # torch's setting as it was, whatever the steps ran on
            result = self._fit(train, validation)
        result.threads = self.thread_choice.summary() if self.thread_choice else None
        return result

    def _thread_probe(self, train: TrainData, state: dict) -> StepProbe:
        """Chooses the CPU threads on the training's own first steps (training.threads); a resumed run
        keeps the choice its checkpoint recorded. On a GPU, one thread feeds it."""
        if self.device.type == "cuda":
            return StepProbe(None, known=ThreadChoice(1, why="the GPU trains; one CPU thread feeds it"))
        known = ThreadChoice.from_summary(state["threads"]) if state.get("threads") else None
        trained = sum(p.numel() for p in list(self.module.parameters()) + list(self.objective.parameters()))
        shapes = tuple((name, np.shape(array)[1:]) for name, array in sorted(train.inputs.items()))
        key = ("train", type(self.module).__name__, trained, type(self.objective).__name__, shapes,
               self.settings.batch_size, train.teacher_logits is None and train.online_teacher is not None)
        return StepProbe(key, known=known)

    def _keep_choice(self, choice: ThreadChoice | None, state: dict) -> None:
        """Once the probe has chosen: the rest of the training (validation, checkpoints) runs on it, and
        the checkpoints record it, so a resumed run trains on the same count."""
        if choice is None or self.thread_choice is choice:
            return
        self.thread_choice = choice
        state["threads"] = choice.summary()
        torch.set_num_threads(choice.threads)  # fit puts torch's setting back at the end

    def _fit(self, train: TrainData, validation: TrainData) -> TrainResult:
        s = self.settings
        self.module.to(self.device)
        self.objective.to(self.device)
        epoch_steps = [math.ceil(size / s.batch_size) for size in train.epoch_sizes(s.epochs)]
        total = sum(epoch_steps)
        optimizer, schedule = self._optimizer(total)
        state = self._resume(optimizer, schedule)
        self._saved_at = time.monotonic()
        started, first_step, first_samples = time.perf_counter(), state["global_step"], state["samples"]
        lengths = token_lengths(train.inputs) if s.group_by_length else None
        self._by_length = lengths is not None
        probe = self._thread_probe(train, state)
        self.thread_choice = None
        self._keep_choice(probe.choice, state)  # known already: a resumed run's, or this work's in this process
        for epoch in range(state["epoch"], s.epochs if not state["finished"] else 0):
            order = training_order(train, s, epoch, lengths)
            for step in range(state["step_in_epoch"], epoch_steps[epoch]):
                rows = order[step * s.batch_size:(step + 1) * s.batch_size]
                with probe.step():
                    loss = self._step(train, rows, optimizer, schedule, (epoch, step))
                self._keep_choice(probe.choice, state)
                state.update(epoch=epoch, step_in_epoch=step + 1, global_step=state["global_step"] + 1,
                             samples=state["samples"] + len(rows))
                self._after_step(state, loss, total, started, first_step, optimizer, schedule)
            state.update(epoch=epoch + 1, step_in_epoch=0)
            self._keep_choice(probe.decide(), state)  # an epoch shorter than the probe: on what it measured
            if self._end_epoch(state, epoch, validation):
                break
        self.module.load_state_dict(state["best_state"])
        state["finished"] = True
        self._save(state, optimizer, schedule)
        return self._result(state, time.perf_counter() - started, first_step, first_samples)

    def _optimizer(self, total: int):
        s = self.settings
        parameters = [p for p in list(self.module.parameters()) + list(self.objective.parameters()) if p.requires_grad]
        fused = {"fused": True} if self.device.type == "cuda" else {}
        optimizer = torch.optim.AdamW(parameters, lr=s.learning_rate, weight_decay=s.weight_decay, **fused)
        warmup = max(1, int(total * s.warmup_fraction))
        # linear warm-up, then linear decay to 10%: a schedule that depends on the step alone
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: min((step + 1) / warmup, max(0.1, 1 - (step - warmup) / max(1, total - warmup))))
        return optimizer, schedule

    def _step(self, train: TrainData, rows: np.ndarray, optimizer, schedule, at: tuple[int, int]) -> torch.Tensor:
        if not self.module.training:  # train() walks every submodule: ~1 ms a step on a BERT-sized student
            self.module.train()
        inputs = self._inputs(train, rows, at)
        batch = {name: _to_device(tensor, self.device) for name, tensor in take(inputs, slice(None)).items()}
        labels = _to_device(torch.from_numpy(train.labels[rows]), self.device)
        teacher = self._teacher_logits(train, rows, inputs)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.device.type == "cuda"):
            loss = self.objective(self.module, batch, teacher, labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        return loss.detach()

    def _inputs(self, train: TrainData, rows: np.ndarray, at: tuple[int, int]) -> Inputs:
        """The batch's rows as arrays; augmented from ``(seed, epoch, step)`` when the run augments."""
        inputs = {name: array[rows] for name, array in train.inputs.items()}
        return train.augment(inputs, batch_rng(self.settings.seed, *at)) if train.augment is not None else inputs

    def _teacher_logits(self, train: TrainData, rows: np.ndarray, inputs: Inputs) -> torch.Tensor | None:
        """Cached logits, or the teacher run now on this (augmented) batch; None where the objective
        runs the teacher itself, or trains on the labels alone."""
        if train.teacher_logits is not None:
            logits = train.teacher_logits[rows]
        elif train.online_teacher is not None:
            logits = train.online_teacher(inputs)
        else:
            return None
        return _to_device(torch.from_numpy(np.asarray(logits, dtype=np.float32)), self.device)

    def _after_step(self, state, loss, total, started, first_step, optimizer, schedule) -> None:
        step = state["global_step"]
        self._last_loss = loss
        if self._checkpoint_due(step):
            self._save(state, optimizer, schedule)
        if self.reporter.should_stop():
            self._save(state, optimizer, schedule)
            raise Cancelled(f"stopped on request at step {step} of {total}")
        if step % max(1, total // 50) == 0 or step == total:
            done = step - first_step
            rate = done / max(time.perf_counter() - started, 1e-9)
            self.reporter.progress(step / total, step=step, total_steps=total,
                                   metrics={"loss": round(self._loss(state), 5)},
                                   eta_s=round((total - step) / max(rate, 1e-9), 1))

    def _checkpoint_due(self, step: int) -> bool:
        return self.checkpoint is not None and checkpoint_due(self.settings, step, self._saved_at)

    def _end_epoch(self, state: dict, epoch: int, validation: TrainData) -> bool:
        """Record validation metrics and keep the best weights; True when patience runs out."""
        self._loss(state)
        logits = predict_logits(self.module, self.adapter, validation.inputs, 256)
        return end_of_epoch(state, epoch, logits, validation, self.settings.patience, self.reporter,
                            lambda: _cpu_copy(self.module))

    def _fresh_state(self) -> dict:
        return {"epoch": 0, "step_in_epoch": 0, "global_step": 0, "samples": 0, "history": [], "best_accuracy": -1.0,
                "best_loss": math.inf, "best_epoch": 0, "bad_epochs": 0, "stopped_early": False,
                "best_state": _cpu_copy(self.module), "finished": False}

    def _resume(self, optimizer, schedule) -> dict:
        saved = load_checkpoint(self.checkpoint) if self.checkpoint is not None else None
        if saved is None or _trained_by(saved.get("settings") or {}) != _trained_by(asdict(self.settings)) \
                or saved.get("fingerprint") != self.fingerprint:
            return self._fresh_state()
        self.module.load_state_dict(saved["module"])
        self.objective.load_state_dict(saved["objective"])
        optimizer.load_state_dict(saved["optimizer"])
        schedule.load_state_dict(saved["schedule"])
        torch.set_rng_state(saved["torch_rng"])
        state = saved["state"]
        state["resumed_from_step"] = state["global_step"]
        return state

    def _loss(self, state: dict) -> float | None:
        """The last step's loss as a float in ``state``; reading it waits for the GPU, so the loop
        does it only here, never every step."""
        if self._last_loss is not None:
            state["last_loss"], self._last_loss = float(self._last_loss), None
        return state.get("last_loss")

    def _save(self, state: dict, optimizer, schedule) -> None:
        if self.checkpoint is None:
            return
        self._loss(state)
        self._saved_at = time.monotonic()
        save_atomic({"settings": asdict(self.settings), "fingerprint": self.fingerprint, "module": _cpu_copy(self.module),
                     "objective": self.objective.state_dict(), "optimizer": optimizer.state_dict(),
                     "schedule": schedule.state_dict(), "torch_rng": torch.get_rng_state(), "state": state},
                    self.checkpoint)

    def _result(self, state: dict, seconds: float, first_step: int, first_samples: int) -> TrainResult:
        samples = state["samples"] - first_samples
        return TrainResult(module=self.module.eval(), history=state["history"], best_epoch=state["best_epoch"],
                           stopped_early=state["stopped_early"], steps=state["global_step"], seconds=round(seconds, 3),
                           samples_per_s=round(samples / max(seconds, 1e-9), 1),
                           resumed_from_step=state.get("resumed_from_step"), batches_by_length=self._by_length)


def training_order(train: TrainData, s: TrainSettings, epoch: int, lengths: np.ndarray | None = None) -> np.ndarray:
    """The epoch's rows in training order: every row, or the curriculum's share of them."""
    chosen = train.epoch_rows(epoch, s.epochs)
    if chosen is None:
        return epoch_order(s.seed, epoch, num_rows(train.inputs), s.batch_size, lengths)
    return chosen[epoch_order(s.seed, epoch, len(chosen), s.batch_size, lengths[chosen] if lengths is not None else None)]


def checkpoint_due(settings: TrainSettings, step: int, saved_at: float) -> bool:
    """Every ``checkpoint_every`` steps or ``checkpoint_seconds`` seconds (since ``saved_at``, a
    ``time.monotonic()``), whichever comes first: on a GPU each checkpoint (model and optimiser
    state) costs as much as many steps, so a fast run should checkpoint by time."""
    if settings.checkpoint_every and step % settings.checkpoint_every == 0:
        return True
    return settings.checkpoint_seconds is not None and time.monotonic() - saved_at >= settings.checkpoint_seconds


def end_of_epoch(state: dict, epoch: int, logits: np.ndarray, validation: TrainData, patience: int,
                 reporter: Reporter, snapshot: Callable[[], object]) -> bool:
    """One epoch's validation figures into ``state["history"]`` and to the reporter, the weights
    kept by ``snapshot()`` when they are the best so far (accuracy, then loss), and True when
    patience has run out. Every backend's loop ends its epochs here, so they stop by the same rule."""
    accuracy = float((logits.argmax(1) == validation.labels).mean())
    loss = _cross_entropy(logits, validation.labels)
    record = {"epoch": epoch + 1, "train_loss": state.get("last_loss"), "val_accuracy": accuracy, "val_loss": loss}
    if validation.teacher_logits is not None:  # watched by the safety circuit breaker
        record["val_agreement"] = float((logits.argmax(1) == np.asarray(validation.teacher_logits).argmax(1)).mean())
    state["history"].append(record)
    reporter.metric({k: v for k, v in record.items() if v is not None}, step=state["global_step"])
    if (accuracy, -loss) > (state["best_accuracy"], -state["best_loss"]):
        state.update(best_accuracy=accuracy, best_loss=loss, best_epoch=epoch + 1, bad_epochs=0, best_state=snapshot())
    elif state["best_accuracy"] > _majority_share(validation.labels):
        state["bad_epochs"] += 1
    # else: the student has not yet beaten always answering the commonest class; it has not started
    # to learn, and stopping now would hand over a useless model (small students can sit on such a
    # plateau for several epochs before they take off), so patience starts counting once it has
    state["stopped_early"] = state["bad_epochs"] >= patience
    return state["stopped_early"]


def _cross_entropy(logits: np.ndarray, labels: np.ndarray) -> float:
    """Mean cross-entropy of float logits against integer labels (float32, as the losses train)."""
    logits = torch.from_numpy(np.ascontiguousarray(logits, dtype=np.float32))
    return float(nn.functional.cross_entropy(logits, torch.from_numpy(np.asarray(labels, dtype=np.int64))))


GROUP_BATCHES = 50  # batches per window that epoch_order sorts by length


def epoch_order(seed: int, epoch: int, rows: int, batch_size: int, lengths: np.ndarray | None = None) -> np.ndarray:
    """The rows of one epoch in training order; batch ``k`` is ``order[k * batch_size:(k + 1) * batch_size]``.

    Without ``lengths``: a random permutation from ``default_rng([seed, epoch])``. With them (token
    rows), the same permutation is cut into windows of ``GROUP_BATCHES`` batches, each window sorted
    by length and cut into batches, and the full batches of a window shuffled (a window's short last
    batch stays last, so every batch after it stays whole). Each batch then holds rows of similar
    length and is trimmed to little more than their own length instead of to the longest of a
    random few dozen: on movie-review sentences (median 26 tokens, max 64) that is about half the
    tokens. The rows a window holds, and the batch order, are still random each epoch, as in
    Hugging Face's ``group_by_length``.
    """
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(rows)
    if lengths is None:
        return order
    window = batch_size * GROUP_BATCHES
    out = []
    for start in range(0, rows, window):
        chunk = order[start:start + window]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        full = len(chunk) // batch_size
        batches = [chunk[i * batch_size:(i + 1) * batch_size] for i in range(full)]
        out.extend(batches[i] for i in rng.permutation(full))
        if len(chunk) > full * batch_size:
            out.append(chunk[full * batch_size:])
    return np.concatenate(out) if out else order


def _majority_share(labels: np.ndarray) -> float:
    """The accuracy of always answering the validation split's commonest class."""
    return float(np.bincount(np.asarray(labels, dtype=np.int64)).max() / len(labels)) if len(labels) else 0.0


def _trained_by(settings: dict) -> dict:
    """The settings that change the weights: how often checkpoints are written does not."""
    return {k: v for k, v in settings.items() if k not in ("checkpoint_every", "checkpoint_seconds")}


def _to_device(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A batch onto the GPU without a stall: a copy from pageable memory waits for the GPU to drain
    its queue (every step, so the CPU cannot launch ahead); from pinned memory it is asynchronous."""
    if device.type != "cuda":
        return tensor
    return tensor.pin_memory().to(device, non_blocking=True)


def _cpu_copy(module: nn.Module) -> dict:
    return {name: tensor.detach().to("cpu", copy=True) for name, tensor in copy.copy(module.state_dict()).items()}
