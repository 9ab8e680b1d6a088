"""MODEL_CARD.md in Hugging Face model-card form: YAML front matter, then lineage, data, metrics,
intended use and limitations, all taken from the report."""

from __future__ import annotations

import json

PIPELINE_TAGS = {"text": "text-classification", "image": "image-classification", "tabular": "tabular-classification"}


def _q(value) -> str:
    """A YAML scalar: JSON strings and numbers are valid YAML."""
    return json.dumps(value)


def model_card(report: dict) -> str:
    return _front_matter(report) + "\n" + _body(report)


def _front_matter(report: dict) -> str:
    student, teacher, task = report["student"], report["teacher"], report["task"]
    metrics = [("accuracy", student["accuracy"]), ("f1", student.get("f1_macro"))]
    lines = ["---", "license: other", f"library_name: {_q(_library(report))}",
             f"pipeline_tag: {PIPELINE_TAGS[task]}", "tags:", "  - distillation", "  - knowledge-distillation", "  - prsm",
             f"base_model: {_q(teacher.get('ref', ''))}", "datasets:", f"  - {_q(report.get('data', {}).get('source', ''))}",
             "metrics:", "  - accuracy", "  - f1", "model-index:", f"  - name: {_q(report.get('name', 'prsm-student'))}",
             "    results:", "      - task:", f"          type: {PIPELINE_TAGS[task]}", "        dataset:",
             f"          name: {_q(report.get('data', {}).get('source', ''))}", f"          type: {_q(report['data_sha256'][:16])}",
             "          split: test", "        metrics:"]
    for name, value in metrics:
        if value is not None:
            lines += [f"          - type: {name}", f"            value: {round(value, 4)}"]
    return "\n".join(lines + ["---", ""])


def _strategies(report: dict) -> str:
    """The training strategies beyond basic distillation, and the accuracy under attack where measured."""
    training, student = report["training"], report["student"]
    parts = []
    progressive = training.get("progressive")
    if progressive and progressive.get("assistant"):
        parts.append(f"progressive: a teacher assistant ({progressive['assistant']}, {progressive['assistant_params']:,} "
                     f"parameters, validation accuracy {_fmt(progressive['assistant_validation_accuracy'])}) learnt from "
                     "the teacher, and the student from it")
    elif progressive:
        parts.append(f"progressive asked for, but {progressive['why']}")
    if "curriculum" in training:
        parts.append(f"curriculum: the easiest {training['curriculum']['start']:.0%} of the rows first (by the teacher's "
                     "confidence), every row from half-way")
    if "adversarial" in training:
        a = training["adversarial"]
        parts.append(f"adversarial: half the loss on {a['steps']}-step PGD perturbations of size {a['epsilon']:.4g}")
    attack = student.get("under_attack")
    out = "".join(f"\n- Strategy: {part}." for part in parts)
    if attack:
        out += (f"\n- Under a {attack['steps']}-step PGD attack of size {attack['epsilon']:.4g} ({attack['epsilon_unit']}) the "
                f"student keeps {attack['accuracy']:.1%} accuracy on the test split.")
    return out


def _update(update: dict | None) -> str:
    """A student that started from a model: accuracy before and after, by domain, and the forgetting."""
    if not update:
        return ""
    lines = ["", "", "### Before and after" if update.get("from") else "### By domain", ""]
    if update.get("from"):
        lines.append(f"The student started as a copy of `{update['from']}`: test accuracy "
                     f"{_fmt(update.get('before_accuracy'))} before, {_fmt(update['after_accuracy'])} after.")
    domains = update.get("by_domain") or {}
    if domains:
        lines += ["", "| domain | rows | teacher | before | student |", "|---|---|---|---|---|"]
        lines += [f"| {name} | {d['rows']} | {_fmt(d['teacher_accuracy'])} | {_fmt(d.get('before_accuracy'))} | "
                  f"{_fmt(d['student_accuracy'])} |" for name, d in domains.items()]
    if "forgetting" in update:
        lines += ["", f"Forgetting on the replayed task: {update['forgetting']:+.4f} (accuracy lost; negative: gained)."]
    return "\n".join(lines)


def _ensemble(ensemble: dict | None) -> str:
    """The teachers of an ensemble, each with its accuracy, and the student against each yardstick."""
    if not ensemble:
        return ""
    rows = "\n".join(f"| `{m['ref']}` | {m['kind']} | {m['weight']:g} | {m.get('domain') or ''} | {m['temperature']:g} | "
                     f"{m['accuracy']:.4f} |" for m in ensemble["members"])
    aligned = ("labels matched by name and each teacher's temperature fitted on the validation split"
               if ensemble.get("knowledge_alignment") else "labels in one order, temperature 1")
    return f"""

### Teacher ensemble

{len(ensemble['members'])} teachers fused by `{ensemble['fusion']}` ({aligned}); the student was designed from
`{ensemble['designed_from']}`. They all agree on {ensemble['all_agree']:.1%} of the test rows.

| teacher | kind | weight | domain | temperature | accuracy (test) |
|---|---|---|---|---|---|
{rows}
| ensemble | | | | | {ensemble['accuracy']:.4f} |

Student retention against the ensemble {_fmt(ensemble.get('student_retention_vs_ensemble'))}, against the best single
teacher (`{ensemble['best_teacher']}`) {_fmt(ensemble.get('student_retention_vs_best_teacher'))}."""


def _body(report: dict) -> str:
    s, t = report["student"], report["teacher"]
    rows = [("accuracy (test)", t["accuracy"], s["accuracy"]), ("F1, macro", t.get("f1_macro"), s.get("f1_macro")),
            ("ECE", t.get("ece"), s.get("ece")), ("parameters", t["params"], s["params"]),
            ("size, bytes", t["size_bytes"], s["size_bytes"]),
            ("latency p50, ms (batch 1)", t["latency_ms_p50"], s["latency_ms_p50"]),
            ("latency p95, ms (batch 1)", t["latency_ms_p95"], s["latency_ms_p95"])]
    table = "\n".join(f"| {name} | {_fmt(a)} | {_fmt(b)} |" for name, a, b in rows)
    exports = "\n".join(f"- `{fmt}`: `{r['path']}` ({r['size_bytes']:,} bytes, sha256 `{r['sha256'][:16]}…`, "
                        f"verified: {'yes' if r['verified'] else 'NO'})" for fmt, r in report["exports"].items())
    checks = "\n".join(f"- {name}: {'passed' if c['passed'] else 'FAILED'} (score {_fmt(c['score'])}, threshold {_fmt(c['threshold'])})"
                       for name, c in report["checks"].items())
    return f"""# {report.get('name', 'prsm-student')}

A {report['task']} classifier distilled by PRSM from `{t.get('ref', '')}` ({t.get('kind', '')} teacher).

## Lineage

- Teacher: `{t.get('ref', '')}`, {t['params']:,} parameters.
- Student: {s['architecture'].get('kind') or s['architecture'].get('model_type', '')}, {s['params']:,} parameters ({report['compression_ratio']:.1f}x fewer).{_student_base(s)}
- Method: knowledge distillation (Hinton et al., 2015), temperature {report['training']['temperature']}, alpha {report['training']['alpha']}, transfer: {', '.join(report['training']['transfer'])}; seed {report['seed']}{_augmentation(report['training'])}.{_kept_trial(report['training'])}{_strategies(report)}
- Data: `{report.get('data', {}).get('source', '')}`, sha256 `{report['data_sha256']}`; split train/validation/test {report['data']['split']}.{_unlabelled(report.get('data', {}))}

## Results on the held-out test split

| metric | teacher | student |
|---|---|---|
{table}

Retention {report['retention']:.3f}, agreement with the teacher {_fmt(s.get('agreement'))}, speedup {_fmt(report['speedup'])}x
({_runtimes(report)}, on the machine that built the model).{_mobile(s.get("mobile"))}{_ensemble(t.get("ensemble"))}{_update(report.get("update"))}

{_search(report.get('search'))}{_teacher_note(t)}## Checks

{checks}

## Files

{exports}

## Intended use

Classifying {report['task']} inputs like those in the training data into: {', '.join(map(str, report['classes']))}.

## Limitations

- The student learns only what the teacher shows it on this data; it inherits the teacher's errors and biases and is
  less accurate where the teacher was unsure.
- Figures come from one held-out split of {report['data']['split']['test']} examples; expect different numbers on other data.
- Latency was measured on one CPU; other hardware will differ.
"""


def _kept_trial(training: dict) -> str:
    kept = training.get("kept_trial")
    if not kept:
        return ""
    return (f" The weights are search trial {kept['trial'] + 1}'s: it scored {kept['val_accuracy']:.4f} on validation, "
            f"above the full training's best epoch ({kept['final_val_accuracy']:.4f}).")


def _augmentation(training: dict) -> str:
    described = training.get("augmentation")
    if not described:
        return ""
    shown = ", ".join(f"{k} {v}" for k, v in described.items() if k != "task")
    return f"; augmentation ({shown}), the teacher run online on each augmented batch"


def _fmt(value) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _runtimes(report: dict) -> str:
    """Where the latencies were measured: one runtime for both, or each model's own (a Keras
    student runs as TFLite; its eager Keras call is given too)."""
    t, s = report["teacher"], report["student"]
    teacher = t.get("runtime") or report["latency_runtime"]
    student = s.get("runtime") or report["latency_runtime"]
    if teacher == student:
        return f"latency in {teacher}, {s.get('threads')} threads"
    eager = f"; an eager Keras call takes {_fmt(s['keras_latency_ms_p50'])} ms" if s.get("keras_latency_ms_p50") else ""
    return (f"teacher latency in {teacher} ({t.get('threads')} threads), student in {student} "
            f"({s.get('threads')} thread{'s' if s.get('threads') != 1 else ''}){eager}")


def _mobile(mobile: dict | None) -> str:
    """The student as a phone runs it (target_hardware mobile): the int8 TFLite file's own figures."""
    if not mobile:
        return ""
    return (f"\n\nOn mobile (target_hardware): the int8 TFLite file `{mobile['path']}` in LiteRT, one thread, batch 1: "
            f"p50 {_fmt(mobile['latency_ms_p50'])} ms, p95 {_fmt(mobile['latency_ms_p95'])} ms, "
            f"{_fmt(mobile['size_bytes'])} bytes on disk, at most {_fmt(mobile['memory_bytes'])} bytes of tensors in "
            f"memory, test accuracy {_fmt(mobile['accuracy'])}"
            f"{'' if mobile['verified'] else ' (NOT verified: see its export record)'}.")


def _student_base(student: dict) -> str:
    start = student.get("initialised_from") or {}
    if not start.get("base"):
        return ""
    if "base_layers" not in start:  # a student of another family: the base's word embeddings only
        return (f"\n- Starts from: `{start['base']}`'s word embeddings, on their top principal directions, and its "
                "tokenizer; that model's own licence and training data come with them.")
    return (f"\n- Starts from: `{start['base']}`, its first {len(start['base_layers'])} layers and its tokenizer "
            "(trimmed to the training texts' tokens); that model's own licence and training data come with these weights.")


def _unlabelled(data: dict) -> str:
    u = data.get("unlabelled")
    if not u:
        return ""
    learned = "the student learned the teacher's outputs on them" if u.get("used", True) else \
        "the search found the student better without them, and it did not train on them"
    return (f"\n- Transfer set: {u['rows']:,} unlabelled examples from `{u['source']}` (sha256 `{u['sha256'][:16]}…`), "
            f"labelled by the teacher; {learned}.")


def _search(search: dict | None) -> str:
    """Why this student: every trial of the search, the chosen one marked, and the labels-only reference."""
    if not search:
        return ""
    rows = []
    for trial in search["trials"]:
        mark = " **chosen**" if trial["number"] == search["chosen"] else ""
        settings = "labels only" if trial.get("reference") else \
            f"T {trial['temperature']:g}, alpha {trial['alpha']:g}, lr {trial['learning_rate']:.2g}" + \
            (", + unlabelled rows" if trial.get("extra") else "")
        gate = trial.get("gate")
        checks = "" if gate is None else "pass" if gate["passed"] else "failed: " + ", ".join(gate["failed"])
        rows.append(f"| {trial['number'] + 1}{mark} | {trial['design']} | {trial['params']:,} | {settings} | "
                    f"{trial['epochs']} | {trial['val_accuracy']:.4f} | {trial['state']} | {checks} |")
    reference = search.get("labels_only") or {}
    gain = reference.get("gain")
    versus = "" if gain is None else (
        f" Distillation against labels alone, same design, on validation: {gain:+.4f} "
        f"({reference['distilled_val_accuracy']:.4f} against {reference['val_accuracy']:.4f}).")
    gated = "" if not any("gate" in t for t in search["trials"]) else (
        " Each trial that ran to the end was also put through the checks that gate a deploy (calibration, agreement "
        "where the teacher is least sure, fairness, robustness), on validation.")
    return f"""## How this student was chosen

A {search['level']} search tried {len(search['trials'])} students for at most {search['trial_epochs']} epochs each
(successive halving: a third of the trials at each rung went on), scored on the validation split only; the test split
was read once, at the end.{gated} Chosen: {search['why']}.{versus}

![Search trials: student size against validation accuracy, the chosen trial ringed](search.svg)

| trial | design | parameters | settings | epochs | validation accuracy | state | deploy checks (validation) |
|---|---|---|---|---|---|---|---|
{chr(10).join(rows)}

"""


def _teacher_note(teacher: dict) -> str:
    note = teacher.get("test_note")
    return f"**Note:** {note}.\n\n" if note else ""


def _library(report: dict) -> str:
    """Transformers for a student the Transformers classes load; PyTorch for the rest (a zoo design,
    a text student of another family)."""
    architecture = report["student"].get("architecture") or {}
    return "transformers" if report["backend"] == "transformers" and "model_type" in architecture else "pytorch"
