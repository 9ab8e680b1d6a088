"""What a model costs on this CPU: latency percentiles, peak memory, FLOPs per example."""

from __future__ import annotations

import time
from typing import Callable

import numpy as np
import torch
from torch import nn


def latency_ms(run: Callable[[], object], warmup: int = 5, repeats: int = 30, budget_s: float = 5.0) -> dict:
    """p50/p95 wall-clock milliseconds of ``run`` after warm-up, with the thread count recorded.

    ``budget_s`` caps the measuring time for slow models (fewer repeats, never fewer than 5).
    """
    for _ in range(warmup):
        run()
    times: list[float] = []
    started = time.perf_counter()
    while len(times) < repeats and (len(times) < 5 or time.perf_counter() - started < budget_s):
        tick = time.perf_counter()
        run()
        times.append((time.perf_counter() - tick) * 1000)
    return {"p50": float(np.percentile(times, 50)), "p95": float(np.percentile(times, 95)),
            "runs": len(times), "threads": torch.get_num_threads()}


def parameter_bytes(module: nn.Module) -> int:
    return sum(t.numel() * t.element_size() for t in list(module.parameters()) + list(module.buffers()))


def peak_memory_bytes(module: nn.Module, run: Callable[[], object]) -> int:
    """Weights plus the activations one forward pass produces, counted with forward hooks.

    Summing every module's output over-counts what is alive at once, so this is an upper bound,
    measured the same way for teacher and student.
    """
    produced = [0]

    def count(_module, _inputs, output):
        for tensor in _tensors(output):
            produced[0] += tensor.numel() * tensor.element_size()

    leaves = [m for m in module.modules() if not list(m.children())]
    handles = [m.register_forward_hook(count) for m in leaves]
    try:
        run()
    finally:
        for handle in handles:
            handle.remove()
    return parameter_bytes(module) + produced[0]


def _tensors(output):
    if isinstance(output, torch.Tensor):
        yield output
    elif isinstance(output, (tuple, list)):
        for item in output:
            yield from _tensors(item)
    elif hasattr(output, "values"):
        for item in output.values():
            yield from _tensors(item)


def flops_per_example(run: Callable[[], object], batch: int) -> int | None:
    """Floating-point operations of one forward pass divided by the batch, from torch's counter."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        run()
    total = counter.get_total_flops()
    return int(total // batch) if total else None
