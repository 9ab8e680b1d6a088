"""The wizard's request as a power user would send it: the SDK, the `prsm distill` command and curl.
Each is built from the same draft the wizard submits, so what is copied is what the page sends."""

from __future__ import annotations

import json
import shlex

from prsm.request import STRATEGY_AUGMENTATIONS, parse_duration_ms, parse_size_bytes

# `prsm distill` flags for the request fields it takes (CONTRACT.md, prsm/cli.py).
CLI_FLAGS = {"target_size": "--target-size", "optimization_target": "--optimization-target", "epochs": "--epochs",
             "seed": "--seed", "layer_count": "--layers", "hidden_size": "--hidden-size", "attention_heads": "--heads",
             "quality_threshold": "--quality-threshold", "search": "--search", "search_seconds": "--search-seconds",
             "temperature": "--temperature", "alpha": "--alpha",
             "max_unlabelled_examples": "--max-unlabelled", "text_variants": "--text-variants",
             "vocabulary_size": "--vocabulary-size", "student_base": "--student-base", "backend": "--backend"}


def snippets(draft: dict, *, base_url: str) -> dict[str, str]:
    return {"sdk": sdk_snippet(draft, base_url=base_url), "cli": cli_snippet(draft), "curl": curl_snippet(draft, base_url=base_url)}


def sdk_snippet(draft: dict, *, base_url: str) -> str:
    arguments = "".join(f"    {name}={value!r},\n" for name, value in draft.items())
    return ("import asyncio\n\nfrom prsm.distillation import DistillationOrchestrator, DistillationRequest\n\n"
            f"request = DistillationRequest(\n{arguments})\n"
            f"orchestrator = DistillationOrchestrator(base_url={base_url!r}, token=\"YOUR_API_TOKEN\")\n"
            "job = asyncio.run(orchestrator.create_distillation(request))\nprint(job.job_id, job.backend)\n")


def cli_snippet(draft: dict) -> str:
    """`prsm distill` runs the same pipeline on your own machine; uploads live on the server, so a
    request naming one is shown with a placeholder for your local copy."""
    teachers = ([draft["teacher_model"]] if draft.get("teacher_model") else []) + list(draft.get("ensemble_teachers") or [])
    data = draft.get("dataset")
    parts = ["prsm", "distill"]
    if source := draft.get("source_model"):  # an adaptation: the source teaches
        parts += ["--source-model", source if source.startswith("catalog:") else "PATH/TO/YOUR/RUN"]
        if corpus := draft.get("domain_corpus"):
            parts += ["--domain-corpus", corpus if corpus.startswith("builtin:") else "PATH/TO/YOUR/DOMAIN/CORPUS"]
    if draft.get("base_model"):  # an update: a finished run's folder here, a job of yours on the server
        parts += ["--base-model", "PATH/TO/YOUR/RUN"] + (["--preserve"] if draft.get("preserve_existing_knowledge") else [])
    for number, teacher in enumerate(teachers, start=1):
        suffix = "" if len(teachers) == 1 else f"_{number}"
        parts += ["--teacher", teacher if teacher.startswith("catalog:") else f"PATH/TO/YOUR/TEACHER{suffix}"]
    if fusion := draft.get("fusion_strategy"):
        parts += ["--fusion", fusion]
    if draft.get("knowledge_alignment"):
        parts.append("--knowledge-alignment")
    if data:
        parts += ["--data", data if data.startswith("builtin:") else "PATH/TO/YOUR/DATA"]
    for name, flag in CLI_FLAGS.items():
        if name in draft:
            parts += [flag, str(draft[name])]
    if "export_formats" in draft:
        parts += ["--export", ",".join(draft["export_formats"])]
    if hardware := draft.get("target_hardware"):
        parts += ["--target-hardware", ",".join(hardware)]
    if latency := draft.get("max_inference_latency"):
        parts += ["--max-latency-ms", f"{parse_duration_ms(latency):g}"]  # "5ms" as the wizard takes it
    if memory := draft.get("max_memory_usage"):
        parts += ["--max-memory-mb", f"{parse_size_bytes(memory) / 2**20:g}"]  # the CLI counts MiB
    if transfer := draft.get("unlabelled_data"):
        parts += ["--unlabelled-data", transfer if transfer.startswith("builtin:") else "PATH/TO/YOUR/TRANSFER/SET"]
    strategies = ([draft["training_strategy"]] if draft.get("training_strategy") not in (None, "basic") else []) + [
        name for name in draft.get("augmentation_techniques") or [] if name in STRATEGY_AUGMENTATIONS]
    if strategies:
        parts += ["--strategy", ",".join(dict.fromkeys(strategies))]
    if epsilon := draft.get("adversarial_epsilon"):
        parts += ["--adversarial-epsilon", str(epsilon)]
    if any(name not in STRATEGY_AUGMENTATIONS for name in draft.get("augmentation_techniques") or []):
        parts.append("--augment")
        if "flip" in draft["augmentation_techniques"]:
            parts.append("--augment-flip")
    return " ".join(shlex.quote(part) if "/" not in part or part.startswith("PATH") else part for part in parts)


def curl_snippet(draft: dict, *, base_url: str) -> str:
    body = json.dumps(draft)
    return (f"curl -X POST {shlex.quote(base_url + '/api/v1/distillations/')} \\\n"
            "  -H 'Authorization: Token YOUR_API_TOKEN' -H 'Content-Type: application/json' \\\n"
            f"  -d {shlex.quote(body)}")
