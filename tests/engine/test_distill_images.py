"""End to end on images: a zoo CNN teacher distilled into a much smaller CNN, every export on."""

from __future__ import annotations

import json

import numpy as np
import onnxruntime
import pytest
import torch

from prsm.engine.data.loaders import load_data
from prsm.engine.pipeline import DistillConfig, run_distillation
from prsm.engine.zoo import build_model, load_zoo_model

from .test_distill_tabular import CONTRACT_FIELDS

EXPORTS = ["safetensors", "pth", "onnx", "onnx-int8"]


@pytest.fixture(scope="module")
def distilled(tmp_path_factory, shapes_cnn_teacher, shapes_folder):
    out = tmp_path_factory.mktemp("run")
    config = DistillConfig(teacher=str(shapes_cnn_teacher), data=str(shapes_folder), epochs=120, batch_size=16,
                           exports=EXPORTS)
    return run_distillation(config, out), out


def test_the_report_has_every_contract_field_for_an_image_run(distilled):
    report, out = distilled
    assert CONTRACT_FIELDS <= set(report)
    assert json.loads((out / "report.json").read_text()) == report
    assert report["task"] == "image" and report["backend"] == "pytorch"
    assert report["classes"] == ["box", "horizontal", "vertical"]
    for side in ("teacher", "student"):
        assert {"params", "size_bytes", "accuracy", "latency_ms_p50", "latency_ms_p95"} <= set(report[side])
        assert report[side]["flops_per_example"] > 0
    assert report["student"]["architecture"]["kind"] == "cnn"
    assert report["compression_ratio"] >= 20 and report["student"]["accuracy"] >= 0.5
    assert {"train", "export"} <= set(report["stages"])


def test_the_safetensors_and_pth_exports_reload_into_the_same_student(distilled, shapes_folder):
    report, out = distilled
    images = torch.from_numpy(load_data(str(shapes_folder)).images[:20])
    from_safetensors, architecture = load_zoo_model(out / "model")
    from_pth = build_model(architecture)
    from_pth.load_state_dict(torch.load(out / report["exports"]["pth"]["path"], weights_only=True), strict=True)
    with torch.inference_mode():
        assert torch.equal(from_safetensors(images), from_pth.eval()(images))
    assert report["exports"]["safetensors"]["verified"] and report["exports"]["pth"]["verified"]


def test_the_onnx_export_is_verified_and_reproduces_the_student(distilled, shapes_folder):
    report, out = distilled
    images = load_data(str(shapes_folder)).images[:20]
    student, _ = load_zoo_model(out / "model")
    with torch.inference_mode():
        expected = student(torch.from_numpy(images)).numpy()
    session = onnxruntime.InferenceSession(str(out / report["exports"]["onnx"]["path"]))
    assert report["exports"]["onnx"]["verified"]
    assert np.abs(session.run(None, {"x": images})[0] - expected).max() < 1e-4


def test_the_int8_export_has_its_own_accuracy(distilled):
    report, out = distilled
    int8 = report["exports"]["onnx-int8"]
    assert (out / int8["path"]).is_file() and int8["verified"]
    assert 0 <= int8["accuracy"] <= 1 and int8["accuracy"] >= int8["float_accuracy"] - 0.02
    assert int8["size_bytes"] > 0 and int8["latency_ms_p50"] > 0


def test_the_model_card_is_written(distilled):
    report, out = distilled
    card = (out / "MODEL_CARD.md").read_text()
    assert card.startswith("---\n") and report["data_sha256"] in card
