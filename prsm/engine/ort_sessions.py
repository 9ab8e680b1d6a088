"""One way to open an onnxruntime session, shared by ONNX teachers, exports and cost measurement."""

from __future__ import annotations

from pathlib import Path


def ort_session(path: Path | str | bytes, threads: int | None = None):
    import onnxruntime as ort
    import torch

    options = ort.SessionOptions()
    # the same thread count as torch, so latency comparisons across runtimes are fair
    options.intra_op_num_threads = threads or torch.get_num_threads()
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(path if isinstance(path, bytes) else str(path), options, providers=["CPUExecutionProvider"])
