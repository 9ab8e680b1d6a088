"""Training strategies that change how a student is trained (``training_strategy`` and the seed's
augmentation names): adversarial and curriculum here; progressive (a teacher-assistant chain) is an
order of training stages (``stages.train``).

**Adversarial** (robust distillation, Goldblum et al., 2020, "Adversarially Robust Distillation"):
each batch is also perturbed against the student by projected gradient descent (Madry et al.,
2018) within ``epsilon`` of the inputs (an L-infinity ball; tabular features in units of each
feature's standard deviation, image pixels on their 0..1 scale and kept there), and the student
learns the teacher's outputs on the clean rows from the perturbed ones as well; the loss is the
mean of the clean and the perturbed distillation losses, so clean accuracy is kept.

**Curriculum** (Bengio et al., 2009; the "baby steps" pacing of Spitkovsky et al., 2010): rows are
ranked from easy to hard by the teacher's probability of the right label (of its own answer for
rows without one); the first epoch trains on the easiest ``CURRICULUM_START`` of them, each epoch
of the first half adds an equal share, and the second half trains on every row.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from ..adapters import Inputs

STRATEGIES = ("progressive", "adversarial", "curriculum")
CURRICULUM_START = 0.3  # the share of the easiest rows the first epoch sees
# pixels on 0..1; tabular: feature standard deviations; text: the embedding table's standard deviation
ADVERSARIAL_EPSILON = {"image": 8 / 255, "tabular": 0.1, "text": 0.1}
TRAIN_PGD_STEPS = 3  # the attack made in training: cheap, with a random start (Wong et al., 2020)
EVAL_PGD_STEPS = 10  # the attack the report measures with
ADVERSARIAL_MIX = 0.5  # the perturbed rows' share of the loss


# -- curriculum -----------------------------------------------------------------------------------

def difficulty_ranks(teacher_logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Each row's rank from easy (0) to hard: the teacher's probability of the row's label, or of its
    own answer where the row has none (-1); ties keep row order."""
    logits = np.asarray(teacher_logits, dtype=np.float64)
    logits = logits - logits.max(1, keepdims=True)
    probs = np.exp(logits)
    probs /= probs.sum(1, keepdims=True)
    labels = np.asarray(labels)
    target = np.where(labels >= 0, labels, probs.argmax(1))
    confidence = probs[np.arange(len(labels)), target]
    order = np.argsort(-confidence, kind="stable")
    ranks = np.empty(len(order), dtype=np.int64)
    ranks[order] = np.arange(len(order))
    return ranks


def curriculum_size(rows: int, epoch: int, epochs: int) -> int:
    """How many of the easiest rows epoch ``epoch`` (0-based) trains on."""
    growth = max(1, math.ceil(epochs / 2))
    share = min(1.0, CURRICULUM_START + (1 - CURRICULUM_START) * epoch / growth)
    return max(1, min(rows, math.ceil(rows * share)))


def curriculum_rows(ranks: np.ndarray, epoch: int, epochs: int) -> np.ndarray:
    """The rows epoch ``epoch`` trains on, in row order (the loop shuffles them)."""
    return np.sort(np.flatnonzero(ranks < curriculum_size(len(ranks), epoch, epochs)))


# -- adversarial ----------------------------------------------------------------------------------

class AdversarialObjective(nn.Module):
    """``base`` (a distillation objective) on the clean batch and on a PGD perturbation of it.

    ``scale`` multiplies ``epsilon`` per feature (a tabular feature's standard deviation; 1 for
    pixels); ``bounds`` keeps the perturbed inputs within a range (images: 0..1)."""

    def __init__(self, base: nn.Module, key: str, epsilon: float, scale: torch.Tensor | None = None,
                 bounds: tuple[float, float] | None = None, steps: int = TRAIN_PGD_STEPS,
                 mix: float = ADVERSARIAL_MIX) -> None:
        super().__init__()
        self.base, self.key, self.epsilon, self.bounds, self.steps, self.mix = base, key, epsilon, bounds, steps, mix
        self.register_buffer("scale", scale if scale is not None else torch.ones(()), persistent=False)

    @property
    def teacher(self):
        """The teacher the base objective runs itself, if any (the stages ask)."""
        return getattr(self.base, "teacher", None)

    def forward(self, module, batch, teacher_logits, labels):
        clean = self.base(module, batch, teacher_logits, labels)
        x = batch[self.key]

        def loss_at(perturbed):
            return self.base(module, {**batch, self.key: perturbed}, teacher_logits, labels)

        perturbed = pgd(loss_at, x, self.epsilon * self.scale.to(x.device), self.steps, self.bounds, random_start=True)
        return (1 - self.mix) * clean + self.mix * loss_at(perturbed)


class EmbeddingAdversarialObjective(nn.Module):
    """Text: ``base`` on the clean batch and on a PGD perturbation of the student's input embeddings
    (an L-infinity ball of ``epsilon`` times the embeddings' standard deviation; Zhu et al., 2020,
    FreeLB; Liu et al., 2020). The perturbed branch's gradient reaches the embedding table too."""

    def __init__(self, base: nn.Module, epsilon: float, steps: int = TRAIN_PGD_STEPS, mix: float = ADVERSARIAL_MIX) -> None:
        super().__init__()
        self.base, self.epsilon, self.steps, self.mix = base, epsilon, steps, mix

    @property
    def teacher(self):
        return getattr(self.base, "teacher", None)

    def forward(self, module, batch, teacher_logits, labels):
        clean = self.base(module, batch, teacher_logits, labels)
        table = module.get_input_embeddings()
        rest = {k: v for k, v in batch.items() if k != "input_ids"}
        embeddings = table(batch["input_ids"])

        def loss_at(perturbed):
            return self.base(module, {**rest, "inputs_embeds": perturbed}, teacher_logits, labels)

        size = self.epsilon * float(table.weight.detach().std())
        perturbed = pgd(loss_at, embeddings.detach(), size, self.steps, None, random_start=True)
        robust = loss_at(embeddings + (perturbed - embeddings.detach()))
        return (1 - self.mix) * clean + self.mix * robust


def embeddings_adversarial_ready(module: nn.Module) -> bool:
    """Whether a text student takes ``inputs_embeds`` (a Hugging Face transformer; the light students do not)."""
    import inspect

    return hasattr(module, "get_input_embeddings") and "inputs_embeds" in inspect.signature(module.forward).parameters


def text_accuracy_under_attack(module: nn.Module, inputs: Inputs, labels: np.ndarray, epsilon: float,
                               steps: int = EVAL_PGD_STEPS, batch_size: int = 64, seed: int = 0) -> float:
    """The share of text rows a PGD attack on the input embeddings (cross-entropy on the labels) does not turn."""
    module.eval()
    table = module.get_input_embeddings()
    size = epsilon * float(table.weight.detach().std())
    right = 0
    state = torch.get_rng_state()
    torch.manual_seed(seed)
    try:
        for start in range(0, len(labels), batch_size):
            batch = {k: torch.from_numpy(np.asarray(v[start:start + batch_size])) for k, v in inputs.items()}
            y = torch.from_numpy(np.asarray(labels[start:start + batch_size], dtype=np.int64))
            rest = {k: v for k, v in batch.items() if k != "input_ids"}
            with torch.no_grad():
                embeddings = table(batch["input_ids"])

            def loss_at(perturbed, rest=rest, y=y):
                return nn.functional.cross_entropy(module(**rest, inputs_embeds=perturbed).logits, y)

            adv = pgd(loss_at, embeddings, size, steps, None, random_start=True)
            with torch.inference_mode():
                right += int((module(**rest, inputs_embeds=adv).logits.argmax(1) == y).sum())
    finally:
        torch.set_rng_state(state)
    return right / max(len(labels), 1)


def pgd(loss_at, x: torch.Tensor, epsilon: torch.Tensor | float, steps: int,
        bounds: tuple[float, float] | None = None, random_start: bool = True) -> torch.Tensor:
    """Inputs within ``epsilon`` of ``x`` (L-infinity) that raise ``loss_at``: ``steps`` signed
    gradient steps of 2.5 epsilon / steps, projected back into the ball (Madry et al., 2018)."""
    epsilon = torch.as_tensor(epsilon, dtype=x.dtype, device=x.device)
    step = 2.5 * epsilon / max(steps, 1)
    x = x.detach()
    adv = x + (torch.rand_like(x) * 2 - 1) * epsilon if random_start else x.clone()
    adv = _clamp(adv, bounds)
    for _ in range(steps):
        adv.requires_grad_(True)
        with torch.enable_grad():
            grad, = torch.autograd.grad(loss_at(adv), adv)
        adv = adv.detach() + step * grad.sign()
        adv = _clamp(torch.max(torch.min(adv, x + epsilon), x - epsilon), bounds)
    return adv.detach()


def _clamp(x: torch.Tensor, bounds: tuple[float, float] | None) -> torch.Tensor:
    return x if bounds is None else x.clamp(*bounds)


def attack_settings(task: str, inputs: Inputs, epsilon: float | None) -> dict:
    """The key, epsilon, per-feature scale and bounds of an attack on ``task`` rows."""
    x = np.asarray(inputs["x"], dtype=np.float32)
    if task == "image":
        return {"key": "x", "epsilon": epsilon if epsilon is not None else ADVERSARIAL_EPSILON["image"],
                "scale": None, "bounds": (0.0, 1.0)}
    std = x.std(0)
    std = np.where(std > 1e-6, std, 1.0).astype(np.float32)
    return {"key": "x", "epsilon": epsilon if epsilon is not None else ADVERSARIAL_EPSILON["tabular"],
            "scale": torch.from_numpy(std), "bounds": None}


def accuracy_under_attack(module: nn.Module, adapter, inputs: Inputs, labels: np.ndarray, settings: dict,
                          steps: int = EVAL_PGD_STEPS, batch_size: int = 256, seed: int = 0) -> float:
    """The share of rows a PGD attack of ``steps`` steps (cross-entropy on the labels) does not turn."""
    module.eval()
    key, scale = settings["key"], settings["scale"]
    epsilon = settings["epsilon"] * (scale if scale is not None else torch.ones(()))
    right = 0
    generator_state = torch.get_rng_state()
    torch.manual_seed(seed)
    try:
        for start in range(0, len(labels), batch_size):
            x = torch.from_numpy(np.asarray(inputs[key][start:start + batch_size], dtype=np.float32))
            y = torch.from_numpy(np.asarray(labels[start:start + batch_size], dtype=np.int64))

            def loss_at(perturbed, y=y):
                return nn.functional.cross_entropy(adapter.forward(module, {key: perturbed}), y)

            adv = pgd(loss_at, x, epsilon, steps, settings["bounds"], random_start=True)
            with torch.inference_mode():
                right += int((adapter.forward(module, {key: adv}).argmax(1) == y).sum())
    finally:
        torch.set_rng_state(generator_state)
    return right / max(len(labels), 1)
