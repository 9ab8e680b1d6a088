"""Backend choice and the request-to-engine mapping, shared by the SDK's in-process mode and the web
platform's orchestrator."""

from __future__ import annotations

import re
from pathlib import Path

from .engine.formats import TENSORFLOW_FORMATS

NLP_WORDS = ("text", "sentiment", "nlp", "language", "review", "chat", "question", "translation", "toxicity")
VISION_WORDS = ("image", "vision", "photo", "fashion", "picture", "camera")
# The packaged student bases (prsm/engine/backends/transformers/bases.py BUILTIN), named here without
# importing the transformers backend: a server offers only these (it reads no local paths).
STUDENT_BASES = ("all-minilm-l6-v2",)


HTTP_TEACHER_PREFIXES = ("endpoint:", "openai:")
# Bare names of models served by OpenAI-compatible providers (the seed's teacher_model="gpt-4"):
# they mean openai:NAME with the configured provider.
PROVIDER_MODEL = re.compile(r"^(gpt-[\w.:-]+|chatgpt-[\w.:-]+|o[1-9](-[\w.:-]+)?)$", re.IGNORECASE)
DEFAULT_HTTP_STUDENT_BASE = "builtin:all-minilm-l6-v2"  # a remote teacher has no layers to cut a student from


def teacher_ref_resolve(ref: str) -> str:
    """``gpt-4`` (and other bare provider model names) -> ``openai:gpt-4``; any other ref as it is."""
    return f"openai:{ref}" if PROVIDER_MODEL.match(ref) else ref


def is_http_teacher(ref: str) -> bool:
    return teacher_ref_resolve(ref).startswith(HTTP_TEACHER_PREFIXES)


def teacher_task(ref: str) -> str | None:
    """The task a catalog teacher was built for (a teacher over HTTP classifies text); None when
    only the data will tell."""
    if is_http_teacher(ref):
        return "text"
    if ref.startswith("catalog:"):
        from .engine.catalog import ENTRIES

        entry = ENTRIES.get(ref.removeprefix("catalog:"))
        return entry.task if entry else None
    return None


def teacher_kind(ref: str) -> str:
    """``huggingface``, ``zoo``, ``onnx``, ``keras`` or ``http``, read from the ref, the catalog or what is on disk."""
    if is_http_teacher(ref):
        return "http"
    if ref.startswith("catalog:"):
        from .engine.catalog import ENTRIES

        entry = ENTRIES.get(ref.removeprefix("catalog:"))
        return entry.kind if entry else "unknown"
    path = Path(ref).expanduser()
    if path.suffix.lower() == ".onnx":
        return "onnx"
    if path.suffix.lower() == ".keras":
        return "keras"
    if (path / "config.json").is_file():
        return "huggingface"
    return "zoo"


def backend_choose(*, domain: str, teacher_kind: str, task: str | None = None, target_hardware: str = "cpu",
                   exports: list[str] | None = None) -> tuple[str, str]:
    """The backend for a job and the reason, in words a person reads on the job page. A TensorFlow
    format (keras, savedmodel, tflite) asks for the TensorFlow backend where the student is not a
    text model; for a text one the engine refuses the format before anything trains."""
    words = domain.lower()
    tensorflow = [f for f in exports or [] if f in TENSORFLOW_FORMATS]
    if teacher_kind == "http":
        return "transformers", "the teacher is a text classifier reached over HTTP"
    if teacher_kind == "huggingface":
        return "transformers", "the teacher is a Hugging Face transformer"
    if task == "text":
        return "transformers", "the teacher reads text"
    if task is None and any(word in words for word in NLP_WORDS):
        return "transformers", f"the domain {domain!r} is language"
    if tensorflow:
        return "tensorflow", f"the {tensorflow[0]} export is TensorFlow's: Keras students on the TensorFlow runtime"
    if "mobile" in words or target_hardware != "cpu":
        return "pytorch", "mobile targets want TensorFlow Lite, which is not available yet; PyTorch with an ONNX export instead"
    if task == "image" or (task is None and any(word in words for word in VISION_WORDS)):
        return "pytorch", "vision models train on the PyTorch backend"
    return "pytorch", "a custom (zoo or ONNX) teacher trains on the PyTorch backend"


def request_to_config(request, *, teacher: str, dataset: str, backend: str, epochs: int | None,
                      overrides: dict | None = None) -> dict:
    """The engine's ``DistillConfig`` (as JSON) for a validated ``DistillationRequest``.

    ``overrides`` replace config fields after the request's (a server's stored path of an uploaded
    transfer set, say). Asked augmentations turn on the engine's augmentation (``flip`` adds image
    flips) and fix the task to the one they are for, so that data of another kind is refused when it
    is loaded instead of being augmented another way.
    """
    from .engine.config import DistillConfig

    augment = request.augmentation_task
    teacher = teacher_ref_resolve(teacher)
    overrides = {**_http_defaults(request, teacher), **(overrides or {})}
    config = DistillConfig(
        teacher=teacher, data=dataset, task=augment or "auto", augment=augment is not None,
        augment_flip="flip" in request.augmentation_techniques,
        target_size=request.target_size, optimization_target=request.optimization_target,
        backend=backend, exports=request.export_formats, epochs=epochs, seed=request.seed, domain=request.domain,
        quality_threshold=request.quality_threshold, max_inference_latency_ms=request.max_inference_latency,
        max_memory_bytes=request.max_memory_usage, layer_count=request.layer_count, hidden_size=request.hidden_size,
        attention_heads=request.attention_heads, **{**request.engine_options(), **(overrides or {})},
    )
    return config.model_dump(mode="json")


def _http_defaults(request, teacher: str) -> dict:
    """What the request's teacher and PII policy add to the config: a teacher over HTTP gets the
    packaged student base unless one is named; ``pii_policy="redact"`` turns the checks' redaction on."""
    extra: dict = {}
    if teacher.startswith(HTTP_TEACHER_PREFIXES) and request.student_base is None:
        extra["student_base"] = DEFAULT_HTTP_STUDENT_BASE
    if getattr(request, "pii_policy", None) == "redact":
        extra["checks"] = {"redact_pii": True}
    return extra
