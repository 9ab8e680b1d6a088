"""What a model costs on the serving path, measured in a fresh process:
``python -m prsm.serving.measure PATH [--runs N] [--threads T]`` prints one JSON object.

- ``latency_ms_p50`` / ``latency_ms_p95``: one input (a zero row, a blank image of the model's
  size, or a short text) through ``ServedModel.predict``, preprocessing included, after warm-up;
- ``memory_bytes``: the resident memory the loaded and warmed model adds to a process that has
  already imported the runtime (onnxruntime, and the tokenizer library for a text model), which a
  serving worker has too; ``baseline_bytes`` and ``rss_bytes`` are the figures it is taken from;
- ``threads``: onnxruntime intra-op threads, as the pool runs it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from .errors import ModelUnavailable, ServingError
from .model import DEFAULT_THREADS

WARM_UP = 10


def measure(onnx_path: Path | str, runs: int = 100, threads: int = DEFAULT_THREADS, timeout_s: float = 300) -> dict:
    """Run the measurement in a child process (so memory is this model's alone) and return it."""
    command = [sys.executable, "-m", "prsm.serving.measure", str(onnx_path), "--runs", str(runs), "--threads", str(threads)]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)  # nosec B603 - our module
    except subprocess.TimeoutExpired:
        raise ServingError(f"measuring {Path(onnx_path).name} took more than {timeout_s:g} s") from None
    lines = result.stdout.strip().splitlines()
    if result.returncode != 0 or not lines:
        raise ServingError(f"measuring {Path(onnx_path).name} failed: {(result.stderr.strip().splitlines() or ['?'])[-1]}")
    figures = json.loads(lines[-1])
    if "error" in figures:
        raise ModelUnavailable(figures["error"])
    return figures


def _measure_here(path: Path, runs: int, threads: int) -> dict:
    import numpy as np
    import onnxruntime  # noqa: F401 - the runtime is in the baseline, as in a serving worker

    from ..engine.export.preprocessing import parse, read_metadata
    from .model import ServedModel, example_inputs
    from .worker import resident_bytes

    preprocessing, _ = parse(read_metadata(path), path.name)
    if preprocessing["task"] == "text":
        from transformers import AutoTokenizer  # noqa: F401 - the tokenizer library too
    baseline = resident_bytes()
    model = ServedModel.load(path, threads=threads)
    inputs = example_inputs(model.preprocessing)
    for _ in range(WARM_UP):
        model.predict(inputs)
    timings = []
    for _ in range(max(1, runs)):
        start = time.perf_counter()
        model.predict(inputs)
        timings.append((time.perf_counter() - start) * 1000)
    rss = resident_bytes()
    return {"latency_ms_p50": round(float(np.percentile(timings, 50)), 4),
            "latency_ms_p95": round(float(np.percentile(timings, 95)), 4),
            "memory_bytes": max(0, rss - baseline), "baseline_bytes": baseline, "rss_bytes": rss,
            "threads": threads, "runs": len(timings), "task": model.task}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m prsm.serving.measure")
    parser.add_argument("path", type=Path)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--threads", type=int, default=DEFAULT_THREADS)
    args = parser.parse_args(argv)
    try:
        figures = _measure_here(args.path, args.runs, args.threads)
    except ServingError as error:
        figures = {"error": str(error)}
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
