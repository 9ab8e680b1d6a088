"""End to end on digits: a zoo MLP teacher distilled into a much smaller MLP student."""

from __future__ import annotations

import json

import numpy as np
import onnxruntime
import pytest
import torch

from prsm.engine.pipeline import DistillConfig, run_distillation
from tests.engine.events import Recorder

CONTRACT_FIELDS = {"task", "backend", "seed", "data_sha256", "teacher", "student", "retention", "compression_ratio",
                   "speedup", "exports", "checks", "stages"}


@pytest.fixture(scope="module")
def distilled(tmp_path_factory, digits_teacher, digits_csv):
    """300 training rows: the teacher learned from all 1,259, so its soft targets carry knowledge
    the labels of these 300 do not."""
    out = tmp_path_factory.mktemp("run")
    recorder = Recorder()
    config = DistillConfig(teacher=str(digits_teacher), data=str(digits_csv), baseline=True, max_train_examples=300)
    report = run_distillation(config, out, recorder)
    return report, out, recorder


def test_the_report_has_every_contract_field_and_is_written_to_disk(distilled):
    report, out, _ = distilled
    assert CONTRACT_FIELDS <= set(report)
    assert json.loads((out / "report.json").read_text()) == report
    for side in ("teacher", "student"):
        assert {"params", "size_bytes", "accuracy", "latency_ms_p50", "latency_ms_p95"} <= set(report[side])
    assert "architecture" in report["student"]
    assert report["retention"] == pytest.approx(report["student"]["accuracy"] / report["teacher"]["accuracy"])
    assert report["training"]["batches_by_length"] is False  # feature rows have no length to group by


def test_a_small_student_has_at_least_twenty_times_fewer_parameters(distilled):
    report, _, _ = distilled
    assert report["compression_ratio"] >= 20
    assert report["teacher"]["params"] / report["student"]["params"] == pytest.approx(report["compression_ratio"])


def test_the_distilled_student_matches_or_beats_the_labels_only_baseline(distilled):
    report, _, _ = distilled
    assert report["student"]["accuracy"] >= report["baseline"]["accuracy"]
    assert report["checks"]["beats_baseline"]["passed"]


def test_every_export_is_verified_and_the_onnx_file_reproduces_the_student(distilled, digits_csv):
    from prsm.engine.data.loaders import load_data
    from prsm.engine.zoo import load_zoo_model

    report, out, _ = distilled
    assert set(report["exports"]) == {"safetensors", "pth", "onnx", "onnx-int8"}
    assert all(record["verified"] for record in report["exports"].values())
    features = load_data(str(digits_csv)).features[:50]
    student, _ = load_zoo_model(out / "model")
    with torch.inference_mode():
        expected = student(torch.from_numpy(features)).numpy()
    session = onnxruntime.InferenceSession(str(out / report["exports"]["onnx"]["path"]))
    assert np.abs(session.run(None, {"x": features})[0] - expected).max() < 1e-4
    assert json.loads(session.get_modelmeta().custom_metadata_map["labels"]) == report["classes"]


def test_the_design_records_measured_candidates_and_the_reason_for_the_choice(distilled):
    report, _, _ = distilled
    design = report["design"]
    measured = [c for c in design["candidates"] if c.get("latency_ms") is not None]
    assert measured and all(c["params"] <= design["param_budget"] for c in measured)
    chosen = next(c for c in design["candidates"] if c["name"] == design["chosen"])
    assert any(reason.startswith("chosen") for reason in chosen["reasons"])
    refused = [c for c in design["candidates"] if not c["fits"]]
    assert refused and all(c["reasons"] for c in refused)


def test_latency_is_recorded_at_batch_one_and_thirty_two_with_threads(distilled):
    report, _, _ = distilled
    for side in ("teacher", "student"):
        section = report[side]
        assert 0 < section["latency_ms_p50"] <= section["latency_ms_p95"]
        assert section["latency_ms_p50_batch32"] > 0 and section["threads"] >= 1
    assert report["speedup"] == pytest.approx(report["teacher"]["latency_ms_p50"] / report["student"]["latency_ms_p50"])


def test_the_callback_sees_every_stage_and_progress_only_grows(distilled):
    _, _, recorder = distilled
    stages = [e["stage"] for e in recorder.events if e["type"] == "stage"]
    assert stages[:3] == ["load_data", "load_teacher", "split"] and "train" in stages and stages[-1] == "report"
    progress = [e["progress"] for e in recorder.events]
    assert progress == sorted(progress) and progress[-1] == 100
    steps = [e for e in recorder.events if e["type"] == "progress" and "step" in e and e["stage"] == "train"]
    assert steps and all("eta_s" in e and "loss" in e["metrics"] for e in steps)
    # a search trial's steps carry their loss (the circuit breaker watches it) but no ETA: it is not the job's
    trial_steps = [e for e in recorder.events if e["type"] == "progress" and "step" in e and e["stage"] == "search"]
    assert trial_steps and all("loss" in e["metrics"] and "eta_s" not in e for e in trial_steps)


def test_the_model_card_has_front_matter_lineage_and_metrics(distilled):
    report, out, _ = distilled
    card = (out / "MODEL_CARD.md").read_text()
    assert card.startswith("---\n") and "\n---\n" in card[4:]
    assert report["data_sha256"] in card and "Hinton" in card and "## Limitations" in card
    assert f"{report['student']['accuracy']:.4f}" in card
