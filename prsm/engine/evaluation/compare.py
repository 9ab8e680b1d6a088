"""Teacher and student measured the same way: same runtime, same batches, same threads."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..adapters import take
from ..ort_sessions import ort_session
from .cost import flops_per_example, latency_ms, peak_memory_bytes
from .onnx_profile import measure_peak_rss, onnx_profile

WEIGHTS_AND_ACTIVATIONS = "weights + every activation of one batch-1 forward pass, an upper bound"

BATCHES = (1, 32)


def torch_cost(module, adapter, inputs: dict[str, np.ndarray]) -> dict:
    """Latency at batch 1 and 32, memory and FLOPs of a torch model in eval mode."""
    import torch

    module.eval()
    out = {"runtime": "pytorch"}
    for batch in BATCHES:
        tensors = take(inputs, np.arange(batch) % len(next(iter(inputs.values()))))

        def run(tensors=tensors):
            with torch.inference_mode():
                return adapter.forward(module, tensors)

        out.update(_latency_fields(latency_ms(run), batch))
        if batch == 1:
            out["peak_memory_bytes"] = peak_memory_bytes(module, run)
            out["peak_memory_method"] = WEIGHTS_AND_ACTIVATIONS + " (forward hooks)"
            out["flops_per_example"] = flops_per_example(run, 1)
    return out


def onnx_cost(path: Path | None, inputs: dict[str, np.ndarray], run_factory=None, measure_rss: bool = False) -> dict:
    """The same measurements in onnxruntime; FLOPs and memory are counted from the graph at
    ``path`` (see :mod:`.onnx_profile`), and with ``measure_rss`` the resident memory onnxruntime
    takes is measured in a fresh process. ``run_factory(inputs, batch)`` runs a teacher's own session."""
    session = ort_session(path) if path is not None and run_factory is None else None
    out = {"runtime": "onnxruntime", "peak_memory_bytes": None, "flops_per_example": None}
    for batch in BATCHES:
        rows = np.arange(batch) % len(next(iter(inputs.values())))
        if run_factory is not None:
            run = run_factory(inputs, batch)
        else:
            feed = {i.name: np.ascontiguousarray(inputs[i.name][rows]) for i in session.get_inputs()}
            run = lambda feed=feed: session.run(None, feed)  # noqa: E731
        out.update(_latency_fields(latency_ms(run), batch))
    if path is not None:
        out.update(_onnx_counts(path, inputs, measure_rss, out["threads"]))
    return out


def _onnx_counts(path: Path, inputs: dict[str, np.ndarray], measure_rss: bool, threads: int) -> dict:
    example = {name: array[:1] for name, array in inputs.items()}
    try:
        out = onnx_profile(path, example) | {"peak_memory_method": WEIGHTS_AND_ACTIVATIONS + " (from the graph)"}
    except Exception as error:  # a graph shape inference cannot follow: say so; a count never fails a run
        first_line = str(error).splitlines()[0][:200] if str(error) else ""
        out = {"flops_note": f"not counted: {type(error).__name__}: {first_line}"}
    if measure_rss:
        out.update(measure_peak_rss(path, example, threads))
    return out


def _latency_fields(measured: dict, batch: int) -> dict:
    suffix = "" if batch == 1 else f"_batch{batch}"
    return {f"latency_ms_p50{suffix}": round(measured["p50"], 4), f"latency_ms_p95{suffix}": round(measured["p95"], 4),
            "threads": measured["threads"]}
