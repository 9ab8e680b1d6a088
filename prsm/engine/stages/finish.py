"""Stages after training: held-out evaluation, exports, the report and the model card."""

from __future__ import annotations

import platform
import time

import numpy as np

from ..checks.hooks import after_training
from ..evaluation.compare import onnx_cost, torch_cost
from ..evaluation.metrics import agreement, confusion_matrix, per_class_accuracy, quality
from ..export.card import model_card
from ..students.design import SIZE_RATIOS


def evaluate(run) -> None:
    test = run.split.test
    teacher_logits = run.results["teacher_test_logits"]
    logits = run.backend.evaluate(run.student, test)
    run.results["student_test_logits"] = logits
    run.results["student_quality"] = quality(logits, test.labels, test.num_classes) | {
        "agreement": agreement(logits, teacher_logits),
        "per_class_accuracy": per_class_accuracy(logits, test.labels, test.classes),
        "confusion_matrix": confusion_matrix(logits, test.labels, test.num_classes)}
    if "baseline_student" in run.results:
        base = run.backend.evaluate(run.results["baseline_student"], test)
        run.results["baseline_quality"] = quality(base, test.labels, test.num_classes) | {"agreement": agreement(base, teacher_logits)}
    run.reporter.metric({"student_accuracy": run.results["student_quality"]["accuracy"]})
    _costs(run)
    after_training(run)


def _costs(run) -> None:
    """Latency of teacher and student in the same runtime: onnxruntime when the teacher is ONNX."""
    test = run.split.test
    rows = np.arange(min(len(test), 64))
    small = test.subset(rows)
    student_inputs = run.student.adapter.encode(small)
    run.results["student_torch_cost"] = torch_cost(run.student.module, run.student.adapter, student_inputs)
    if run.teacher.runtime == "onnxruntime":
        from ..export.onnx import export_onnx

        path = export_onnx(run.student.module, run.student.adapter, {k: v[:2] for k, v in student_inputs.items()},
                           run.out / "cache" / "student-latency.onnx", list(test.classes))
        run.results["teacher_cost"] = onnx_cost(run.teacher.path, run.teacher.encode(small), run.teacher.runner)
        # FLOPs and memory counted from both graphs the same way; torch's figures where a count failed
        student = onnx_cost(path, student_inputs)
        run.results["student_cost"] = student | {k: run.results["student_torch_cost"][k]
                                                 for k in ("peak_memory_bytes", "flops_per_example") if student.get(k) is None}
    else:
        run.results["teacher_cost"] = torch_cost(run.teacher.module, run.teacher.adapter, run.teacher.encode(small))
        run.results["student_cost"] = run.results["student_torch_cost"]


def export(run) -> None:
    formats = run.config.exports if run.config.exports is not None else list(run.backend.default_exports)
    run.results["exports"] = run.backend.export(run.student, formats, run.out, run.out, run.split.test)
    failed = [name for name, record in run.results["exports"].items() if not record["verified"]]
    if failed:
        run.reporter.log(f"exports not verified: {', '.join(failed)}")


def report(run, started: float) -> dict:
    from ..pipeline import jsonable

    r, c = run.results, run.config
    teacher = _teacher_section(run)
    student = _student_section(run)
    retention = student["accuracy"] / teacher["accuracy"] if teacher["accuracy"] else 0.0
    compression = teacher["params"] / max(student["params"], 1)
    speedup = teacher["latency_ms_p50"] / max(student["latency_ms_p50"], 1e-9)
    out = {"task": run.data.task, "backend": run.backend.name, "seed": c.seed, "data_sha256": run.data.sha256,
           "teacher": teacher, "student": student, "retention": retention, "compression_ratio": compression,
           "speedup": speedup, "exports": r["exports"], "checks": {}, "stages": {},
           "status": "completed", "name": f"{run.data.task}-student-{c.target_size}", "classes": list(run.data.classes),
           "latency_runtime": r["teacher_cost"]["runtime"], "threads": r["teacher_cost"]["threads"],
           "compression_bytes": teacher["size_bytes"] / max(student["size_bytes"], 1),
           "data": {"source": run.data.source or c.data, "split": run.split.sizes()},
           "design": {k: v for k, v in run.design.items() if k != "fingerprint"},
           "training": _training_section(run), "config": c.model_dump(mode="json"),
           "environment": _environment(), "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started))}
    if run.unlabelled is not None:
        out["data"]["unlabelled"] = {"source": run.unlabelled.source, "rows": len(run.unlabelled),
                                     "sha256": run.unlabelled.sha256, "labelled_by": "the teacher"}
    if "baseline_quality" in r:
        out["baseline"] = r["baseline_quality"] | {"epochs_trained": len(r["baseline_train"].history),
                                                    "distillation_gain": student["accuracy"] - r["baseline_quality"]["accuracy"]}
    out["checks"] = _checks(out, c) | r.get("safety_checks", {})
    out = jsonable(out)
    (run.out / "MODEL_CARD.md").write_text(model_card(out))
    return out


def _teacher_section(run) -> dict:
    d, q, cost = run.results["teacher_describe"], run.results["teacher_quality"], run.results["teacher_cost"]
    return {"params": d["params"], "size_bytes": d["size_bytes"], "accuracy": q["accuracy"],
            "latency_ms_p50": cost["latency_ms_p50"], "latency_ms_p95": cost["latency_ms_p95"],
            "f1_macro": q["f1_macro"], "ece": q["ece"], **_cost_extras(cost),
            "ref": run.teacher.ref, "kind": run.teacher.kind, "layers": d.get("layers"), "width": d.get("width"),
            "heads": d.get("heads"), "classes": list(run.teacher.classes)}


def _student_section(run) -> dict:
    q, cost = run.results["student_quality"], run.results["student_cost"]
    exports = run.results["exports"]
    size = next((exports[f]["size_bytes"] for f in ("safetensors", "huggingface", "onnx") if f in exports), None)
    if size is None:
        size = sum(p.numel() * p.element_size() for p in run.student.module.parameters())
    chosen = run.results["chosen"]
    return {"params": run.student.params, "size_bytes": size, "accuracy": q["accuracy"],
            "latency_ms_p50": cost["latency_ms_p50"], "latency_ms_p95": cost["latency_ms_p95"],
            "architecture": run.student.architecture, "f1_macro": q["f1_macro"], "ece": q["ece"],
            "agreement": q["agreement"], "per_class_accuracy": q["per_class_accuracy"],
            "confusion_matrix": q["confusion_matrix"], **_cost_extras(cost), "candidate": chosen["name"],
            "pytorch_latency_ms_p50": run.results["student_torch_cost"]["latency_ms_p50"],
            "initialised_from": run.student.extra.get("initialised_from")}


def _cost_extras(cost: dict) -> dict:
    return {k: cost.get(k) for k in ("latency_ms_p50_batch32", "latency_ms_p95_batch32", "peak_memory_bytes",
                                     "flops_per_example", "threads", "runtime")}


def _training_section(run) -> dict:
    result, settings = run.results["train"], run.results["settings"]
    augmentation = run.results.get("augmentation")
    return {"temperature": settings["temperature"], "alpha": settings["alpha"], "transfer": list(run.config.transfer),
            "epochs": settings["epochs"], "epochs_trained": len(result.history), "best_epoch": result.best_epoch,
            "stopped_early": result.stopped_early, "steps": result.steps, "batch_size": settings["batch_size"],
            "learning_rate": settings["learning_rate"], "samples_per_s": result.samples_per_s,
            "seconds": result.seconds, "device": settings["device"], "resumed_from_step": result.resumed_from_step,
            "teacher_outputs_cached": "teacher_train_logits" in run.results,
            "augmentation": augmentation.describe() if augmentation is not None else None,
            "teacher_online": augmentation is not None and settings["alpha"] > 0, "history": result.history}


def _checks(report: dict, config) -> dict:
    checks = {
        "retention": _check(report["retention"], config.quality_threshold, report["retention"] >= config.quality_threshold,
                            "student accuracy / teacher accuracy on the test split"),
        "compression": _check(report["compression_ratio"], SIZE_RATIOS[config.target_size],
                              report["compression_ratio"] >= SIZE_RATIOS[config.target_size],
                              f"teacher params / student params for target_size={config.target_size}"),
    }
    exports = report["exports"]
    if exports:
        share = sum(r["verified"] for r in exports.values()) / len(exports)
        failed = [name for name, r in exports.items() if not r["verified"]]
        checks["exports_verified"] = _check(share, 1.0, share == 1.0, "not verified: " + ", ".join(failed) if failed else "all reload and match")
    if "baseline" in report:
        gain = report["baseline"]["distillation_gain"]
        checks["beats_baseline"] = _check(gain, 0.0, gain >= 0, "student accuracy minus labels-only accuracy")
    if config.max_inference_latency_ms is not None:
        latency = report["student"]["latency_ms_p50"]
        checks["latency"] = _check(latency, config.max_inference_latency_ms, latency <= config.max_inference_latency_ms,
                                   "student p50 latency, batch 1, ms")
    return checks


def _check(score, threshold, passed, detail) -> dict:
    return {"passed": bool(passed), "score": float(score), "threshold": float(threshold), "detail": detail}


def _environment() -> dict:
    import onnxruntime
    import torch

    return {"python": platform.python_version(), "torch": torch.__version__, "onnxruntime": onnxruntime.__version__,
            "machine": platform.machine(), "cpu_threads": torch.get_num_threads()}
