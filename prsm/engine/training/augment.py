"""Augmented training batches, drawn from the seed: every epoch sees new variants of its rows, so
the teacher's outputs cannot be cached and the teacher runs online on each augmented batch.

- images: each image shifted by up to ``shift`` pixels (zero padding of ``shift`` on every side,
  then a random crop back to its size, as for CIFAR in He et al., 2016, "Deep Residual Learning"),
  and, only when asked, flipped left-right with probability 1/2 (a digit or a letter must not flip);
- tabular: Gaussian noise of ``noise`` times each feature's standard deviation in the training data;
- text: a fraction ``mask_fraction`` of the real tokens (not [CLS], [SEP] or padding) replaced by
  the tokenizer's mask token, or its unknown token where it has none, the corruption of BERT's
  masked language model (Devlin et al., 2019).

The random draws for a batch come from ``default_rng([seed, epoch, step, STREAM])``: nothing to
save in a checkpoint, and a resumed run sees the batches an uninterrupted one would.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..adapters import Inputs
from ..errors import BadInput

STREAM = 0xA06  # keeps the augmentation's draws apart from the epoch order's ([seed, epoch])


@dataclass
class Augmentation:
    task: str
    flip: bool = False
    shift: int = 2
    noise: float = 0.1
    mask_fraction: float = 0.1
    feature_std: np.ndarray | None = None
    mask_id: int | None = None
    special_ids: tuple[int, ...] = ()

    def __call__(self, batch: Inputs, rng: np.random.Generator) -> Inputs:
        """A new dict of arrays; ``batch`` itself is never written to (it may be a memory map)."""
        if self.task == "image":
            return {**batch, "x": self._image(batch["x"], rng)}
        if self.task == "tabular":
            noise = rng.standard_normal(batch["x"].shape) * (self.noise * self.feature_std)
            return {**batch, "x": (batch["x"] + noise).astype(np.float32)}
        return {**batch, "input_ids": self._masked(batch["input_ids"], batch["attention_mask"], rng)}

    def _image(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        n, channels, height, width = x.shape
        s = self.shift
        padded = np.pad(x, ((0, 0), (0, 0), (s, s), (s, s)))
        top, left = rng.integers(0, 2 * s + 1, size=(2, n))
        rows = (top[:, None] + np.arange(height))[:, None, :, None]
        cols = (left[:, None] + np.arange(width))[:, None, None, :]
        out = padded[np.arange(n)[:, None, None, None], np.arange(channels)[None, :, None, None], rows, cols]
        if self.flip:
            flipped = rng.random(n) < 0.5
            out[flipped] = out[flipped][..., ::-1]
        return np.ascontiguousarray(out, dtype=np.float32)

    def _masked(self, ids: np.ndarray, attention: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        real = attention.astype(bool) & ~np.isin(ids, self.special_ids)
        chosen = real & (rng.random(ids.shape) < self.mask_fraction)
        out = ids.copy()
        out[chosen] = self.mask_id
        return out

    def describe(self) -> dict:
        if self.task == "image":
            return {"task": "image", "shift_pixels": self.shift, "horizontal_flip": self.flip}
        if self.task == "tabular":
            return {"task": "tabular", "gaussian_noise_std": self.noise, "relative_to": "each feature's training std"}
        return {"task": "text", "mask_fraction": self.mask_fraction, "mask_token_id": self.mask_id}


def augmentation_for(task: str, train_inputs: Inputs, adapter, flip: bool = False) -> Augmentation:
    """The augmentation for ``task``, fitted to the training rows (feature scales, the tokenizer)."""
    if flip and task != "image":
        raise BadInput(f"augment_flip flips images; the data is {task}")
    if task == "image":
        return Augmentation("image", flip=flip)
    if task == "tabular":
        std = np.asarray(train_inputs["x"], dtype=np.float64).std(0)
        return Augmentation("tabular", feature_std=np.where(std > 1e-6, std, 0.0).astype(np.float32))
    tokenizer = adapter.tokenizer
    mask_id = tokenizer.mask_token_id if tokenizer.mask_token_id is not None else tokenizer.unk_token_id
    if mask_id is None:
        raise BadInput("text augmentation needs a tokenizer with a mask or an unknown token")
    return Augmentation("text", mask_id=int(mask_id), special_ids=tuple(int(i) for i in tokenizer.all_special_ids))


def batch_rng(seed: int, epoch: int, step: int) -> np.random.Generator:
    return np.random.default_rng([seed, epoch, step, STREAM])
