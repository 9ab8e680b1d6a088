"""Which export answers predictions (prsm.serving.formats), as a server and the SDK pick it."""

import pytest

from prsm.serving.formats import served_format


@pytest.mark.parametrize(
    ("verified", "target", "hardware", "served"),
    [
        ({"onnx", "onnx-int8", "safetensors"}, "speed", ["cpu"], "onnx-int8"),
        ({"onnx", "onnx-int8"}, "accuracy", ["cpu"], "onnx"),
        ({"keras", "tflite", "tflite-int8"}, "speed", ["cpu"], "tflite-int8"),  # a TensorFlow student
        ({"keras", "tflite", "tflite-int8"}, "accuracy", ["cpu"], "tflite"),
        ({"keras", "tflite", "tflite-int8"}, "accuracy", ["cpu", "mobile"], "tflite-int8"),  # the phone's own file
        ({"onnx", "tflite"}, "speed", None, "onnx"),  # ONNX first where both exist
        ({"safetensors", "keras", "savedmodel"}, "speed", ["cpu"], None),
    ],
)
def test_the_served_export_is_onnx_then_tflite_int8_when_speed_or_a_phone_asks(verified, target, hardware, served):
    assert served_format(verified, target, hardware) == served
