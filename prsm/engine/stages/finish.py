"""Stages after training: held-out evaluation, exports, the report and the model card."""

from __future__ import annotations

import platform
import time

import numpy as np

from ..config import DistillConfig
from ..evaluation.compare import onnx_cost
from ..evaluation.metrics import (
    agreement,
    confusion_matrix,
    per_class_accuracy,
    quality,
)
from ..export.card import model_card
from ..export.search_chart import search_svg
from ..jsonable import jsonable
from ..run import Run
from ..students.design import SIZE_RATIOS
from .safety import after_training

SEARCH_CHART = "search.svg"  # beside MODEL_CARD.md, which shows it
TEACHER_SAW_TEST = 0.995  # a teacher this right on the test rows has most likely learnt them


def evaluate(run: Run) -> None:
    test = run.split.test
    teacher_logits = run.teacher_test_logits
    logits = run.backend.evaluate(run.student, test)
    run.student_test_logits = logits
    run.student_quality = quality(logits, test.labels, test.num_classes) | {
        "agreement": agreement(logits, teacher_logits),
        "per_class_accuracy": per_class_accuracy(logits, test.labels, test.classes),
        "confusion_matrix": confusion_matrix(logits, test.labels, test.num_classes)}
    if run.baseline_student is not None:
        base = run.backend.evaluate(run.baseline_student, test)
        run.baseline_quality = quality(base, test.labels, test.num_classes) | {"agreement": agreement(base, teacher_logits)}
    run.reporter.metric({"student_accuracy": run.student_quality["accuracy"]})
    _update(run)
    _specialty(run)
    _under_attack(run)
    _costs(run)
    after_training(run)


def _specialty(run: Run) -> None:
    """The request's specialty requirements: each named check on its data set (or the test split),
    against its minimum; a failed one stops a deploy like any failed requirement."""
    from ..evaluation.metrics import quality as quality_of

    for number, (check, rows) in enumerate(zip(run.config.specialty_checks, run.specialty_data)):
        data = rows if rows is not None else run.split.test
        logits = run.student_test_logits if rows is None else run.backend.evaluate(run.student, data)
        labels = np.asarray(data.labels)
        right = logits.argmax(1) == labels
        if check.name == "accuracy":
            score, what = float(right.mean()), "accuracy"
        elif check.name == "per_class_accuracy":
            names = [check.class_name] if check.class_name else [n for i, n in enumerate(data.classes) if (labels == i).any()]
            per = {name: float(right[labels == data.classes.index(name)].mean()) for name in names}
            worst = min(per, key=per.get)
            score, what = per[worst], f"accuracy on {worst!r}, the lowest of {len(per)} class(es)"
        elif check.name == "macro_f1":
            score, what = float(quality_of(logits, labels, data.num_classes)["f1_macro"]), "macro F1"
        else:  # agreement with the teacher on these rows
            teacher = run.teacher_test_logits if rows is None else run.teacher.logits(data)
            score, what = float((logits.argmax(1) == np.asarray(teacher).argmax(1)).mean()), "agreement with the teacher"
        where = check.data or "the test split"
        name = f"specialty_{check.name}" + (f"_{number + 1}" if any(
            other.name == check.name for other in run.config.specialty_checks[:number]) else "")
        # a requirement of the request, like retention: no safety phase, so it does not trip the breaker
        run.specialty_checks[name] = {"passed": bool(score >= check.minimum), "score": score, "threshold": check.minimum,
                                      "detail": f"{what} on {where} ({len(data)} rows)", "specialty": True}


def _update(run: Run) -> None:
    """Where the student started from a model (``student_from``) or the rows name their domains:
    accuracy on each domain's test rows, the teacher's and the student's, and the model's before
    the update (its forgetting on the replayed task)."""
    c, test = run.config, run.split.test
    if c.student_from is None and test.domains is None:
        return
    labels = np.asarray(test.labels)
    before = None
    if c.student_from == c.teacher and c.ensemble is None:  # an adaptation: the source is the teacher
        before = run.teacher_test_logits
    elif c.student_from is not None:
        from ..teachers import load_teacher

        before = load_teacher(c.student_from).logits(test)

    def accuracy(logits, rows) -> float:
        return float((np.asarray(logits)[rows].argmax(1) == labels[rows]).mean()) if len(rows) else 0.0

    everything = np.arange(len(test))
    record: dict = {"from": c.student_from, "after_accuracy": accuracy(run.student_test_logits, everything)}
    if before is not None:
        record["before_accuracy"] = accuracy(before, everything)
    if test.domains is not None:
        domains = np.asarray(test.domains)
        record["by_domain"] = {}
        for domain in dict.fromkeys(test.domains):
            rows = np.flatnonzero(domains == domain)
            entry = {"rows": int(len(rows)), "teacher_accuracy": accuracy(run.teacher_test_logits, rows),
                     "student_accuracy": accuracy(run.student_test_logits, rows)}
            if before is not None:
                entry["before_accuracy"] = accuracy(before, rows)
            record["by_domain"][domain or "(none)"] = entry
        replayed = record["by_domain"].get(c.replay_domain) if c.replay_data else None
        if replayed and "before_accuracy" in replayed:
            record["forgetting"] = replayed["before_accuracy"] - replayed["student_accuracy"]
    run.update = record


def _under_attack(run: Run) -> None:
    """The student's accuracy under a PGD attack on the test split, for an adversarial run (or when
    asked), on image and tabular students the engine can take gradients of."""
    c = run.config
    if not (c.attack_eval or "adversarial" in c.strategies):
        return
    from ..training.strategies import (
        ADVERSARIAL_EPSILON,
        EVAL_PGD_STEPS,
        embeddings_adversarial_ready,
        text_accuracy_under_attack,
    )
    from .train import attack_of

    test = run.split.test
    if run.data.task == "text":
        if not embeddings_adversarial_ready(run.student.module):
            return
        epsilon = c.adversarial_epsilon or ADVERSARIAL_EPSILON["text"]
        accuracy = text_accuracy_under_attack(run.student.module, run.student.adapter.encode(test), test.labels, epsilon,
                                              seed=c.seed)
        unit = "standard deviations of the embedding table, on the input embeddings"
    else:
        settings = attack_of(run)
        epsilon = settings["epsilon"]
        accuracy = run.backend.accuracy_under_attack(run.student, test, settings, c.seed)
        if accuracy is None:
            return
        unit = "pixels (0..1)" if run.data.task == "image" else "feature standard deviations"
    run.under_attack = {"attack": "pgd", "steps": EVAL_PGD_STEPS, "epsilon": epsilon, "epsilon_unit": unit,
                        "accuracy": accuracy}
    run.reporter.log(f"accuracy under a PGD-{EVAL_PGD_STEPS} attack (epsilon {epsilon:.4g}): {accuracy:.4f}")


def _costs(run: Run) -> None:
    """Latency of teacher and student in the same runtime: onnxruntime when the teacher is ONNX."""
    test = run.split.test
    rows = np.arange(min(len(test), 64))
    small = test.subset(rows)
    student_inputs = run.student.adapter.encode(small)
    run.student_own_cost = run.backend.cost(run.student, student_inputs)  # the student's own runtime
    if run.teacher.runtime == "http":  # the requests' own times; the student's in its own runtime beside them
        run.teacher_cost = run.teacher.cost()
        run.student_cost = run.student_own_cost
    elif run.teacher.runtime == "onnxruntime":
        path = run.backend.latency_onnx(run.student, student_inputs, run.out / "cache" / "student-latency.onnx",
                                        list(test.classes))
        run.teacher_cost = run.teacher.cost(run.teacher.encode(small))
        if path is None:
            run.student_cost = run.student_own_cost
            return
        # FLOPs and memory counted from both graphs the same way; torch's figures where a count failed
        student = onnx_cost(path, student_inputs)
        run.student_cost = student | {k: run.student_own_cost[k]
                                      for k in ("peak_memory_bytes", "flops_per_example") if student.get(k) is None}
    else:
        run.teacher_cost = run.teacher.cost(run.teacher.encode(small))
        run.student_cost = run.student_own_cost


def export(run: Run) -> None:
    formats = run.config.exports if run.config.exports is not None else list(run.backend.default_exports_for(run.student))
    own = [f for f in formats if f in run.backend.formats]
    run.exports = run.backend.export(run.student, own, run.out, run.out, run.split.test)
    converted = [f for f in formats if f not in own]
    if converted:  # TensorFlow's formats for a PyTorch student (backends.CONVERTED_FORMATS), checked in prepare
        from ..backends import tensorflow

        representative = tensorflow.representative_rows(run.split.train, run.config.seed)
        run.exports.update(tensorflow.export_torch_student(run.student, converted, run.out, run.out, run.split.test,
                                                           representative))
    failed = [name for name, record in run.exports.items() if not record["verified"]]
    if failed:
        run.reporter.log(f"exports not verified: {', '.join(failed)}")


def report(run: Run) -> None:
    """The report (CONTRACT.md's fields, plus extras) into ``run.report``, and ``MODEL_CARD.md``;
    the pipeline adds the stages' seconds and writes ``report.json``."""
    c = run.config
    teacher = _teacher_section(run)
    student = _student_section(run)
    retention = student["accuracy"] / teacher["accuracy"] if teacher["accuracy"] else 0.0
    compression = teacher["params"] / max(student["params"], 1)
    speedup = teacher["latency_ms_p50"] / max(student["latency_ms_p50"], 1e-9)
    out = {"task": run.data.task, "backend": run.backend.name, "seed": c.seed, "data_sha256": run.data.sha256,
           "teacher": teacher, "student": student, "retention": retention, "compression_ratio": compression,
           "speedup": speedup, "exports": run.exports, "checks": {}, "stages": {},
           "status": "completed", "name": f"{run.data.task}-student-{c.target_size}", "classes": list(run.data.classes),
           "latency_runtime": run.teacher_cost["runtime"], "threads": run.teacher_cost["threads"],
           "compression_bytes": teacher["size_bytes"] / max(student["size_bytes"], 1),
           "data": {"source": run.data.source or c.data, "split": run.split.sizes()},
           "design": {k: v for k, v in run.design.items() if k != "fingerprint"},
           "training": _training_section(run), "config": c.model_dump(mode="json"),
           "environment": _environment(), "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(run.started))}
    if run.update is not None:
        out["update"] = run.update
    if run.unlabelled is not None:
        out["data"]["unlabelled"] = {"source": run.unlabelled.source, "rows": len(run.unlabelled),
                                     "sha256": run.unlabelled.sha256, "labelled_by": "the teacher",
                                     "used": run.hyper.get("extra", True), "made_for_the_search": run.search_made_rows}
    if run.search is not None:
        train_seconds = run.train_result.seconds
        per_epoch = train_seconds / max(len(run.train_result.history), 1)
        out["search"] = run.search | {
            "measured_cost_factor": round(run.search["seconds"] / train_seconds, 3) if train_seconds else None,
            # what the schedule predicts at the final training's measured speed (the estimate's rule)
            "predicted_seconds": round(run.search["expected_cost_factor"] * run.search["final_epochs"] * per_epoch, 3)}
    if "ensemble" in teacher:  # the student against the fused teachers and against the best one alone
        best = teacher["ensemble"]["best_teacher_accuracy"]
        teacher["ensemble"] = teacher["ensemble"] | {
            "student_retention_vs_ensemble": retention,
            "student_retention_vs_best_teacher": student["accuracy"] / best if best else 0.0}
    if teacher["accuracy"] >= TEACHER_SAW_TEST:
        out["teacher"]["test_note"] = (f"the teacher scores {teacher['accuracy']:.1%} on the test split: it probably "
                                       "trained on these rows, and retention is measured against a teacher that saw them")
    if run.baseline_quality is not None:
        out["baseline"] = run.baseline_quality | {"epochs_trained": len(run.baseline_result.history),
                                                  "distillation_gain": student["accuracy"] - run.baseline_quality["accuracy"]}
    out["checks"] = _checks(out, c) | run.specialty_checks | run.safety_checks
    run.report = jsonable(out)
    if run.search is not None:  # the card's picture of the search
        (run.out / SEARCH_CHART).write_text(search_svg(run.report["search"]))
    (run.out / "MODEL_CARD.md").write_text(model_card(run.report))


def _teacher_section(run: Run) -> dict:
    d, q, cost = run.teacher_describe, run.teacher_quality, run.teacher_cost
    return {"params": d["params"], "size_bytes": d["size_bytes"], "accuracy": q["accuracy"],
            "latency_ms_p50": cost["latency_ms_p50"], "latency_ms_p95": cost["latency_ms_p95"],
            "f1_macro": q["f1_macro"], "ece": q["ece"], **_cost_extras(cost),
            "ref": run.teacher.ref, "kind": run.teacher.kind, "layers": d.get("layers"), "width": d.get("width"),
            "heads": d.get("heads"), "classes": list(run.teacher.classes), **run.teacher.report_extra()}


def _student_section(run: Run) -> dict:
    q, cost = run.student_quality, run.student_cost
    exports = run.exports
    size = next((exports[f]["size_bytes"] for f in ("safetensors", "huggingface", "onnx", "keras") if f in exports), None)
    if size is None:
        size = run.backend.size_bytes(run.student)
    chosen = run.chosen
    return {"params": run.student.params, "size_bytes": size, "accuracy": q["accuracy"],
            "latency_ms_p50": cost["latency_ms_p50"], "latency_ms_p95": cost["latency_ms_p95"],
            "architecture": run.student.architecture, "f1_macro": q["f1_macro"], "ece": q["ece"],
            "agreement": q["agreement"], "per_class_accuracy": q["per_class_accuracy"],
            "confusion_matrix": q["confusion_matrix"], **_cost_extras(cost), "candidate": chosen["name"],
            f"{run.student_own_cost['runtime']}_latency_ms_p50": run.student_own_cost["latency_ms_p50"],
            **{k: run.student_own_cost[k] for k in ("keras_latency_ms_p50",) if k in run.student_own_cost},
            "initialised_from": run.student.extra.get("initialised_from"), **_mobile(run),
            **({"under_attack": run.under_attack} if run.under_attack else {})}


def _mobile(run: Run) -> dict:
    """For target_hardware mobile, the student as the phone runs it: its int8 TFLite export's figures."""
    record = run.exports.get("tflite-int8")
    if "mobile" not in run.config.target_hardware or record is None:
        return {}
    keys = ("latency_ms_p50", "latency_ms_p95", "memory_bytes", "memory_method", "size_bytes", "accuracy", "verified",
            "threads", "path")
    return {"mobile": {"runtime": "tflite-int8 (LiteRT)", **{k: record.get(k) for k in keys}}}


def _cost_extras(cost: dict) -> dict:
    return {k: cost.get(k) for k in ("latency_ms_p50_batch32", "latency_ms_p95_batch32", "peak_memory_bytes",
                                     "flops_per_example", "threads", "runtime")}


def _training_section(run: Run) -> dict:
    result, settings, augmentation = run.train_result, run.train_settings, run.augmentation
    return {"temperature": settings.temperature, "alpha": settings.alpha, "transfer": list(run.config.transfer),
            "epochs": settings.epochs, "epochs_trained": len(result.history), "best_epoch": result.best_epoch,
            "stopped_early": result.stopped_early, "steps": result.steps, "batch_size": settings.batch_size,
            "learning_rate": settings.learning_rate, "samples_per_s": result.samples_per_s,
            "batches_by_length": result.batches_by_length,
            "threads": result.threads,
            "seconds": result.seconds, "device": settings.device, "resumed_from_step": result.resumed_from_step,
            "teacher_outputs_cached": run.teacher_train_logits is not None,
            "augmentation": augmentation.describe() if augmentation is not None else None,
            "teacher_online": augmentation is not None and settings.alpha > 0, "kept_trial": run.kept_trial,
            "strategies": ["basic"] if not run.config.strategies else list(run.config.strategies),
            **_strategy_details(run),
            "history": result.history}


def _strategy_details(run: Run) -> dict:
    from ..training.strategies import ADVERSARIAL_MIX, CURRICULUM_START, TRAIN_PGD_STEPS, curriculum_size
    from .train import training_rows

    out, c = {}, run.config
    if "curriculum" in c.strategies:
        rows = len(training_rows(run))
        out["curriculum"] = {"start": CURRICULUM_START, "ranked_by": "the teacher's probability of the label",
                             "rows_per_epoch": [curriculum_size(rows, e, run.train_settings.epochs)
                                                for e in range(run.train_settings.epochs)]}
    if "adversarial" in c.strategies and run.attack is not None:
        out["adversarial"] = {"attack": "pgd", "steps": TRAIN_PGD_STEPS, "epsilon": run.attack["epsilon"],
                              "perturbed_share_of_loss": ADVERSARIAL_MIX}
    if run.progressive is not None:
        out["progressive"] = run.progressive
    return out


def _checks(report: dict, config: DistillConfig) -> dict:
    checks = {
        "retention": _check(report["retention"], config.quality_threshold, report["retention"] >= config.quality_threshold,
                            "student accuracy / teacher accuracy on the test split"),
    }
    if config.student_from is None:  # a copy keeps the size of the model it was copied from
        checks["compression"] = _check(report["compression_ratio"], SIZE_RATIOS[config.target_size],
                                       report["compression_ratio"] >= SIZE_RATIOS[config.target_size],
                                       f"teacher params / student params for target_size={config.target_size}")
    exports = report["exports"]
    if exports:
        share = sum(r["verified"] for r in exports.values()) / len(exports)
        failed = [name for name, r in exports.items() if not r["verified"]]
        checks["exports_verified"] = _check(share, 1.0, share == 1.0, "not verified: " + ", ".join(failed) if failed else "all reload and match")
    if "baseline" in report:
        gain = report["baseline"]["distillation_gain"]
        checks["beats_baseline"] = _check(gain, 0.0, gain >= 0, "student accuracy minus labels-only accuracy")
    mobile = report["student"].get("mobile")
    if config.max_inference_latency_ms is not None:
        latency, where = ((mobile["latency_ms_p50"], "on mobile: the int8 TFLite file, one thread") if mobile
                          else (report["student"]["latency_ms_p50"], f"in {report['student'].get('runtime')}"))
        checks["latency"] = _check(latency, config.max_inference_latency_ms, latency <= config.max_inference_latency_ms,
                                   f"student p50 latency, batch 1, ms, {where}")
    if config.max_memory_bytes is not None:
        memory, where = ((mobile["memory_bytes"], "on mobile: every tensor of the int8 TFLite file") if mobile
                         else (report["student"].get("peak_memory_bytes"), "weights and activations, batch 1"))
        if memory is not None:
            checks["memory"] = _check(memory, config.max_memory_bytes, memory <= config.max_memory_bytes,
                                      f"student memory, bytes, {where}")
    return checks


def _check(score, threshold, passed, detail) -> dict:
    return {"passed": bool(passed), "score": float(score), "threshold": float(threshold), "detail": detail}


def _environment() -> dict:
    import onnxruntime
    import torch

    return {"python": platform.python_version(), "torch": torch.__version__, "onnxruntime": onnxruntime.__version__,
            "machine": platform.machine(), "cpu_threads": torch.get_num_threads()}
