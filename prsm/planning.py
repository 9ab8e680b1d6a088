"""Backend choice and the request-to-engine mapping, shared by the SDK's in-process mode and the web
platform's orchestrator."""

from __future__ import annotations

import re
from dataclasses import dataclass
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


class BackendRefused(ValueError):
    """The request asks for something no backend can give this teacher (``field`` names what)."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def backend_choose(*, domain: str, teacher_kind: str, task: str | None = None, target_hardware: list[str] | str = "cpu",
                   exports: list[str] | None = None, requested: str = "auto") -> tuple[str, str]:
    """The backend for a job and the reason, in words a person reads on the job page. A TensorFlow
    format (keras, savedmodel, tflite) or a mobile target asks for the TensorFlow backend (for a text
    teacher, a Keras embedding bag over its tokenizer); a ``requested`` backend that cannot serve the
    request, or a TensorFlow student of a teacher over HTTP, is refused (``BackendRefused``)."""
    words = domain.lower()
    hardware = [target_hardware] if isinstance(target_hardware, str) else list(target_hardware)
    tensorflow = [f for f in exports or [] if f in TENSORFLOW_FORMATS]
    text = teacher_kind in ("http", "huggingface") or task == "text" \
        or (task is None and any(word in words for word in NLP_WORDS))
    mobile = "mobile" in hardware
    if teacher_kind == "http" and (mobile or tensorflow):
        raise BackendRefused("a TensorFlow student of a text teacher reads the teacher's tokenizer, and a teacher over "
                             "HTTP has none here: target cpu and export onnx or onnx-int8",
                             "target_hardware" if mobile else "export_formats")
    if requested != "auto":
        return _requested_backend(requested, text=text, mobile=mobile, tensorflow=tensorflow)
    if text and (mobile or tensorflow):
        asked = "the target is mobile" if mobile else f"the {tensorflow[0]} export is TensorFlow's"
        return "tensorflow", (f"{asked}: an embedding-bag student in Keras over the teacher's tokenizer (a transformer "
                              "student has no TensorFlow form)")
    if teacher_kind == "http":
        return "transformers", "the teacher is a text classifier reached over HTTP"
    if teacher_kind == "huggingface":
        return "transformers", "the teacher is a Hugging Face transformer"
    if task == "text":
        return "transformers", "the teacher reads text"
    if task is None and any(word in words for word in NLP_WORDS):
        return "transformers", f"the domain {domain!r} is language"
    if "mobile" in hardware:
        return "tensorflow", ("the target is mobile: a Keras student, measured and exported as an int8 TFLite file "
                              "on one thread")
    if tensorflow:
        return "tensorflow", f"the {tensorflow[0]} export is TensorFlow's: Keras students on the TensorFlow runtime"
    if task == "image" or (task is None and any(word in words for word in VISION_WORDS)):
        return "pytorch", "vision models train on the PyTorch backend"
    return "pytorch", "a custom (zoo or ONNX) teacher trains on the PyTorch backend"


def _requested_backend(name: str, *, text: bool, mobile: bool, tensorflow: list[str]) -> tuple[str, str]:
    """A backend the request names, or the reason it cannot serve it."""
    if text and name == "pytorch":
        raise BackendRefused("the pytorch backend trains tabular and image students; this teacher reads text, which "
                             "the transformers or tensorflow backend (or auto) handles", "backend")
    if not text and name == "transformers":
        raise BackendRefused("the transformers backend trains text students; this teacher takes tabular data or "
                             "images: use pytorch, tensorflow or auto", "backend")
    if name != "tensorflow" and mobile:
        raise BackendRefused(f"a mobile target designs the student as an int8 TFLite file, which the tensorflow backend "
                             f"does and {name} does not: use tensorflow or auto", "backend")
    if name == "transformers" and tensorflow:
        raise BackendRefused(f"the {tensorflow[0]} export is TensorFlow's, and a Transformers student has no TensorFlow "
                             "form (transformers 5 has no TensorFlow classes): export onnx or onnx-int8", "backend")
    converted = f"; its {', '.join(tensorflow)} export copied into Keras" if tensorflow and name == "pytorch" else ""
    bag = ": an embedding-bag student in Keras" if text and name == "tensorflow" else ""
    return name, f"asked for (backend={name}){bag}{converted}"


@dataclass(frozen=True)
class ModelSource:
    """A model a request starts from (``base_model``, ``source_model``) as the engine reads it."""

    ref: str  # as the request names it
    model: str  # what the engine loads: a zoo folder, a Hugging Face directory, catalog:NAME
    kind: str  # "zoo" or "huggingface"
    task: str | None = None
    data: str | None = None  # the data it was trained on (the engine's reference), for a replay
    params: int = 0  # its parameters, for the estimate of its passes as a teacher


def local_model_source(ref: str) -> ModelSource:
    """A model named in the SDK or the CLI: a catalog teacher, or a finished run's folder (the ``--out``
    of ``prsm distill``, holding report.json) or one of its exports (model/, huggingface/)."""
    from .engine.errors import BadInput

    if ref.startswith("catalog:"):
        from .engine.catalog import ENTRIES, default_data, resolve

        name = ref.removeprefix("catalog:")
        if name not in ENTRIES:
            raise BadInput(f"{ref}: no such catalog teacher")
        return ModelSource(ref, str(resolve(ref)), ENTRIES[name].kind, ENTRIES[name].task, default_data(ref),
                           ENTRIES[name].params)
    path = Path(ref).expanduser()
    run = path if (path / "report.json").is_file() else path.parent
    if not (run / "report.json").is_file():
        raise BadInput(f"{ref}: not a finished run (a folder with report.json, as prsm distill --out writes) or one of "
                       "its exports")
    import json

    report = json.loads((run / "report.json").read_text())
    source = run_model_source(ref, run, report, (report.get("config") or {}).get("data"),
                              export=None if path == run else path)
    if source is None:
        raise BadInput(f"{ref}: the run has no model/ (PyTorch) or huggingface/ (Transformers) export to start from")
    return source


# A finished run's exports a student can start as a copy of: (folder, kind, the file that marks it)
RUN_EXPORTS = (("model", "zoo", "architecture.json"), ("huggingface", "huggingface", "config.json"))


def run_model_source(ref: str, run: Path, report: dict, data: str | None, export: Path | None = None) -> ModelSource | None:
    """The model of the finished run in ``run`` (its folder; ``report`` its report.json; ``data`` what it
    trained on): the ``export`` folder named, else the first of ``RUN_EXPORTS`` it has; None: none."""
    for name, kind, marker in RUN_EXPORTS:
        folder = run / name
        if export in (None, folder) and (folder / marker).is_file():
            return ModelSource(ref, str(folder), kind, report.get("task"), data,
                               int((report.get("student") or {}).get("params") or 0))
    return None


def update_options(request, source: ModelSource | None, *, teacher: str, engine_refs: dict[str, str] | None = None) -> dict:
    """The engine's fields for an incremental update (``base_model``) or a domain adaptation
    (``source_model``) and for the request's specialty requirements; ``teacher`` is the engine's
    teacher (the new one, or the source), ``engine_refs`` maps data references to what the engine reads."""
    refs = engine_refs or {}
    options: dict = {}
    if request.specialty_requirements:
        options["specialty_checks"] = [{"name": r.name, "minimum": r.minimum, "class_name": r.class_name,
                                        "data": refs.get(r.data, r.data) if r.data else None}
                                       for r in request.specialty_requirements]
    kind = request.update_kind
    if kind is None or source is None:
        return options
    if kind == "incremental":
        options["student_from"] = source.model
        options["new_domain"] = (request.new_knowledge_domains or ["new"])[0]
        if request.preserve_existing_knowledge:
            if source.data is None:
                raise BackendRefused("the base model's training data is not known, so it cannot be replayed",
                                     "preserve_existing_knowledge")
            options["replay_data"] = source.data
            if teacher != source.model:  # the base model teaches its own task's rows, the new teacher the new ones
                options["ensemble"] = {"members": [{"teacher": teacher, "weight": 0.5, "domain": options["new_domain"]},
                                                   {"teacher": source.model, "weight": 0.5, "domain": "existing"}],
                                       "fusion": "domain_routing"}
        return options
    # a domain adaptation: the source teaches on the domain's rows, and the student starts as a copy of it
    options["student_from"] = source.model
    if request.domain_corpus:
        options["unlabelled_data"] = refs.get(request.domain_corpus, request.domain_corpus)
    if request.target_domain:
        options["domain"] = request.target_domain
    return options


def request_to_config(request, *, teacher: str, dataset: str, backend: str, epochs: int | None,
                      overrides: dict | None = None, engine_teachers: dict[str, str] | None = None,
                      source: ModelSource | None = None, engine_refs: dict[str, str] | None = None) -> dict:
    """The engine's ``DistillConfig`` (as JSON) for a validated ``DistillationRequest``.

    ``overrides`` replace config fields after the request's (a server's stored path of an uploaded
    transfer set, say). Asked augmentations turn on the engine's augmentation (``flip`` adds image
    flips) and fix the task to the one they are for, so that data of another kind is refused when it
    is loaded instead of being augmented another way. ``engine_teachers`` maps an ensemble's
    teacher references to what the engine reads (``teacher`` is its primary's).
    """
    from .engine.config import DistillConfig

    augment = request.augmentation_task
    teacher = teacher_ref_resolve(teacher)
    overrides = {**_http_defaults(request, teacher), **update_options(request, source, teacher=teacher,
                                                                       engine_refs=engine_refs),
                 **(overrides or {})}
    config = DistillConfig(
        teacher=teacher, data=dataset, task=augment or "auto", augment=augment is not None,
        augment_flip="flip" in request.augmentation_techniques,
        target_size=request.target_size, optimization_target=request.optimization_target,
        backend=backend, exports=request.export_formats, epochs=epochs, seed=request.seed,
        quality_threshold=request.quality_threshold, max_inference_latency_ms=request.max_inference_latency,
        max_memory_bytes=request.max_memory_usage, target_hardware=request.target_hardware,
        layer_count=request.layer_count, hidden_size=request.hidden_size,
        attention_heads=request.attention_heads,
        **{"domain": request.domain, "ensemble": request.ensemble_config(engine_teachers), **request.engine_options(),
           **(overrides or {})},
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
