"""Dynamic batching: concurrent requests for one model run as one ``session.run``.

Each request is encoded on its own (so a bad input fails only its request), queued, and merged
with the requests queued beside it into a batch of at most ``max_batch`` inputs. One batch per
model runs at a time; while it runs, new requests queue and go together in the next. Before a
batch starts, the batcher waits up to ``max_wait_ms`` for more only while other requests for the
model are still being encoded, so a lone request never waits and a burst fills a batch.
Token batches are padded to their longest row (pad id, attention mask 0), on the tokenizer's
padding side, which leaves each row's logits as they are alone (within float rounding); a batch of
texts of different lengths runs as several, each of texts of similar length (``length_groups``), so
that padding does not cost more than batching saves.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import Executor
from dataclasses import dataclass, field

import numpy as np

from .model import ServedModel

PAD_VALUES = {"attention_mask": 0, "token_type_ids": 0}  # nosec B105  # token names, not a password


def merge_feeds(feeds: list[dict[str, np.ndarray]], pad_id: int = 0, side: str = "right") -> dict[str, np.ndarray]:
    """Concatenate per-request input arrays; token arrays ``[n, length]`` are padded to the longest."""
    if len(feeds) == 1:
        return feeds[0]
    merged = {}
    for name in feeds[0]:
        arrays = [feed[name] for feed in feeds]
        if "attention_mask" in feeds[0] and arrays[0].ndim == 2:
            length = max(a.shape[1] for a in arrays)
            value = PAD_VALUES.get(name, pad_id)
            arrays = [_pad(a, length, value, side) for a in arrays]
        merged[name] = np.ascontiguousarray(np.concatenate(arrays))
    return merged


PADDING_WASTE = 0.25  # a group of texts runs at most this share of pad tokens beyond its real ones


def length_groups(lengths: np.ndarray, max_rows: int, waste: float = PADDING_WASTE) -> list[np.ndarray]:
    """Row indices in groups of at most ``max_rows``, shortest texts first, each padded to its own longest
    with at most ``waste`` of its tokens padding (a group of one has none)."""
    order = np.argsort(lengths, kind="stable")
    groups, current, tokens = [], [], 0
    for index in order:
        length = int(lengths[index])
        if current and (len(current) == max_rows or length * (len(current) + 1) > (1 + waste) * (tokens + length)):
            groups.append(np.array(current))
            current, tokens = [], 0
        current.append(int(index))
        tokens += length
    if current:
        groups.append(np.array(current))
    return groups


def _pad(array: np.ndarray, length: int, value: int, side: str) -> np.ndarray:
    missing = length - array.shape[1]
    if missing == 0:
        return array
    widths = ((0, 0), (missing, 0) if side == "left" else (0, missing))
    return np.pad(array, widths, constant_values=value)


@dataclass
class BatchStats:
    requests: int = 0
    inputs: int = 0
    batches: int = 0
    largest_batch: int = 0
    batched_requests: int = 0  # requests that shared a batch with another
    run_seconds: float = 0.0

    def as_dict(self) -> dict:
        return {"requests": self.requests, "inputs": self.inputs, "batches": self.batches,
                "largest_batch": self.largest_batch, "batched_requests": self.batched_requests,
                "mean_batch_ms": round(1000 * self.run_seconds / self.batches, 3) if self.batches else None}


@dataclass
class _Pending:
    feed: dict[str, np.ndarray]
    rows: int
    future: asyncio.Future
    arrived: float = field(default_factory=time.monotonic)


class DynamicBatcher:
    """Batches one model's requests on the running event loop; the work runs in ``executor``."""

    def __init__(self, model: ServedModel, executor: Executor | None = None, max_batch: int = 32,
                 max_wait_ms: float = 2.0) -> None:
        self.model, self.executor = model, executor
        self.max_batch, self.max_wait = max(1, int(max_batch)), max(0.0, max_wait_ms) / 1000
        self.queue: list[_Pending] = []
        self.encoding = 0
        self.stats = BatchStats()
        self._arrived = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._pad = model.pad_token() if model.task == "text" else (0, "right")

    async def predict(self, inputs: list) -> list[dict]:
        loop = asyncio.get_running_loop()
        self.encoding += 1
        try:
            feed = await loop.run_in_executor(self.executor, self.model.encode, inputs)
        finally:
            self.encoding -= 1
            self._arrived.set()
        pending = _Pending(feed, len(inputs), loop.create_future())
        self.queue.append(pending)
        self.stats.requests += 1
        self.stats.inputs += pending.rows
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._drain())
        logits = await pending.future
        return self.model.outputs(logits)

    async def _drain(self) -> None:
        while self.queue:
            await self._gather()
            batch = self._take()
            feed = merge_feeds([p.feed for p in batch], *self._pad)
            started = time.monotonic()
            try:
                logits = await asyncio.get_running_loop().run_in_executor(self.executor, self._run, feed)
            except Exception as error:  # onnxruntime failures reach every caller of the batch
                for pending in batch:
                    if not pending.future.done():
                        pending.future.set_exception(error)
                continue
            self._count(batch, time.monotonic() - started)
            start = 0
            for pending in batch:
                if not pending.future.done():  # a caller may have gone
                    pending.future.set_result(logits[start:start + pending.rows])
                start += pending.rows

    def _run(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        """One session.run, or several: of max_batch rows for a request larger than that, and for texts, of
        rows of similar length (``length_groups``), so that short texts are not run padded to a long one."""
        rows = len(next(iter(feed.values())))
        mask = feed.get("attention_mask")
        if mask is not None and mask.ndim == 2 and rows > 1:
            lengths = mask.sum(axis=1)
            logits = None
            for group in length_groups(lengths, self.max_batch):
                length = int(lengths[group].max())
                columns = slice(-length, None) if self._pad[1] == "left" else slice(0, length)
                part = self.model.run({name: np.ascontiguousarray(array[group][:, columns]) if array.ndim == 2 else array[group]
                                       for name, array in feed.items()})
                if logits is None:
                    logits = np.empty((rows, *part.shape[1:]), dtype=part.dtype)
                logits[group] = part
            return logits
        if rows <= self.max_batch:
            return self.model.run(feed)
        return np.concatenate([self.model.run({name: array[start:start + self.max_batch] for name, array in feed.items()})
                               for start in range(0, rows, self.max_batch)])

    async def _gather(self) -> None:
        """Wait, up to max_wait after the oldest request arrived, while more are on their way."""
        deadline = self.queue[0].arrived + self.max_wait
        while self.encoding and sum(p.rows for p in self.queue) < self.max_batch:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), left)
            except asyncio.TimeoutError:
                return

    def _take(self) -> list[_Pending]:
        """Whole requests, oldest first, up to max_batch rows (a larger request runs alone, in chunks)."""
        batch = [self.queue.pop(0)]
        rows = batch[0].rows
        while self.queue and rows + self.queue[0].rows <= self.max_batch:
            rows += self.queue[0].rows
            batch.append(self.queue.pop(0))
        return batch

    def _count(self, batch: list[_Pending], seconds: float) -> None:
        rows = sum(p.rows for p in batch)
        self.stats.batches += 1
        self.stats.largest_batch = max(self.stats.largest_batch, min(rows, self.max_batch))
        self.stats.batched_requests += len(batch) if len(batch) > 1 else 0
        self.stats.run_seconds += seconds
