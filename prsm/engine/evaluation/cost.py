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
    """Floating-point operations of one forward pass divided by the batch, from torch's counter
    (matrix products and convolutions), with attention counted too (see ``attention_flops``)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False, custom_mapping=dict.fromkeys(_attention_ops(), attention_flops))
    with counter:
        run()
    total = counter.get_total_flops()
    return int(total // batch) if total else None


def attention_flops(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
    """``scaled_dot_product_attention``'s two products, ``Q @ K^T`` and ``softmax(.) @ V``:
    2 * batch * heads * Sq * Sk * (d_k + d_v), torch's own formula for its CUDA kernels (a causal
    mask is counted in full). torch has none for the CPU's kernel or for the op itself, so without
    this a Hugging Face model's attention products (its SDPA path) went uncounted."""
    leading = 1
    for size in query_shape[:-2]:  # batch and heads; a grouped-query K/V is broadcast to the query's heads
        leading *= size
    s_q, d_k = query_shape[-2:]
    return 2 * leading * s_q * key_shape[-2] * (d_k + value_shape[-1])


def _attention_ops() -> list:
    """The op itself (counted before it is decomposed, whatever kernel runs it) and the kernels it
    may reach first; torch's registry already covers the CUDA ones."""
    aten = torch.ops.aten
    names = ("scaled_dot_product_attention", "_scaled_dot_product_flash_attention_for_cpu",
             "_scaled_dot_product_fused_attention_overrideable")
    return [getattr(aten, name) for name in names if hasattr(aten, name)]
