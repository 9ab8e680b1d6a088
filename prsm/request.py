"""``DistillationRequest``: what a person asks for, validated with errors that name the field.

The request is the public, seed-shaped vocabulary (CONTRACT.md); ``to_engine_config`` turns it
into the engine's ``DistillConfig``. A field the engine cannot honour yet is refused with a
message saying so, never dropped.
"""

from __future__ import annotations

import math
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .engine.config import SpecialtyCheck as SpecialtyRequirement  # the engine's named checks, as a request states them
from .engine.formats import TENSORFLOW_FORMATS, with_mobile_file

# keras, savedmodel and the tflite files are the TensorFlow backend's (text students there are embedding bags)
EXPORT_FORMATS = {"pth", "safetensors", "onnx", "onnx-int8", "huggingface", *TENSORFLOW_FORMATS}
WEIGHT_TOLERANCE = 1e-6
# Every number a person sends is bounded here, at the edge the SDK, the CLI and the API share: a value
# past these is refused naming its field, never passed on to fail in a worker or a database column.
MAX_BUDGET_FTNS = 10**9  # 10^15 units, far inside the ledger's 64-bit columns
MAX_SEED = 2**32 - 1  # what every random generator the engine seeds takes
MAX_LATENCY_MS = 3_600_000.0  # an hour per prediction
MAX_MEMORY_BYTES = 2**40  # 1 TiB
MAX_REFERENCE_CHARS = 1000  # a catalog name, an upload's id or a local path
MAX_SEARCH_SECONDS = 86_400.0  # a day: a longer limit is no limit (a thorough search plans its trials in advance)

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(us|µs|ms|s|sec|seconds?|milliseconds?)?\s*$", re.IGNORECASE)
_DURATION_MS = {"us": 1e-3, "µs": 1e-3, "ms": 1.0, "millisecond": 1.0, "milliseconds": 1.0,
                "s": 1000.0, "sec": 1000.0, "second": 1000.0, "seconds": 1000.0, None: 1.0}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b|b|bytes?)?\s*$", re.IGNORECASE)
_SIZE_BYTES = {"b": 1, "byte": 1, "bytes": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
               "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40, None: 1}
_AMOUNT_TEXT = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")

# The engine's augmentations (prsm/engine/training/augment.py), by the kind of data each is for:
# it applies the one for the data's task, and flips images only when asked.
AUGMENTATIONS = {"shift": "image", "flip": "image", "noise": "tabular",
                 "token_mask": "text"}  # nosec B105  # augmentation names, not a password
TRAINING_STRATEGIES = ("basic", "progressive", "adversarial", "curriculum")
# The seed's augmentation names that are training strategies (prsm/engine/training/strategies.py)
STRATEGY_AUGMENTATIONS = ("adversarial", "curriculum")
PARAPHRASE_REFUSAL = ("'paraphrase' needs a paraphrase model, and none can be had offline from a Python or Debian "
                      "package here; use text_variants (new versions of each text with words masked and spans kept, "
                      "labelled by the teacher) or a transfer set (unlabelled_data)")
TARGET_HARDWARE = ("cpu", "mobile", "gpu")
# what a mobile target exports when the request names no format: the phone runs the int8 file
MOBILE_EXPORTS = ["keras", "tflite", "tflite-int8"]


def parse_duration_ms(value: Any) -> float:
    """``"100ms"``, ``"0.5s"``, ``250`` (milliseconds) -> milliseconds."""
    if isinstance(value, bool):
        raise ValueError("must be a duration such as '100ms' or '0.5s'")
    if isinstance(value, (int, float)):
        milliseconds = _number(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"{value!r} is not a duration; write e.g. '100ms' or '0.5s'")
        unit = match.group(2).lower() if match.group(2) else None
        milliseconds = _number(match.group(1)) * _DURATION_MS[unit]
    if milliseconds <= 0:
        raise ValueError("must be more than 0")
    if milliseconds > MAX_LATENCY_MS:
        raise ValueError(f"must be at most {MAX_LATENCY_MS / 1000:.0f}s")
    return milliseconds


def parse_size_bytes(value: Any) -> int:
    """``"1GB"``, ``"512MiB"``, ``1048576`` (bytes) -> bytes."""
    if isinstance(value, bool):
        raise ValueError("must be a size such as '1GB' or '512MB'")
    if isinstance(value, (int, float)):
        size = _number(value)
    else:
        match = _SIZE.match(str(value))
        if not match:
            raise ValueError(f"{value!r} is not a size; write e.g. '512MB' or '1GB'")
        unit = match.group(2).lower() if match.group(2) else None
        size = _number(match.group(1)) * _SIZE_BYTES[unit]
    if size < 1:
        raise ValueError("must be at least 1 byte")
    if size > MAX_MEMORY_BYTES:
        raise ValueError("must be at most 1TiB")
    return int(size)


def _number(number: Any) -> float:
    """A float, infinity for a number past a float's range (refused by the caller's bound), never NaN."""
    try:
        value = float(number)
    except OverflowError:  # an int of hundreds of digits
        return math.inf
    if math.isnan(value):
        raise ValueError("must be a number, not NaN")
    return value


FUSION_STRATEGIES = ("weighted_ensemble", "confidence", "domain_routing")
MAX_TEACHERS = 8


class TeacherWeight(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1, max_length=MAX_REFERENCE_CHARS, description="catalog id, uploaded-teacher id, or a local path")
    weight: float = Field(gt=0, le=1)
    domain: str | None = Field(None, min_length=1, max_length=200, description="fusion_strategy domain_routing: the "
                               "rows whose 'domain' column says this go to this teacher")


class DistillationRequest(BaseModel):
    """A distillation as a person asks for it (see CONTRACT.md for every field)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    teacher_model: str | None = Field(None, min_length=1, max_length=MAX_REFERENCE_CHARS,
                                      description="catalog:NAME, an uploaded-teacher id, a local path, endpoint:URL "
                                      "(a PRSM predict URL), openai:MODEL or a provider's model name such as gpt-4")
    teacher_models: list[TeacherWeight] | None = Field(None, max_length=MAX_TEACHERS, description="several teachers with "
                                                       "weights that sum to 1 (an ensemble; the student is designed from "
                                                       "the one with the largest weight, the first of equals)")
    dataset: str | None = Field(None, min_length=1, max_length=MAX_REFERENCE_CHARS, description="uploaded-dataset id, builtin:NAME, or a local path")
    domain: str = Field("general", max_length=200, description="free text; drives backend auto-selection")
    target_size: Literal["small", "medium", "large"] = "small"
    optimization_target: Literal["speed", "accuracy", "efficiency"] = "speed"
    budget_ftns: int = Field(1000, ge=1, le=MAX_BUDGET_FTNS, description="the most this job may cost, in whole FTNS")
    quality_threshold: float = Field(0.85, description="minimum retention (student/teacher accuracy) to deploy or list")
    target_architecture: Literal["auto", "transformer", "mlp", "cnn"] = "auto"
    backend: Literal["auto", "pytorch", "transformers", "tensorflow"] = Field(
        "auto", description="auto: TensorFlow for a TensorFlow format or a mobile target, Transformers for text, "
        "PyTorch otherwise; a named backend that cannot serve the request is refused with the reason")
    layer_count: int | None = Field(None, ge=1, le=48)
    attention_heads: int | None = Field(None, ge=1, le=64)
    hidden_size: int | None = Field(None, ge=1, le=8192)
    training_strategy: Literal["basic", "progressive", "adversarial", "curriculum"] = Field(
        "basic", description="basic: logit distillation; progressive: a teacher assistant between teacher and student; "
        "adversarial: robust distillation on PGD perturbations (pixels, features, text embeddings); curriculum: easy examples first, "
        "by the teacher's confidence")
    adversarial_epsilon: float | None = Field(None, gt=0, le=1, description="adversarial: the perturbations' size "
                                              "(pixels on 0..1; tabular: feature standard deviations); default 8/255 "
                                              "for images, 0.1 for tabular data")
    ensemble_teachers: bool | list[str] = Field(False, description="a list of teachers fused with equal weights (after "
                                                "teacher_model, when it is given); True: teacher_models is an ensemble")
    fusion_strategy: Literal["weighted_ensemble", "confidence", "domain_routing"] | None = Field(
        None, description="how an ensemble's outputs are fused: weighted_ensemble (the default: the weighted mean of "
        "their probabilities), confidence (each row weighted by each teacher's confidence on it), domain_routing (a "
        "row goes to the teacher of its 'domain' column)")
    knowledge_alignment: bool | None = Field(None, description="match an ensemble's label sets by name (another order, "
                                             "extra labels) and calibrate each teacher's temperature on validation data")
    augmentation_techniques: list[str] = Field(default_factory=list)
    export_formats: list[str] = Field(default_factory=lambda: ["safetensors", "onnx"])
    huggingface_hub_push: bool = False
    max_inference_latency: float | None = Field(None, description="'100ms', '0.5s', or milliseconds")
    max_memory_usage: int | None = Field(None, description="'1GB', '512MiB', or bytes")
    target_hardware: list[str] = Field(default_factory=lambda: ["cpu"],
                                       description="where the student runs: cpu, mobile (int8 TFLite, one thread), gpu; "
                                       "a name or a list such as ['cpu', 'mobile']")
    revenue_sharing: float | None = Field(None, ge=0, le=1, description="teacher owners' share of marketplace sales")
    marketplace_listing: bool = Field(False, description="list the model on the marketplace when it is deployed (a server's)")
    base_model: str | None = Field(None, min_length=1, max_length=MAX_REFERENCE_CHARS, description=(
        "an incremental update of a model you have: a finished job's id on a server (or a deployed model's id), a "
        "finished run's folder in the SDK and CLI; the student starts as a copy of it and learns the new data"))
    update_strategy: Literal["incremental"] | None = Field(None, description="incremental (with base_model)")
    preserve_existing_knowledge: bool | None = Field(None, description="with base_model: the model also teaches a "
                                                     "replay of its own training data, so what it knew is kept")
    new_knowledge_domains: list[str] | None = Field(None, max_length=8, description="names of what the update adds; "
                                                    "the first names the new rows' domain in the report")
    source_model: str | None = Field(None, min_length=1, max_length=MAX_REFERENCE_CHARS, description=(
        "domain adaptation: a model you have (as base_model) or a catalog teacher, adapted to the domain; it teaches "
        "on domain_corpus and dataset, and the student starts from it"))
    target_domain: str | None = Field(None, max_length=200, description="the domain adapted to (free text)")
    domain_corpus: str | None = Field(None, min_length=1, max_length=MAX_REFERENCE_CHARS, description=(
        "the domain's unlabelled examples (an uploaded-dataset id, builtin:NAME or a local path), which the source labels"))
    adaptation_strategy: Literal["domain_transfer"] | None = Field(None, description="domain_transfer (with source_model)")
    specialty_requirements: list[SpecialtyRequirement] | None = Field(None, description=(
        "named checks of the finished student, each with a minimum (0..1) and optionally a data set and a class: "
        "accuracy, per_class_accuracy, macro_f1, agreement; {NAME: MINIMUM} for the test split; a missed one stops "
        "a deploy"))
    epochs: int | None = Field(None, ge=1, le=200)
    seed: int = Field(0, ge=0, le=MAX_SEED)
    # How the student learns (the engine's DistillConfig; None: the engine's default)
    temperature: float | None = Field(None, gt=0, le=100, description="softmax temperature of the soft targets "
                                      "(default: chosen by the search; 4 with search off)")
    alpha: float | None = Field(None, ge=0, le=1, description="weight of the teacher's soft targets; the rest on the labels "
                                "(default: chosen by the search; 0.7 with search off)")
    search: Literal["off", "quick", "thorough"] | None = Field(
        None, description="short trials choose the student's design, temperature, alpha and learning rate on the "
        "validation split, then the winner trains fully; it adds time (quick: about 8 trials, the default; thorough: "
        "more and longer; off: the design rule with temperature 4 and alpha 0.7)")
    search_seconds: float | None = Field(None, gt=0, le=MAX_SEARCH_SECONDS, allow_inf_nan=False,
                                         description="start no new search trial after this many seconds")
    unlabelled_data: str | None = Field(None, min_length=1, max_length=MAX_REFERENCE_CHARS,
                                        description="a transfer set the teacher labels: builtin:NAME, an uploaded-dataset id, or a local path")
    max_unlabelled_examples: int | None = Field(None, ge=1, le=10_000_000, description="cap on the transfer set's rows")
    text_variants: int | None = Field(None, ge=0, le=50, description="text: new versions of each training text for the teacher to label")
    vocabulary_size: int | None = Field(None, ge=2, le=1_000_000, description="text: the most tokens in the student's vocabulary")
    student_base: str | None = Field(None, min_length=1, max_length=MAX_REFERENCE_CHARS,
                                     description="text: a small pretrained model the student starts from (builtin:all-minilm-l6-v2)")
    pii_policy: Literal["refuse", "redact"] | None = Field(
        None, description="text holding personal data (e-mail, phone, card, IBAN): 'redact' replaces it before training "
        "and before any text goes to a teacher over HTTP; 'refuse' (the default for such a teacher) sends nothing")

    @field_validator("budget_ftns", mode="before")
    @classmethod
    def _budget(cls, value):
        # the ledger's one written form of an amount (ledger/amounts.py AMOUNT_TEXT), not int()'s
        # "٣", "１" or "1_000"; whole FTNS are checked after
        if isinstance(value, bool) or (isinstance(value, str) and not _AMOUNT_TEXT.fullmatch(value)):
            raise ValueError('should be a valid integer of whole FTNS: a JSON number or ASCII digits such as "1000"')
        return value

    @field_validator("max_inference_latency", mode="before")
    @classmethod
    def _latency(cls, value):
        return None if value is None else parse_duration_ms(value)

    @field_validator("max_memory_usage", mode="before")
    @classmethod
    def _memory(cls, value):
        return None if value is None else parse_size_bytes(value)

    @field_validator("quality_threshold")
    @classmethod
    def _threshold(cls, value: float) -> float:
        if not 0 <= value <= 1:
            raise ValueError(f"must be between 0 and 1 (a retention fraction, e.g. 0.85), got {value}")
        return value

    @field_validator("teacher_models")
    @classmethod
    def _weights(cls, value):
        if value is not None:
            if not value:
                raise ValueError("give at least one teacher")
            total = sum(teacher.weight for teacher in value)
            if abs(total - 1) > WEIGHT_TOLERANCE:
                raise ValueError(f"teacher weights must sum to 1; they sum to {total:g}")
        return value

    @field_validator("export_formats")
    @classmethod
    def _exports(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - EXPORT_FORMATS)
        if unknown:
            raise ValueError(f"unknown export format {unknown[0]!r}; choose from {', '.join(sorted(EXPORT_FORMATS))}")
        return list(dict.fromkeys(value))


    @field_validator("target_hardware", mode="before")
    @classmethod
    def _hardware(cls, value) -> list[str]:
        names = [value] if isinstance(value, str) else value
        if not isinstance(names, list) or not names or not all(isinstance(name, str) for name in names):
            raise ValueError("give a hardware name or a list of them: cpu, mobile, gpu")
        names = list(dict.fromkeys(name.strip().lower() for name in names))
        if unknown := [name for name in names if name not in TARGET_HARDWARE]:
            raise ValueError(f"target hardware {unknown[0]!r} is not one of {', '.join(TARGET_HARDWARE)}")
        if "gpu" in names:
            from .engine.config import cuda_present

            if not cuda_present():
                raise ValueError("gpu needs a CUDA device, and this service has none; use cpu or mobile")
        return names

    @field_validator("huggingface_hub_push")
    @classmethod
    def _hub(cls, value: bool) -> bool:
        if value:
            raise ValueError("pushing to a model hub is not available: this service runs offline; download the export instead")
        return value

    @field_validator("augmentation_techniques")
    @classmethod
    def _augmentations(cls, value: list[str]) -> list[str]:
        names = list(dict.fromkeys(name.strip().lower() for name in value))
        if "paraphrase" in names:
            raise ValueError(PARAPHRASE_REFUSAL)
        if unknown := [name for name in names if name not in AUGMENTATIONS and name not in STRATEGY_AUGMENTATIONS]:
            raise ValueError(f"unknown augmentation {unknown[0]!r}; choose from shift and flip (images), noise (tabular), "
                             "token_mask (text), or the training strategies adversarial and curriculum")
        tasks = {AUGMENTATIONS[name]: name for name in names if name in AUGMENTATIONS}
        if len(tasks) > 1:
            (first, one), (second, other) = list(tasks.items())[:2]
            raise ValueError(f"{one!r} is for {first} data and {other!r} for {second}; a job's data is of one kind")
        if "flip" in names and "shift" not in names:
            raise ValueError("'flip' comes with 'shift' (the image augmentation always shifts); ask for ['shift', 'flip']")
        return names

    @property
    def augmentation_task(self) -> str | None:
        """The kind of data the asked augmentations are for (image, tabular or text); None when none is asked."""
        data = [name for name in self.augmentation_techniques if name in AUGMENTATIONS]
        return AUGMENTATIONS[data[0]] if data else None

    @property
    def strategies(self) -> list[str]:
        """The engine's training strategies: ``training_strategy`` beyond basic, then the seed's
        augmentation names that are strategies (adversarial, curriculum)."""
        asked = [self.training_strategy] if self.training_strategy != "basic" else []
        return list(dict.fromkeys(asked + [n for n in self.augmentation_techniques if n in STRATEGY_AUGMENTATIONS]))

    @field_validator("ensemble_teachers")
    @classmethod
    def _ensemble(cls, value):
        if isinstance(value, list):
            refs = [ref.strip() for ref in value]
            if not all(0 < len(ref) <= MAX_REFERENCE_CHARS for ref in refs):
                raise ValueError(f"each teacher is a reference of 1 to {MAX_REFERENCE_CHARS} characters")
            if len(refs) > MAX_TEACHERS:
                raise ValueError(f"at most {MAX_TEACHERS} teachers")
            return refs
        return value

    @field_validator("specialty_requirements", mode="before")
    @classmethod
    def _specialties(cls, value):
        if isinstance(value, dict):  # {NAME: MINIMUM}: on the test split
            return [{"name": name, "minimum": minimum} for name, minimum in value.items()]
        if isinstance(value, list):
            for item in value:
                if isinstance(item, str):
                    SpecialtyRequirement._known(item)  # an unknown name is refused as such first
                    raise ValueError(f"{item!r} needs a minimum: give {{'name': {item!r}, 'minimum': 0.9}} or "
                                     f"{{{item!r}: 0.9}}")
        return value

    @model_validator(mode="after")
    def _one_teacher(self) -> DistillationRequest:
        listed = self.ensemble_teachers if isinstance(self.ensemble_teachers, list) else []
        self._updates_fit()
        if self.teacher_model is None and self.teacher_models is None and not listed \
                and self.base_model is None and self.source_model is None:
            raise ValueError("teacher_model: required (catalog:NAME, an uploaded-teacher id, or a local path)")
        if self.teacher_model is not None and self.teacher_models is not None:
            raise ValueError("teacher_models: give teacher_model or teacher_models, not both")
        if self.teacher_models is not None and listed:
            raise ValueError("ensemble_teachers: the teachers are in teacher_models already (with their weights); "
                             "give ensemble_teachers=True, or list them in one place")
        self._ensemble_fits()
        self._strategies_fit()
        self._augmentation_fits_the_teacher()
        self._mobile_exports()
        if self.search == "off" and self.search_seconds is not None:
            raise ValueError("search_seconds: limits the search's time; with search='off' there is no search to limit")
        self._engine_options_fit()
        return self

    def _ensemble_fits(self) -> None:
        refs = [ref for ref, _, _ in self.teachers]
        if len(set(refs)) != len(refs):
            raise ValueError(f"teacher_models: {next(r for r in refs if refs.count(r) > 1)!r} is named twice")
        if len(refs) > MAX_TEACHERS:
            raise ValueError(f"teacher_models: at most {MAX_TEACHERS} teachers")
        several = len(refs) > 1
        if self.ensemble_teachers is True and not several:
            raise ValueError("ensemble_teachers: an ensemble needs two teachers or more (teacher_models, or a list here)")
        for name in ("fusion_strategy", "knowledge_alignment"):
            if getattr(self, name) not in (None, False) and not several:
                raise ValueError(f"{name}: fuses several teachers; give two or more in teacher_models or ensemble_teachers")
        routing = self.fusion_strategy == "domain_routing"
        domains = [domain for _, _, domain in self.teachers if domain]
        if routing and not domains:
            raise ValueError("fusion_strategy: domain_routing sends rows to the teacher of their domain; give a domain "
                             "to at least one of teacher_models")
        if domains and not routing:
            raise ValueError("teacher_models: a teacher's domain is read by fusion_strategy='domain_routing' only")
        if several and self.augmentation_task is not None:
            raise ValueError("augmentation_techniques: an ensemble's outputs are computed once per example; "
                             "augmentation would run every teacher on every batch (use text_variants for more rows)")
        if several and any(is_http(ref) for ref in refs):
            raise ValueError("teacher_models: a teacher over HTTP cannot be part of an ensemble")

    def _updates_fit(self) -> None:
        """An incremental update names base_model; a domain adaptation source_model; not both."""
        update = [n for n in ("update_strategy", "preserve_existing_knowledge", "new_knowledge_domains")
                  if getattr(self, n) not in (None, False, [])]
        adaptation = [n for n in ("target_domain", "domain_corpus", "adaptation_strategy") if getattr(self, n) is not None]
        if update and self.base_model is None:
            raise ValueError(f"{update[0]}: describes an incremental update of a model; give base_model")
        if adaptation and self.source_model is None:
            raise ValueError(f"{adaptation[0]}: describes a domain adaptation; give source_model")
        if self.base_model is not None and self.source_model is not None:
            raise ValueError("source_model: an update starts from base_model and an adaptation from source_model; "
                             "give one")
        if self.base_model is not None and self.is_ensemble:
            raise ValueError("base_model: an update learns from one new teacher (with preserve_existing_knowledge the "
                             "base model teaches its own task beside it)")
        if self.source_model is not None and (self.teacher_model is not None or self.teacher_models is not None):
            raise ValueError("source_model: in a domain adaptation the source is the teacher; leave teacher_model out")
        if self.base_model is not None and self.dataset is None:
            raise ValueError("dataset: an incremental update learns new data; give it (the base model's own data is "
                             "replayed with preserve_existing_knowledge)")
        if self.source_model is not None and self.dataset is None:
            raise ValueError("dataset: a domain adaptation needs the domain's labelled examples, to learn from and to "
                             "measure the adapted model on (domain_corpus adds unlabelled ones)")
        if (self.base_model is not None or self.source_model is not None) and "progressive" in self.strategies:
            raise ValueError(f"{self.strategy_field('progressive')}: progressive builds a student smaller than its "
                             "teacher; an update or an adaptation starts from a copy of the model")

    @property
    def update_kind(self) -> str | None:
        """"incremental", "adaptation", or None for a distillation from scratch."""
        return "incremental" if self.base_model is not None else "adaptation" if self.source_model is not None else None

    def strategy_field(self, strategy: str) -> str:
        """The field that asked for ``strategy`` (for an error that names it)."""
        return "training_strategy" if self.training_strategy == strategy else "augmentation_techniques"

    def _strategies_fit(self) -> None:
        strategies = self.strategies
        fixed_rows = [s for s in strategies if s in ("adversarial", "curriculum")]
        if fixed_rows and self.augmentation_task is not None:
            raise ValueError(f"{self.strategy_field(fixed_rows[0])}: {fixed_rows[0]} trains on the teacher's outputs "
                             "for fixed rows, and the augmentations change the rows every epoch; use one or the other")
        if self.adversarial_epsilon is not None and "adversarial" not in strategies:
            raise ValueError("adversarial_epsilon: sizes the adversarial strategy's perturbations; ask for "
                             "training_strategy='adversarial'")
        if strategies and self.alpha == 0:
            raise ValueError(f"alpha: the {strategies[0]} strategy distils from the teacher; alpha 0 trains on labels alone")

    @property
    def teachers(self) -> list[tuple[str, float, str | None]]:
        """Every teacher as ``(reference, weight, domain)``: one with weight 1, or an ensemble's; an
        adaptation's source, or an update's base model when it names no new teacher."""
        if self.teacher_model is None and self.teacher_models is None and not self.ensemble_teachers:
            return [(self.source_model or self.base_model, 1.0, None)]
        if self.teacher_models is not None:
            return [(t.model, t.weight, t.domain) for t in self.teacher_models]
        listed = self.ensemble_teachers if isinstance(self.ensemble_teachers, list) else []
        refs = ([self.teacher_model] if self.teacher_model is not None else []) + listed
        return [(ref, 1 / len(refs), None) for ref in refs]

    @property
    def is_ensemble(self) -> bool:
        return len(self.teachers) > 1

    def ensemble_config(self, engine_refs: dict[str, str] | None = None) -> dict | None:
        """The engine's ``EnsembleConfig`` (as JSON) for several teachers, each reference replaced by
        ``engine_refs[ref]`` where given (a server's stored path of an uploaded teacher)."""
        if not self.is_ensemble:
            return None
        engine_refs = engine_refs or {}
        weights = _weights_summing_to_one([weight for _, weight, _ in self.teachers])
        return {"members": [{"teacher": engine_refs.get(ref, ref), "weight": weight, "domain": domain}
                            for (ref, _, domain), weight in zip(self.teachers, weights)],
                "fusion": self.fusion_strategy or "weighted_ensemble", "align": bool(self.knowledge_alignment)}

    def _mobile_exports(self) -> None:
        """A mobile student runs as its int8 TFLite file: that file is always exported, and the other
        formats are the TensorFlow backend's (by default, the Keras model and float32 TFLite beside it)."""
        if "mobile" not in self.target_hardware:
            return
        if "export_formats" not in self.model_fields_set:
            self.export_formats = list(MOBILE_EXPORTS)
            return
        exports = with_mobile_file(self.export_formats)
        if exports != self.export_formats:
            self.export_formats = exports

    def _engine_options_fit(self) -> None:
        """The engine's own rules on how these options combine (unlabelled rows need alpha > 0, a
        student_base learns logits only and without online augmentation), named by field."""
        if not self.engine_options():
            return
        from pydantic import ValidationError

        from .engine.config import DistillConfig

        try:
            DistillConfig.model_validate({"teacher": self.teacher, "augment": self.augmentation_task is not None,
                                          **self.engine_options()})
        except ValidationError as exc:
            first = request_errors(exc)[0]
            message = first["message"]
            raise ValueError(message if re.match(r"^\w+: ", message) else f"{first['field']}: {message}") from None

    def engine_options(self) -> dict:
        """The fields that go to the engine's DistillConfig as they are, when given."""
        names = ("temperature", "alpha", "search", "search_seconds", "unlabelled_data", "max_unlabelled_examples",
                 "text_variants", "vocabulary_size", "student_base", "adversarial_epsilon")
        options = {name: getattr(self, name) for name in names if getattr(self, name) is not None}
        return options | ({"strategies": self.strategies} if self.strategies else {})

    def _augmentation_fits_the_teacher(self) -> None:
        """A catalog teacher says its task now; for any other the engine refuses data of another kind."""
        if self.augmentation_task is None or not self.teacher.startswith("catalog:"):
            return
        from .planning import teacher_task

        task = teacher_task(self.teacher)
        if task is not None and task != self.augmentation_task:
            asked = ", ".join(repr(name) for name in self.augmentation_techniques)
            raise ValueError(f"augmentation_techniques: {asked} is for {self.augmentation_task} data; {self.teacher} "
                             f"is a {task} teacher")

    @property
    def teacher(self) -> str:
        """The one teacher reference, or an ensemble's primary: the teacher the student is designed
        from, the one with the largest weight (the first of equals)."""
        teachers = self.teachers
        top = max(weight for _, weight, _ in teachers)
        return next(ref for ref, weight, _ in teachers if weight == top)


def is_http(ref: str) -> bool:
    from .planning import is_http_teacher

    return is_http_teacher(ref)


def _weights_summing_to_one(weights: list[float]) -> list[float]:
    """Weights whose float sum is 1 within the engine's tolerance (1/3 three times is not exactly 1)."""
    total = sum(weights)
    return [w / total for w in weights]


def request_errors(exc) -> list[dict]:
    """A pydantic ``ValidationError`` as ``[{"field", "message"}]``, the field as a path like ``a[0].b``.

    Checks that span fields start their message with ``FIELD: `` to say which field they are about.
    """
    errors = []
    for error in exc.errors():
        path = ""
        for part in error["loc"]:
            path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
        message = error["msg"].removeprefix("Value error, ")
        if not path and (match := re.match(r"^(\w+): (.*)$", message)):
            path, message = match.groups()
        if error["type"] == "extra_forbidden":
            message = "unknown field"
        errors.append({"field": path or None, "message": message})
    return errors
