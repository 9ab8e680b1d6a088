"""Keras 3 exports for the TensorFlow backend: a SavedModel folder and TFLite files (float32, float16
weights, full-integer int8), each reloaded, run and checked like the ONNX exports.

Pitfalls found with TensorFlow 2.21, Keras 3.15 and ai-edge-litert 2.3:

- A ``channels_first`` Conv2D whose number of filters equals its output's width converts *wrongly*:
  the converter broadcasts the bias (and a BatchNormalization after it) along the width instead of
  the channels. The file runs and its accuracy barely moves, so float32 is held to the Keras
  logits as well as to accuracy. Images stay channel-first at the input; a ``Permute((2, 3, 1))``
  in front of channels-last convolutions converts correctly.
- The TFLite input keeps a batch of 1 (its shape signature says -1): resize it before a batch.
- The SavedModel signature names its tensors after Keras internals (``keras_tensor``,
  ``output_0``): take the one input and the one output rather than a name.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ..errors import BadInput
from ..evaluation.cost import latency_ms
from .files import export_record, within_tolerance

ALLOWED_DROP = {"float32": 0.005, "float16": 0.005, "int8": 0.02}  # accuracy below the Keras model's
REPRESENTATIVE_ROWS = 200
MOBILE_RUNTIME = "tflite-int8"  # what target_hardware="mobile" measures: this file in LiteRT, one thread
TENSOR_BYTES = "every tensor of a batch-1 TFLite interpreter (weights and activations), an upper bound"


def export_savedmodel(model, folder: Path, root: Path, x: np.ndarray, expected: np.ndarray) -> dict:
    """Write ``folder``, reload it with ``tf.saved_model.load`` and compare its serving signature's
    logits on ``x`` with ``expected`` (the Keras model's)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    model.export(str(folder), format="tf_saved_model", verbose=False)
    ok, diff = within_tolerance(run_savedmodel(folder, x), expected)
    return export_record(folder, root, ok, diff, signature="serving_default")


def run_savedmodel(folder: Path, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
    import tensorflow as tf

    serve = tf.saved_model.load(str(folder)).signatures["serving_default"]
    (name,) = serve.structured_input_signature[1]
    out = [next(iter(serve(**{name: tf.constant(x[start:start + batch_size])}).values())).numpy()
           for start in range(0, len(x), batch_size)]
    return np.concatenate(out).astype(np.float32)


def export_tflite(saved_model: Path, target: Path, root: Path, variant: str, representative: np.ndarray,
                  x: np.ndarray, labels: np.ndarray, expected: np.ndarray) -> dict:
    """Convert ``saved_model`` to ``target`` and run it on ``x``: verified when accuracy on ``labels``
    stays within 0.5 points of the Keras model's (2 for int8) and, for float32, the logits match."""
    if variant not in ALLOWED_DROP:
        raise BadInput(f"TFLite variant {variant!r} is not one of {', '.join(ALLOWED_DROP)}")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(_convert(saved_model, variant, representative))
    logits = run_tflite(target, x)
    accuracy = float((logits.argmax(1) == labels).mean())
    reference = float((expected.argmax(1) == labels).mean())
    close, diff = within_tolerance(logits, expected)
    note = _shortfall(variant, accuracy, reference, close, diff)
    interpreter = lite_interpreter(target)
    latency = latency_ms(lambda: invoke(interpreter, x[:1]), repeats=50)
    record = export_record(target, root, not note, diff, variant=variant, accuracy=accuracy,
                           reference_accuracy=reference, agreement=float((logits.argmax(1) == expected.argmax(1)).mean()),
                           latency_ms_p50=latency["p50"], latency_ms_p95=latency["p95"], threads=1,
                           memory_bytes=tensor_bytes(interpreter), memory_method=TENSOR_BYTES)
    if note:
        record["note"] = note
    return record


def tflite_cost(model, x: np.ndarray) -> dict:
    """Latency at batch 1 and 32 of ``model`` as a float32 TFLite file in LiteRT on one thread (how a
    Keras student is deployed), in the fields ``evaluation.compare`` writes; converted in a scratch folder."""
    from ..evaluation.compare import BATCHES, _latency_fields

    with _scratch_tflite(model, "float32", x[:0]) as (_, interpreter):
        out: dict = {"runtime": "tflite"}
        for batch in BATCHES:
            rows = np.ascontiguousarray(x[np.arange(batch) % len(x)])
            out.update(_latency_fields(latency_ms(lambda rows=rows: invoke(interpreter, rows)), batch))
    return out | {"threads": 1}


def mobile_cost(model, representative: np.ndarray) -> dict:
    """What ``model`` costs on a phone, as the product deploys it there: a full-integer int8 TFLite
    file (calibrated on ``representative`` rows) in LiteRT on one thread, batch 1. Latency, the
    file's bytes and the memory its tensors take (:func:`tensor_bytes`)."""
    with _scratch_tflite(model, "int8", representative) as (path, interpreter):
        row = np.ascontiguousarray(representative[:1])
        latency = latency_ms(lambda: invoke(interpreter, row), repeats=50)
        return {"runtime": MOBILE_RUNTIME, "threads": 1, "latency_ms_p50": latency["p50"], "latency_ms_p95": latency["p95"],
                "memory_bytes": tensor_bytes(interpreter), "memory_method": TENSOR_BYTES, "size_bytes": path.stat().st_size}


@contextmanager
def _scratch_tflite(model, variant: str, representative: np.ndarray):
    """``model`` converted to a ``variant`` TFLite file in a scratch folder, with its interpreter; both
    go when the block ends."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="prsm-tflite-") as scratch:
        saved = Path(scratch) / "savedmodel"
        model.export(str(saved), format="tf_saved_model", verbose=False)
        path = Path(scratch) / f"model.{variant}.tflite"
        path.write_bytes(_convert(saved, variant, representative))
        yield path, lite_interpreter(path)


def tensor_bytes(interpreter) -> int:
    """The bytes of every tensor the interpreter holds at its current batch (weights, inputs, outputs
    and every intermediate): an upper bound on its memory, since LiteRT's arena reuses the space of
    intermediates that are no longer needed."""
    return int(sum(np.prod(t["shape"], dtype=np.int64) * np.dtype(t["dtype"]).itemsize
                   for t in interpreter.get_tensor_details()))


def _convert(saved_model: Path, variant: str, representative: np.ndarray) -> bytes:
    import tensorflow as tf

    if variant == "int8" and len(representative) == 0:
        raise BadInput("int8 TFLite needs representative rows to calibrate on; none were given")
    try:
        converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model))
        if variant != "float32":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if variant == "float16":
            converter.target_spec.supported_types = [tf.float16]
        if variant == "int8":
            picks = np.linspace(0, len(representative) - 1, min(REPRESENTATIVE_ROWS, len(representative))).astype(int)
            rows = representative[picks]
            converter.representative_dataset = lambda: ([row[None]] for row in rows)
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            if np.issubdtype(representative.dtype, np.floating):  # token ids stay int32 in, logits float out
                converter.inference_input_type = converter.inference_output_type = tf.int8
        return converter.convert()
    except Exception as error:  # the converter raises OSError, ValueError or its own ConverterError
        reason = (str(error).strip().splitlines() or [type(error).__name__])[-1][:200]
        raise BadInput(f"TFLite {variant} conversion of {saved_model.name} failed: {reason}") from error


def _shortfall(variant: str, accuracy: float, reference: float, close: bool, diff: float) -> str:
    if accuracy < reference - ALLOWED_DROP[variant]:
        return (f"accuracy {accuracy:.2%} is {100 * (reference - accuracy):.1f} points below the Keras model's "
                f"{reference:.2%} (at most {100 * ALLOWED_DROP[variant]:.1f} allowed)")
    if variant == "float32" and not close:
        return f"logits differ from the Keras model's by up to {diff:.3g}: the converter changed the maths"
    return ""


def run_tflite(path: Path, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Float logits, quantising an int8 input and dequantising an int8 output with their scale and zero point."""
    try:
        interpreter = lite_interpreter(path)
        return np.concatenate([invoke(interpreter, x[start:start + batch_size])
                               for start in range(0, len(x), batch_size)])
    except (RuntimeError, ValueError):  # an input that refuses another batch size: one row at a time
        interpreter = lite_interpreter(path)
        return np.concatenate([invoke(interpreter, row[None]) for row in x])


def lite_interpreter(path: Path, threads: int = 1):
    """A LiteRT interpreter for the file, tensors allocated (one thread: how a phone runs it, and how
    every latency here is measured)."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=threads)
    interpreter.allocate_tensors()
    return interpreter


def invoke(interpreter, rows: np.ndarray) -> np.ndarray:
    """Float logits for ``rows`` (features, pixels or token ids), the input resized to their batch;
    int8 inputs and outputs quantised and dequantised with the file's scale and zero point."""
    source = interpreter.get_input_details()[0]
    if tuple(source["shape"]) != rows.shape:
        interpreter.resize_tensor_input(source["index"], list(rows.shape))
        interpreter.allocate_tensors()
    interpreter.set_tensor(source["index"], _quantised(rows, source))
    interpreter.invoke()
    sink = interpreter.get_output_details()[0]
    return _dequantised(interpreter.get_tensor(sink["index"]), sink)


def _quantised(rows: np.ndarray, detail: dict) -> np.ndarray:
    if detail["dtype"] != np.int8:
        return rows.astype(detail["dtype"])  # float32 values, or int32 token ids
    scale, zero = detail["quantization"]
    return np.clip(np.round(rows / scale + zero), -128, 127).astype(np.int8)


def _dequantised(values: np.ndarray, detail: dict) -> np.ndarray:
    if detail["dtype"] != np.int8:
        return values.astype(np.float32)
    scale, zero = detail["quantization"]
    return ((values.astype(np.float32) - zero) * scale).astype(np.float32)
