"""The safety checks travel in report.json["checks"] with a phase; redaction reaches training."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from prsm.engine.data.types import TaskData
from prsm.engine.errors import BadInput
from prsm.engine.pipeline import DistillConfig, run_distillation
from prsm.engine.run import Run
from prsm.engine.stages.safety import before_training
from prsm.engine.training.callbacks import Reporter

SAFETY = {"pii", "label_sanity", "class_imbalance", "teacher_risk", "circuit_breaker", "robustness", "fairness",
          "calibration", "low_margin_agreement"}


def test_every_safety_check_is_in_the_report_with_its_phase(tmp_path, digits_teacher, digits_csv):
    config = DistillConfig(teacher=str(digits_teacher), data=str(digits_csv), max_train_examples=200, epochs=3,
                           exports=["safetensors"], checks={"sensitive_column": "p20"})
    report = run_distillation(config, tmp_path)
    checks = report["checks"]
    assert SAFETY - {"pii"} <= set(checks)  # tabular data has no text to scan
    assert {"retention", "compression"} <= set(checks) and "phase" not in checks["retention"]
    for name in SAFETY - {"pii"}:
        assert {"passed", "score", "threshold", "detail", "phase"} <= set(checks[name]), name
        assert isinstance(checks[name]["detail"], str) and checks[name]["detail"]
        if name != "circuit_breaker":  # the breaker watches training; its cost is the training's
            assert checks[name]["seconds"] >= 0, name
    assert checks["robustness"]["seconds"] > 0  # it runs both models on perturbed copies of the test rows
    assert checks["fairness"]["slices"] and "p20" in checks["fairness"]["detail"]
    assert "feature_noise" in checks["robustness"]["perturbations"]
    assert "val_agreement" in report["training"]["history"][0]
    assert json.loads((tmp_path / "report.json").read_text())["checks"] == checks


def test_checks_can_be_switched_off(tmp_path, digits_teacher, digits_csv):
    config = DistillConfig(teacher=str(digits_teacher), data=str(digits_csv), max_train_examples=200, epochs=1,
                           exports=["safetensors"], checks={"enabled": False})
    assert not any("phase" in check for check in run_distillation(config, tmp_path)["checks"].values())


def _run(texts, labels, **checks):
    classes = sorted(set(labels))
    data = TaskData(task="text", classes=classes, labels=[classes.index(x) for x in labels], texts=texts, sha256="abc")
    config = DistillConfig(teacher="unused", checks=checks)
    return Run(config=config, out=Path("unused"), reporter=Reporter(), data=data, teacher=SimpleNamespace(path=None))


def test_redact_pii_cleans_the_text_that_training_will_see():
    texts = ["mail me at ada@example.org, great film"] * 5 + ["dull film"] * 5
    run = _run(texts, ["pos"] * 5 + ["neg"] * 5, redact_pii=True)
    before_training(run)
    assert run.safety_checks["pii"]["passed"] and run.safety_checks["pii"]["redacted"]
    assert run.data.texts[0] == "mail me at [EMAIL], great film" and run.data.sha256 != "abc"
    unredacted = _run(texts, ["pos"] * 5 + ["neg"] * 5)
    before_training(unredacted)
    assert not unredacted.safety_checks["pii"]["passed"] and "@" in unredacted.data.texts[0]


def test_a_sensitive_column_the_data_lacks_is_bad_input(digits_teacher):
    import numpy as np

    data = TaskData(task="tabular", classes=["a", "b"], labels=[0, 1] * 5, features=np.zeros((10, 2), np.float32),
                    feature_names=["x", "y"])
    run = Run(config=DistillConfig(teacher="unused", checks={"sensitive_column": "sex"}), out=Path("unused"),
              reporter=Reporter(), data=data, teacher=SimpleNamespace(path=None))
    with pytest.raises(BadInput, match="sensitive_column 'sex'"):
        before_training(run)


def test_the_config_round_trips_and_the_checks_leave_the_training_fingerprint_alone():
    config = DistillConfig(teacher="t", domain="medical", checks={"redact_pii": True, "max_ece": 0.2})
    assert DistillConfig.model_validate_json(config.model_dump_json()) == config
    assert config.training_fingerprint() == DistillConfig(teacher="t").training_fingerprint()
