"""Which export answers predictions, one rule for a server (``distillation.services``) and the SDK's
in-process mode: an ONNX export where there is one, else a TFLite file (a TensorFlow student); the
int8 file when it verified and the request asked for speed or a phone (where the int8 file is what
runs), else the float one."""

from __future__ import annotations

SERVED_FORMATS = ("onnx-int8", "onnx", "tflite-int8", "tflite")  # what the serving pool runs, best first
INT8_FORMATS = ("onnx-int8", "tflite-int8")


def served_format(verified, optimization_target: str | None = "speed", hardware=None) -> str | None:
    """The served format among the ``verified`` export names; None when none can be served."""
    wants_int8 = (optimization_target or "speed") == "speed" or "mobile" in (hardware or [])
    return next((name for name in SERVED_FORMATS if name in verified and (wants_int8 or name not in INT8_FORMATS)), None)
