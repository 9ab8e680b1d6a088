"""Distillation in Keras: a ``Distiller`` model whose ``train_step`` computes the engine's loss
(Hinton et al., 2015, as :func:`prsm.engine.losses.distillation_loss` writes it for torch), fitted
one epoch at a time with ``Model.fit`` so that the engine decides what the torch loop decides:

- the rows of each epoch in :func:`prsm.engine.training.loop.epoch_order`'s order, the teacher's
  logits cached (or, with augmentation, run on each augmented batch before the epoch is fitted);
- AdamW with the torch loop's schedule (linear warm-up over 5% of the steps, then linear decay to
  10%), driven by the optimiser's own step counter, so a resumed run continues the schedule;
- validation accuracy after each epoch, the best weights kept, early stopping with the torch
  loop's patience rule (counted once the student beats always answering the commonest class);
- a Keras callback that reports progress and the loss (the circuit breaker and the spending meter
  watch the reporter), asks the reporter whether to stop, and writes a checkpoint every N steps
  or S seconds; a checkpoint holds the weights, the optimiser's variables and where the epoch was,
  so an interrupted run resumes at the same step with the same rows to come.

The Keras ``keras.distillation.Distiller`` needs the teacher as a Keras model; the engine's teachers
are ONNX, PyTorch or Hugging Face models whose outputs are cached, so the loss is written here.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from ...errors import Cancelled
from ...training.augment import batch_rng
from ...training.callbacks import Reporter
from ...training.checkpoint import load_checkpoint, save_atomic
from ...training.loop import (TrainData, TrainResult, TrainSettings, _trained_by, checkpoint_due, end_of_epoch,
                              training_order)
from ...training.strategies import ADVERSARIAL_MIX, TRAIN_PGD_STEPS
from .models import input_dtype, keras  # the backend chosen before keras loads

import tensorflow as tf  # noqa: E402  (keras' runtime; imported after models set KERAS_BACKEND)


class WarmupLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """The torch loop's schedule: linear warm-up, then linear decay to 10% of the peak."""

    def __init__(self, peak: float, warmup: int, total: int) -> None:
        self.peak, self.warmup, self.total = peak, warmup, total

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        up = (step + 1) / self.warmup
        down = tf.maximum(0.1, 1 - (step - self.warmup) / max(1, self.total - self.warmup))
        return self.peak * tf.minimum(up, down)

    def get_config(self) -> dict:
        return {"peak": self.peak, "warmup": self.warmup, "total": self.total}


def distillation_loss(logits, teacher, labels, temperature: float, alpha: float):
    """alpha * T^2 * KL(p_t^T || p_s^T) + (1 - alpha) * CE(s, y), each row its own terms averaged
    over the batch; rows labelled -1 (a transfer set) have no hard-label term."""
    labels = tf.cast(labels, tf.int32)
    known = labels >= 0
    per_row = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.maximum(labels, 0), logits=logits)
    hard = tf.reduce_sum(tf.where(known, per_row, 0.0)) / tf.cast(tf.shape(labels)[0], tf.float32)
    if alpha == 0:
        return hard
    log_student = tf.nn.log_softmax(logits / temperature)
    log_teacher = tf.nn.log_softmax(teacher / temperature)
    kl = tf.reduce_sum(tf.exp(log_teacher) * (log_teacher - log_student), axis=-1)
    return alpha * tf.reduce_mean(kl) * temperature**2 + (1 - alpha) * hard


@dataclass(frozen=True)
class KerasAdversarial:
    """Adversarial training of a Keras student (``training.strategies``' settings): the loss on the clean
    batch and on a PGD perturbation of it within ``size`` (a number, or one per feature), mixed."""

    size: float | np.ndarray
    bounds: tuple[float, float] | None = None
    steps: int = TRAIN_PGD_STEPS
    mix: float = ADVERSARIAL_MIX

    @classmethod
    def of(cls, attack: dict) -> KerasAdversarial:
        """From ``attack_settings``: epsilon times the per-feature scale, where there is one."""
        scale = attack["scale"]
        return cls(attack["epsilon"] * (1.0 if scale is None else np.asarray(scale, dtype=np.float32)), attack["bounds"])


class Distiller(keras.Model):
    """Wraps the student for training; ``call`` is the student's, ``train_step`` the loss above (on
    the clean batch and, with ``adversarial``, on its PGD perturbation as well)."""

    def __init__(self, student: keras.Model, temperature: float, alpha: float,
                 adversarial: KerasAdversarial | None = None) -> None:
        super().__init__()
        self.student, self.temperature, self.alpha = student, float(temperature), float(alpha)
        self.adversarial = adversarial

    def call(self, x, training=False):
        return self.student(x, training=training)

    def train_step(self, data):
        x, (labels, teacher) = data

        def loss_at(inputs):
            return distillation_loss(self.student(inputs, training=True), teacher, labels, self.temperature, self.alpha)

        a = self.adversarial
        perturbed = None if a is None else pgd_tf(loss_at, x, a.size, a.steps, a.bounds)
        with tf.GradientTape() as tape:
            loss = loss_at(x)
            if perturbed is not None:
                loss = (1 - a.mix) * loss + a.mix * loss_at(perturbed)
        variables = self.student.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return {"loss": loss}


def pgd_tf(loss_at, x, epsilon, steps: int, bounds: tuple[float, float] | None = None, random_start: bool = True):
    """``training.strategies.pgd`` in TensorFlow: inputs within ``epsilon`` of ``x`` (L-infinity) that
    raise ``loss_at``, in ``steps`` signed gradient steps of 2.5 epsilon / steps (Madry et al., 2018)."""
    x = tf.stop_gradient(tf.cast(x, tf.float32))
    epsilon = tf.cast(epsilon, tf.float32)
    step = 2.5 * epsilon / max(steps, 1)
    adv = x + tf.random.uniform(tf.shape(x), -1.0, 1.0) * epsilon if random_start else x
    adv = adv if bounds is None else tf.clip_by_value(adv, *bounds)
    for _ in range(steps):
        with tf.GradientTape() as tape:
            tape.watch(adv)
            loss = loss_at(adv)
        adv = adv + step * tf.sign(tape.gradient(loss, adv))
        adv = tf.minimum(tf.maximum(adv, x - epsilon), x + epsilon)
        adv = adv if bounds is None else tf.clip_by_value(adv, *bounds)
    return tf.stop_gradient(adv)


def accuracy_under_attack_tf(model: keras.Model, x: np.ndarray, labels: np.ndarray, epsilon, steps: int,
                             bounds: tuple[float, float] | None, batch_size: int = 256, seed: int = 0) -> float:
    """The share of rows a PGD attack of ``steps`` steps (cross-entropy on the labels) does not turn,
    as ``training.strategies.accuracy_under_attack`` measures a torch student."""
    tf.random.set_seed(seed)
    right = 0
    for start in range(0, len(labels), batch_size):
        xb = tf.convert_to_tensor(np.asarray(x[start:start + batch_size], dtype=np.float32))
        yb = tf.convert_to_tensor(np.asarray(labels[start:start + batch_size], dtype=np.int32))

        def loss_at(inputs, yb=yb):
            return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
                labels=yb, logits=model(inputs, training=False)))

        adv = pgd_tf(loss_at, xb, epsilon, steps, bounds)
        right += int(np.sum(np.argmax(model(adv, training=False), axis=1) == labels[start:start + batch_size]))
    return right / max(len(labels), 1)


class _Steps(keras.callbacks.Callback):
    """Per batch: the step counter, progress and the loss to the reporter (the breaker and the
    spending meter read it), a stop asked for, and checkpoints when due. Per epoch: the validation
    figures, the best weights and early stopping (:meth:`KerasTrainer.end_epoch`)."""

    def __init__(self, trainer: KerasTrainer, state: dict, total: int, started: float, first_step: int,
                 validation: TrainData, sizes: list[int]) -> None:
        super().__init__()
        self.trainer, self.state, self.total, self.started, self.first_step = trainer, state, total, started, first_step
        self.validation, self.sizes = validation, sizes  # each epoch's rows

    def on_train_batch_end(self, batch, logs=None):
        t, state, size = self.trainer, self.state, self.trainer.settings.batch_size
        done = state["step_in_epoch"] * size  # rows of this epoch before the batch just trained
        rows = self.sizes[min(state["epoch"], len(self.sizes) - 1)]
        state.update(step_in_epoch=state["step_in_epoch"] + 1, global_step=state["global_step"] + 1,
                     samples=state["samples"] + min(size, rows - done))
        state["last_loss"] = float(logs["loss"]) if logs and "loss" in logs else state.get("last_loss")
        step = state["global_step"]
        if t.checkpoint_due(step):
            t.save(state)
        if t.reporter.should_stop():
            t.save(state)
            self.model.stop_training = True
            t.stopped = f"stopped on request at step {step} of {self.total}"
            return
        if step % max(1, self.total // 50) == 0 or step == self.total:
            rate = (step - self.first_step) / max(time.perf_counter() - self.started, 1e-9)
            t.reporter.progress(step / self.total, step=step, total_steps=self.total,
                                metrics={"loss": round(state["last_loss"], 5)},
                                eta_s=round((self.total - step) / max(rate, 1e-9), 1))

    def on_epoch_end(self, epoch, logs=None):
        if self.trainer.stopped:
            return
        done = self.state["epoch"]
        self.state.update(epoch=done + 1, step_in_epoch=0)
        if self.trainer.end_epoch(self.state, done, self.validation):
            self.model.stop_training = True


class KerasTrainer:
    """Fits a Keras student on ``train`` by distillation, keeping the weights best on ``validation``."""

    def __init__(self, model: keras.Model, settings: TrainSettings, checkpoint: Path | None = None,
                 reporter: Reporter | None = None, fingerprint: str = "") -> None:
        self.model, self.settings, self.checkpoint, self.fingerprint = model, settings, checkpoint, fingerprint
        self.reporter = reporter or Reporter()
        self.stopped: str | None = None
        self._saved_at = time.monotonic()

    def fit(self, train: TrainData, validation: TrainData, adversarial: KerasAdversarial | None = None) -> TrainResult:
        s = self.settings
        sizes = train.epoch_sizes(s.epochs)  # every row each epoch, or a curriculum's growing share
        epoch_steps = [math.ceil(size / s.batch_size) for size in sizes]
        total = sum(epoch_steps)
        self.distiller = Distiller(self.model, s.temperature, s.alpha if _has_teacher(train) else 0.0, adversarial)
        self.optimizer = keras.optimizers.AdamW(WarmupLinearDecay(s.learning_rate, max(1, int(total * s.warmup_fraction)), total),
                                                weight_decay=s.weight_decay)
        self.distiller.compile(optimizer=self.optimizer, jit_compile=False)
        self.optimizer.build(self.model.trainable_variables)
        state = self._resume()
        started, first_step, first_samples = time.perf_counter(), state["global_step"], state["samples"]
        self._saved_at = time.monotonic()
        steps = _Steps(self, state, total, started, first_step, validation, sizes)
        # the rest of an epoch a resumed run stopped in, then the epochs left: in one fit where every
        # epoch has the same rows (a fit call costs a few hundred ms to set up, an epoch of a small data
        # set a few ms), else one fit per epoch (a curriculum's epochs grow)
        if not state["finished"] and state["step_in_epoch"]:
            left = epoch_steps[state["epoch"]] - state["step_in_epoch"]
            if left > 0:
                self.distiller.fit(self._batches(train, [state["epoch"]], state["step_in_epoch"]), epochs=1,
                                   steps_per_epoch=left, shuffle=False, verbose=0, callbacks=[steps])
            else:  # stopped after an epoch's last batch, before its end: end it now (validation, best weights)
                steps.set_model(self.distiller)
                steps.on_epoch_end(state["epoch"])
        same = len(set(epoch_steps)) == 1
        while not state["finished"] and not self.stopped and not state["stopped_early"] and state["epoch"] < s.epochs:
            first = state["epoch"]
            epochs = range(first, s.epochs) if same else [first]
            self.distiller.fit(self._batches(train, epochs, 0), epochs=len(epochs), steps_per_epoch=epoch_steps[first],
                               shuffle=False, verbose=0, callbacks=[steps])
            if state["epoch"] == first:  # the fit ended without finishing an epoch (stopped): never loop on it
                break
        if self.stopped:
            raise Cancelled(self.stopped)
        self.model.set_weights(state["best_state"])
        state["finished"] = True
        self.save(state)
        seconds = time.perf_counter() - started
        return TrainResult(module=self.model, history=state["history"], best_epoch=state["best_epoch"],
                           stopped_early=state["stopped_early"], steps=state["global_step"], seconds=round(seconds, 3),
                           samples_per_s=round((state["samples"] - first_samples) / max(seconds, 1e-9), 1),
                           resumed_from_step=state.get("resumed_from_step"))

    def _batches(self, train: TrainData, epochs, first_step: int):
        """``(x, (labels, teacher logits))`` batches of ``epochs`` in training order, from
        ``first_step`` of the first; each epoch's rows are gathered when it begins."""
        b = self.settings.batch_size
        for epoch in epochs:
            order = training_order(train, self.settings, epoch)[first_step * b:]
            x, labels, teacher = self._epoch_rows(train, order, epoch, first_step)
            first_step = 0
            for i in range(0, len(x), b):
                yield x[i:i + b], (labels[i:i + b], teacher[i:i + b])

    def _epoch_rows(self, train: TrainData, order: np.ndarray, epoch: int, first_step: int):
        """This epoch's rows in training order, with the teacher's logits for them: cached ones, or,
        where the batches are augmented, the teacher run on each augmented batch."""
        x = np.asarray(train.inputs["x"][order], dtype=input_dtype(self.model))
        labels = np.asarray(train.labels[order], dtype=np.int64)
        classes = self.model.outputs[0].shape[-1]
        if train.augment is not None:
            b = self.settings.batch_size
            parts = [train.augment({"x": x[i:i + b]}, batch_rng(self.settings.seed, epoch, first_step + i // b))["x"]
                     for i in range(0, len(x), b)]
            x = np.concatenate(parts).astype(x.dtype) if parts else x
        if train.teacher_logits is not None:
            teacher = np.asarray(train.teacher_logits[order], dtype=np.float32)
        elif train.online_teacher is not None:
            b = self.settings.batch_size
            teacher = np.concatenate([np.asarray(train.online_teacher({"x": x[i:i + b]}), dtype=np.float32)
                                      for i in range(0, len(x), b)]) if len(x) else np.zeros((0, classes), np.float32)
        else:
            teacher = np.zeros((len(x), classes), dtype=np.float32)
        return x, labels, teacher

    def end_epoch(self, state: dict, epoch: int, validation: TrainData) -> bool:
        logits = predict(self.model, validation.inputs["x"])
        return end_of_epoch(state, epoch, logits, validation, self.settings.patience, self.reporter,
                            self.model.get_weights)

    def checkpoint_due(self, step: int) -> bool:
        return self.checkpoint is not None and checkpoint_due(self.settings, step, self._saved_at)

    def save(self, state: dict) -> None:
        """Weights, optimiser variables (its step counter included) and the loop's state, as
        tensors in the engine's checkpoint file (read back with ``weights_only``)."""
        if self.checkpoint is None:
            return
        self._saved_at = time.monotonic()
        saved = dict(state, best_state=_tensors(state["best_state"]))
        save_atomic({"settings": asdict(self.settings), "fingerprint": self.fingerprint,
                     # every variable, the dropout layers' seed generators too: a resumed run draws the same masks
                     "weights": _tensors([v.numpy() for v in self.model.variables]),
                     "optimizer": _tensors([v.numpy() for v in self.optimizer.variables]), "state": saved},
                    self.checkpoint)

    def _resume(self) -> dict:
        saved = load_checkpoint(self.checkpoint) if self.checkpoint is not None else None
        if saved is None or _trained_by(saved.get("settings") or {}) != _trained_by(asdict(self.settings)) \
                or saved.get("fingerprint") != self.fingerprint:
            return {"epoch": 0, "step_in_epoch": 0, "global_step": 0, "samples": 0, "history": [],
                    "best_accuracy": -1.0, "best_loss": math.inf, "best_epoch": 0, "bad_epochs": 0,
                    "stopped_early": False, "best_state": self.model.get_weights(), "finished": False}
        for variable, value in zip(self.model.variables, _arrays(saved["weights"]), strict=True):
            variable.assign(value)
        for variable, value in zip(self.optimizer.variables, _arrays(saved["optimizer"]), strict=True):
            variable.assign(value)
        state = dict(saved["state"], best_state=_arrays(saved["state"]["best_state"]))
        state["resumed_from_step"] = state["global_step"]
        return state


def predict(model: keras.Model, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Logits ``[n, classes]`` float32, in inference mode."""
    x = np.asarray(x, dtype=input_dtype(model))
    if not len(x):
        return np.zeros((0, model.outputs[0].shape[-1]), dtype=np.float32)
    return np.concatenate([np.asarray(model(x[i:i + batch_size], training=False), dtype=np.float32)
                           for i in range(0, len(x), batch_size)])


def _has_teacher(train: TrainData) -> bool:
    return train.teacher_logits is not None or train.online_teacher is not None


def _tensors(arrays: list[np.ndarray]) -> list[torch.Tensor]:
    return [torch.from_numpy(np.array(a, copy=True)) for a in arrays]


def _arrays(tensors: list[torch.Tensor]) -> list[np.ndarray]:
    return [t.numpy() for t in tensors]
