"""target_hardware mobile (issue 18): each design is timed as its int8 TFLite file on one thread, the
limits are checked there, and the report and the card give the student's figures as the phone runs it."""

from __future__ import annotations

import pytest

from prsm.engine.errors import BadInput
from prsm.engine.pipeline import DistillConfig, run_distillation

pytestmark = pytest.mark.slow

# one hidden layer: the static screen keeps a handful of designs, so only those are converted and timed
MOBILE = {"max_train_examples": 400, "epochs": 6, "search": "off", "layer_count": 1,
          "target_hardware": ["cpu", "mobile"]}


def test_a_mobile_student_is_designed_checked_and_described_as_its_int8_tflite_file(tmp_path, digits_teacher,
                                                                                     digits_csv):
    config = DistillConfig(teacher=str(digits_teacher), data=str(digits_csv), max_inference_latency_ms=50.0,
                           max_memory_bytes=1 << 20, **MOBILE)
    report = run_distillation(config, tmp_path)
    assert report["backend"] == "tensorflow" and "tflite-int8" in report["exports"]
    measured = [c for c in report["design"]["candidates"] if c.get("latency_ms") is not None]
    assert measured and all(c["measured_on"] == "tflite-int8" for c in measured)
    # bigger designs hold more bytes of int8 tensors
    by_params = sorted(measured, key=lambda c: c["params"])
    assert by_params[0]["memory_bytes"] < by_params[-1]["memory_bytes"]
    mobile, int8 = report["student"]["mobile"], report["exports"]["tflite-int8"]
    assert mobile["latency_ms_p50"] == int8["latency_ms_p50"] > 0 and mobile["threads"] == 1
    assert 0 < mobile["memory_bytes"] == int8["memory_bytes"] and mobile["verified"]
    assert mobile["accuracy"] == int8["accuracy"] > 0.5
    latency, memory = report["checks"]["latency"], report["checks"]["memory"]
    assert latency["score"] == mobile["latency_ms_p50"] and "mobile" in latency["detail"] and latency["passed"]
    assert memory["score"] == mobile["memory_bytes"] and "mobile" in memory["detail"] and memory["passed"]
    card = (tmp_path / "MODEL_CARD.md").read_text()
    assert "On mobile (target_hardware): the int8 TFLite file `model.int8.tflite`" in card


def test_a_memory_limit_no_int8_design_meets_is_refused_before_training(tmp_path, digits_teacher, digits_csv):
    config = DistillConfig(teacher=str(digits_teacher), data=str(digits_csv), max_memory_bytes=100, **MOBILE)
    with pytest.raises(BadInput, match=r"max_memory_usage=100 bytes cannot be met: the smallest student needs [\d,]+"):
        run_distillation(config, tmp_path)
    assert not (tmp_path / "report.json").exists()


def test_mobile_needs_a_backend_that_writes_int8_tflite_and_always_exports_that_file():
    with pytest.raises(ValueError, match="the pytorch backend does not write"):
        DistillConfig(teacher="t", data="d", backend="pytorch", target_hardware=["mobile"])
    with pytest.raises(ValueError, match="'onnx' is not one of its formats"):
        DistillConfig(teacher="t", data="d", exports=["onnx"], target_hardware=["mobile"])
    config = DistillConfig(teacher="t", data="d", exports=["keras"], target_hardware=["mobile", "mobile"])
    assert config.exports == ["keras", "tflite-int8"] and config.target_hardware == ["mobile"]


def test_a_gpu_target_needs_a_cuda_device(monkeypatch):
    import prsm.engine.config as engine_config

    monkeypatch.setattr(engine_config, "cuda_present", lambda: False)
    with pytest.raises(ValueError, match="gpu needs a CUDA device, and this machine has none"):
        DistillConfig(teacher="t", data="d", target_hardware=["gpu"])
    monkeypatch.setattr(engine_config, "cuda_present", lambda: True)
    assert DistillConfig(teacher="t", data="d", target_hardware=["gpu"]).device == "cuda"
    with pytest.raises(ValueError, match="device is cpu"):
        DistillConfig(teacher="t", data="d", target_hardware=["gpu"], device="cpu")


def test_auto_picks_tensorflow_for_mobile_whatever_the_data():
    from prsm.engine.backends import select_backend

    assert select_backend("auto", "image", "zoo", None, ["cpu", "mobile"]) == "tensorflow"
    assert select_backend("auto", "text", "huggingface", None, ["mobile"]) == "tensorflow"
