"""ONNX export with the dynamo exporter (dynamic batch, and sequence for token inputs), checked
with ``onnx.checker`` and run in onnxruntime against PyTorch; plus int8 dynamic quantization."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..evaluation.cost import latency_ms
from ..ort_sessions import ort_session
from .files import export_record, within_tolerance
from .preprocessing import METADATA_KEY, read_metadata, write_prop

SEQUENCE_INPUTS = {"input_ids", "attention_mask", "token_type_ids"}


class LogitsModel(nn.Module):
    """Positional tensors in, logits out: the signature an exporter and onnxruntime want."""

    def __init__(self, module: nn.Module, adapter, names: list[str]) -> None:
        super().__init__()
        self.module, self.adapter, self.names = module, adapter, names

    def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
        return self.adapter.forward(self.module, dict(zip(self.names, tensors)))


def export_onnx(module: nn.Module, adapter, example: dict[str, np.ndarray], path: Path, labels: list[str],
                preprocessing: dict | None = None) -> Path:
    """Write ``path``; the wrapper is put in eval mode first (ENVIRONMENT.md: training mode drifts).

    ``labels`` and ``preprocessing`` (see ``preprocessing.describe``) go in the metadata props, so the
    file alone is enough to serve the model."""
    names = list(example)
    wrapper = LogitsModel(module, adapter, names).eval()
    tensors = tuple(torch.from_numpy(np.ascontiguousarray(example[name])) for name in names)
    batch = torch.export.Dim("batch", min=1, max=65536)
    sequence = torch.export.Dim("sequence", min=1, max=4096)
    # one entry for the wrapper's *tensors, holding one dict of dynamic axes per input
    dynamic = tuple({0: batch, 1: sequence} if name in SEQUENCE_INPUTS else {0: batch} for name in names)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _quiet():
        program = torch.onnx.export(wrapper, tensors, input_names=names, output_names=["logits"],
                                    dynamic_shapes=(dynamic,), dynamo=True, verbose=False)
        program.save(str(path))
    _set_metadata(path, labels, preprocessing)
    return path


def _set_metadata(path: Path, labels: list[str], preprocessing: dict | None) -> None:
    import onnx

    model = onnx.load(str(path))
    del model.metadata_props[:]
    entry = model.metadata_props.add()
    entry.key, entry.value = "labels", json.dumps(labels)
    if preprocessing is not None:
        entry = model.metadata_props.add()
        entry.key, entry.value = METADATA_KEY, json.dumps(preprocessing)
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(path))


def verify_onnx(path: Path, inputs: dict[str, np.ndarray], expected: np.ndarray, root: Path) -> dict:
    outputs = run_onnx(path, inputs)
    ok, diff = within_tolerance(outputs, expected)
    return export_record(path, root, ok, diff, opset=_opset(path))


def run_onnx(path: Path, inputs: dict[str, np.ndarray], batch_size: int = 256) -> np.ndarray:
    session = ort_session(path)
    wanted = [i.name for i in session.get_inputs()]
    rows = len(next(iter(inputs.values())))
    out = []
    for start in range(0, rows, batch_size):
        feed = _trimmed({name: inputs[name][start:start + batch_size] for name in wanted})
        out.append(session.run(None, feed)[0])
    return np.concatenate(out).astype(np.float32)


def _trimmed(feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    if "attention_mask" not in feed:
        return feed
    length = max(1, int(feed["attention_mask"].sum(axis=1).max()))
    return {name: np.ascontiguousarray(array[:, :length]) for name, array in feed.items()}


_PRE_PROCESS = (
    "import sys; from onnxruntime.quantization.shape_inference import quant_pre_process; "
    "quant_pre_process(sys.argv[1], sys.argv[2], skip_symbolic_shape=sys.argv[3] == '1')"
)


def _pre_process(source: Path, prepared: Path, skip_symbolic_shape: bool) -> None:
    """onnxruntime's quantization pre-processing, in a child process working in a temporary folder:
    when symbolic shape inference fails it writes ``sym_shape_infer_temp.onnx`` and its external
    data into the current directory, which must not be the user's."""
    with tempfile.TemporaryDirectory(prefix="prsm-quant-") as scratch:
        result = subprocess.run([sys.executable, "-c", _PRE_PROCESS, str(source.resolve()), str(prepared.resolve()),
                                 "1" if skip_symbolic_shape else "0"], cwd=scratch, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(result.stderr.strip() or "quantization pre-processing failed")


def quantize_int8(source: Path, target: Path) -> str:
    """Dynamic int8 weights; onnxruntime's pre-processing first (shape inference and fusions).

    Returns a note when pre-processing had to be skipped, so the report says so.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    prepared = target.with_name(target.stem + ".pre.onnx")
    note = ""
    try:
        try:
            _pre_process(source, prepared, skip_symbolic_shape=False)
        except RuntimeError:  # symbolic shape inference gives up on some dynamic-sequence graphs
            _pre_process(source, prepared, skip_symbolic_shape=True)
            note = "pre-processed without symbolic shape inference"
    except RuntimeError as error:  # pre-processing is an optimisation; quantization works without it
        prepared, note = source, f"pre-processing skipped: {str(error).splitlines()[-1][:120]}"
    with _quiet():
        quantize_dynamic(str(prepared), str(target), weight_type=QuantType.QInt8)
    if prepared != source:
        prepared.unlink(missing_ok=True)
    _keep_metadata(source, target)
    return note


def _keep_metadata(source: Path, target: Path) -> None:
    """The int8 file serves like the float one: it needs the same labels and preprocessing props.
    onnxruntime 1.32's quantizer keeps them; this guards a version that does not."""
    wanted = {key: value for key, value in read_metadata(source).items() if key in ("labels", METADATA_KEY)}
    have = read_metadata(target)
    for key, value in wanted.items():
        if have.get(key) != value:
            write_prop(target, key, value)


def verify_int8(path: Path, inputs: dict[str, np.ndarray], labels: np.ndarray, float_logits: np.ndarray,
                root: Path, note: str = "") -> dict:
    """Verified when int8 accuracy stays within 2 points of the float model's on the same rows."""
    logits = run_onnx(path, inputs)
    accuracy = float((logits.argmax(1) == labels).mean())
    float_accuracy = float((float_logits.argmax(1) == labels).mean())
    session = ort_session(path)
    feed = _trimmed({i.name: inputs[i.name][:1] for i in session.get_inputs()})
    latency = latency_ms(lambda: session.run(None, feed))
    record = export_record(path, root, accuracy >= float_accuracy - 0.02, float(np.abs(logits - float_logits).max()),
                           accuracy=accuracy, float_accuracy=float_accuracy,
                           agreement=float((logits.argmax(1) == float_logits.argmax(1)).mean()),
                           latency_ms_p50=latency["p50"], latency_ms_p95=latency["p95"], threads=latency["threads"])
    if note:
        record["note"] = note
    return record


def _opset(path: Path) -> int | None:
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    return next((e.version for e in model.opset_import if e.domain in ("", "ai.onnx")), None)


@contextlib.contextmanager
def _quiet():
    """The exporter and quantizer print pages of progress; keep the CLI's output readable."""
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "torch.export", "torch._dynamo", "root", "onnxruntime")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)
