"""How many CPU threads a piece of work runs on, chosen by measuring it.

The rule it replaces (one thread under 200k parameters, every thread above) was drawn from one
measurement on a loaded machine; on an idle 2-core machine it left a 169k-parameter CNN student 30%
slower than two threads. Here the first steps of the work itself (training steps, a pass's batches)
run at one thread and at every thread the process may use, and the rest of the work runs on the
faster. Nothing is run twice to measure; what measuring costs is the steps run at the slower count,
so it runs as few as a clear answer needs: one warm-up step on the count most likely to win (the
choice this process made last, else every thread), then a timed pair (the other count, then that
one); when one count is ``DECISIVE`` times faster that pair decides (one or two slow steps in all),
otherwise a second pair in the opposite order (so a load that comes and goes, or batches that grow,
fall on both) and the faster median decides. On a machine whose other cores are busy one thread wins;
on an idle one, work that splits well gets them all.

The choice is kept for the process by a key that says what was measured (the model's size and the
batch's shape), so two runs of the same work in one process (a job and its resumed run, a search's
trials) train on the same thread count, which keeps their arithmetic the same.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

import torch

PROBE_PAIRS = 2  # timed pairs of steps (one at each count) at most, after one warm-up step
DECISIVE = 1.25  # one count this much faster than the other on the first pair: chosen without a second
_chosen: dict[Hashable, ThreadChoice] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class ThreadChoice:
    threads: int
    ms: dict[int, float] = field(default_factory=dict)  # median milliseconds of one step at each count measured
    why: str = "measured"

    def summary(self) -> dict:
        return {"threads": self.threads, "chosen_by": self.why,
                "probe_ms": {str(n): round(ms, 3) for n, ms in sorted(self.ms.items())}}

    @classmethod
    def from_summary(cls, summary: dict) -> ThreadChoice:
        return cls(int(summary["threads"]), {int(n): float(ms) for n, ms in (summary.get("probe_ms") or {}).items()},
                   str(summary.get("chosen_by") or "measured"))


def available_threads() -> int:
    """The threads this process may use: torch's intra-op setting, within the CPUs it may run on."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(torch.get_num_threads(), cpus))


class StepProbe:
    """Runs the steps of a piece of work, choosing the thread count on its first ones.

    ``with probe.step(): ...`` around each step: a warm-up step, then up to ``pairs`` timed pairs (one
    step at one thread, one at every thread), then every step runs at the faster count (``choice``,
    remembered for ``key`` in this process, so the same work later runs on it without measuring). A
    ``key`` chosen before, or a ``known`` choice (a resumed training's), skips the measuring."""

    def __init__(self, key: Hashable, pairs: int = PROBE_PAIRS, known: ThreadChoice | None = None) -> None:
        self.most = available_threads()
        self.key, self.length, self.index = (key, self.most), 1 + 2 * pairs, 0
        self.times: dict[int, list[float]] = {1: [], self.most: []}
        with _lock:
            remembered = _chosen.get(self.key)
            latest = next(reversed(_chosen.values()), None)  # the likeliest winner: this process's last choice
        self.first = latest.threads if latest is not None and latest.threads in self.times else self.most
        self.other = 1 if self.first == self.most else self.most
        self.choice = known or remembered or (ThreadChoice(1, why="one thread available") if self.most == 1 else None)

    @property
    def measuring(self) -> bool:
        return self.choice is None

    def next_count(self) -> int:
        if self.choice is not None:
            return self.choice.threads
        if self.index == 0:
            return self.first  # the warm-up (allocations, kernels chosen, pages touched), not timed
        pair, second = divmod(self.index - 1, 2)
        order = (self.other, self.first) if pair % 2 == 0 else (self.first, self.other)  # a drift falls on both
        return order[second]

    @contextlib.contextmanager
    def step(self):
        count = self.next_count()
        with threads(count):
            started = time.perf_counter()
            yield count
            elapsed = (time.perf_counter() - started) * 1000
        if self.choice is None:
            if self.index >= 1:
                self.times[count].append(elapsed)
            self.index += 1
            if self.index >= self.length or (self.index == 3 and self._decisive()):
                self.decide()

    def _decisive(self) -> bool:
        one, most = self.times[1][0], self.times[self.most][0]
        return max(one, most) >= DECISIVE * min(one, most)

    def decide(self) -> ThreadChoice | None:
        """The faster count on what was measured (a work shorter than the probe: on what it had); None
        when no count was timed."""
        if self.choice is None and all(self.times.values()):
            ms = {n: statistics.median(values) for n, values in self.times.items()}
            choice = ThreadChoice(min(ms, key=lambda n: (ms[n], n)), ms)
            with _lock:
                self.choice = _chosen.setdefault(self.key, choice)
        return self.choice


def forget_choices() -> None:
    """Drop the remembered choices (tests; a machine whose load changed for good)."""
    with _lock:
        _chosen.clear()


@contextlib.contextmanager
def threads(count: int):
    """torch's intra-op threads set to ``count`` inside the block, as they were after it."""
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def run_choosing_threads(key: Hashable, parts: list[Callable[[], object]]) -> tuple[list, ThreadChoice | None]:
    """Each of ``parts`` (a pass over data in batches) run once, in order, through a ``StepProbe``: the
    thread count is chosen on the first ones and the rest run on it. A pass too short for measuring
    to pay runs on torch's setting as it is; a ``key`` measured before runs on its choice."""
    probe = StepProbe(key)
    if probe.measuring and len(parts) < 2 * probe.length:
        return [part() for part in parts], None
    out = []
    for part in parts:
        with probe.step():
            out.append(part())
    return out, probe.choice


def measured_logits(module, adapter, inputs: dict, batch_size: int = 256, key: Hashable = None):
    """``adapters.predict_logits`` of ``inputs`` in batches (token rows sorted by length, so each batch
    is trimmed to its own rows' length, then put back in order), on the thread count its first
    batches ran fastest on: ``(logits, the ThreadChoice or None)``."""
    import numpy as np

    from ..adapters import num_rows, predict_logits, token_lengths

    rows = num_rows(inputs)
    if not rows:
        return predict_logits(module, adapter, inputs, batch_size), None
    lengths = token_lengths(inputs)
    order = np.arange(rows) if lengths is None else np.argsort(lengths, kind="stable")
    parts = [lambda chosen=order[start:start + batch_size]: predict_logits(
                 module, adapter, {name: array[chosen] for name, array in inputs.items()}, batch_size)
             for start in range(0, rows, batch_size)]
    shapes = tuple((name, np.shape(array)[1:]) for name, array in sorted(inputs.items()))
    out, choice = run_choosing_threads((key, type(module).__name__, batch_size, shapes), parts)
    logits = np.concatenate(out)
    result = np.empty_like(logits)
    result[order] = logits
    return result, choice
