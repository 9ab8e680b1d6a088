"""How many CPU threads a piece of work runs on, chosen by measuring it.

The rule it replaces (one thread under 200k parameters, every thread above) was drawn from one
measurement on a loaded machine; on an idle 2-core machine it left a 169k-parameter CNN student 30%
slower than two threads. Here a few steps of the work itself are timed at one thread and at every
thread the process may use, interleaved (1, n, 1, n, ...) so that a load that comes and goes falls
on both, and the faster median wins. On a machine whose other cores are busy, one thread wins; on
an idle one, the work that splits well gets them all.

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

PROBE_ROUNDS = 2  # timed runs at each count, after one untimed warm-up each
_chosen: dict[Hashable, ThreadChoice] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class ThreadChoice:
    threads: int
    ms: dict[int, float] = field(default_factory=dict)  # median milliseconds of one run at each count measured
    why: str = "measured"

    def summary(self) -> dict:
        return {"threads": self.threads, "chosen_by": self.why,
                "probe_ms": {str(n): round(ms, 3) for n, ms in sorted(self.ms.items())}}


def available_threads() -> int:
    """The threads this process may use: torch's intra-op setting, within the CPUs it may run on."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(torch.get_num_threads(), cpus))


def choose_threads(key: Hashable, run_once: Callable[[], object], rounds: int = PROBE_ROUNDS) -> ThreadChoice:
    """The thread count ``run_once`` runs fastest on, measured (or remembered for ``key``)."""
    most = available_threads()
    if most == 1:
        return ThreadChoice(1, why="one thread available")
    full_key = (key, most)
    with _lock:
        if full_key in _chosen:
            return _chosen[full_key]
    counts = (1, most)
    times: dict[int, list[float]] = {n: [] for n in counts}
    for n in counts:  # warm-up: allocations, kernels chosen, pages touched
        with threads(n):
            run_once()
    for _ in range(rounds):
        for n in counts:
            with threads(n):
                started = time.perf_counter()
                run_once()
                times[n].append((time.perf_counter() - started) * 1000)
    ms = {n: statistics.median(values) for n, values in times.items()}
    choice = ThreadChoice(min(counts, key=lambda n: (ms[n], n)), ms)
    with _lock:
        _chosen.setdefault(full_key, choice)
        return _chosen[full_key]


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


def run_choosing_threads(key: Hashable, parts: list[Callable[[], object]], probe_pairs: int = 2) -> tuple[list, ThreadChoice | None]:
    """Each of ``parts`` run (a pass over data in batches), the thread count chosen on the way: the
    first pairs of parts alternate one thread and every thread (the first pair, a warm-up, is not
    counted), the rest run on the faster, so that nothing is run twice to measure. A pass too short
    to measure runs on torch's setting as it is; a ``key`` measured before runs on its choice."""
    most = available_threads()
    with _lock:
        known = _chosen.get((key, most))
    if known is not None or most == 1:
        with threads(known.threads if known is not None else 1):
            return [part() for part in parts], known
    probe = 2 * (probe_pairs + 1)
    if len(parts) < 2 * probe:  # measuring would take a large share of the pass
        return [part() for part in parts], None
    out, times = [], {1: [], most: []}
    for index, part in enumerate(parts[:probe]):
        pair, second = divmod(index, 2)
        count = (1, most)[second ^ (pair % 2)]  # 1 n, n 1, 1 n: a drift along the pass falls on both
        with threads(count):
            started = time.perf_counter()
            out.append(part())
            if index >= 2:
                times[count].append((time.perf_counter() - started) * 1000)
    ms = {n: statistics.median(values) for n, values in times.items()}
    choice = ThreadChoice(min(ms, key=lambda n: (ms[n], n)), ms)
    with _lock:
        choice = _chosen.setdefault((key, most), choice)
    with threads(choice.threads):
        out += [part() for part in parts[probe:]]
    return out, choice


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
