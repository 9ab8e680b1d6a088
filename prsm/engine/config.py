"""The typed configuration of one distillation run; it round-trips through JSON.

``DistillConfig.model_validate_json(config.model_dump_json())`` gives the same config back;
unknown fields and wrong types are refused with the field's name.
"""

from __future__ import annotations

from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from .checks.config import ChecksConfig
from .checks.spending import Budget
from .formats import with_mobile_file

Transfer = Literal["logits", "hidden", "attention"]


class HttpTeacherConfig(BaseModel):
    """How a teacher reached over HTTP (``endpoint:URL``, ``openai:MODEL``) is called. Its key is
    never part of a config: it comes from the environment or the caller's secrets at run time
    (``prsm.engine.teachers.http.teacher_secrets``)."""

    model_config = ConfigDict(extra="forbid")

    base_url: str | None = Field(None, max_length=2000, description="openai: the provider's base URL (…/v1); "
                                 "None: PRSM_OPENAI_BASE_URL")
    concurrency: int = Field(4, ge=1, le=64, description="requests in flight at once")
    requests_per_second: float | None = Field(None, gt=0, description="at most this many requests a second; None: no limit")
    timeout_s: float = Field(30.0, gt=0, le=600, description="seconds one request may take")
    max_retries: int = Field(4, ge=0, le=20, description="retries of a 429, a 5xx or a timeout (exponential backoff, jitter)")
    max_response_bytes: int = Field(1 << 20, ge=1024, le=64 << 20, description="a longer answer is refused")
    price_per_1k_tokens_units: int = Field(0, ge=0, description="what 1,000 tokens cost (units); priced into the charge")
    allow_hosts: list[str] = Field(default_factory=list, description="hosts or CIDRs allowed even when private or "
                                   "loopback (beside PRSM_TEACHER_HOSTS_ALLOW)")
    shared_cache: str | None = Field(None, description="a folder of answers shared by runs; None: $PRSM_HOME/teacher-answers")


FUSIONS = ("weighted_ensemble", "confidence", "domain_routing")


class EnsembleMember(BaseModel):
    model_config = ConfigDict(extra="forbid")

    teacher: str = Field(min_length=1, description="a teacher reference, as DistillConfig.teacher")
    weight: float = Field(gt=0, le=1, description="its share of the fused outputs")
    domain: str | None = Field(None, max_length=200, description="domain_routing: the rows whose domain column "
                               "says this go to this teacher")


class EnsembleConfig(BaseModel):
    """Several teachers whose outputs are fused into the one soft target the student learns
    (``prsm.engine.teachers.ensemble``). ``DistillConfig.teacher`` names the member the student is
    designed from (its layers and tokenizer)."""

    model_config = ConfigDict(extra="forbid")

    members: list[EnsembleMember] = Field(min_length=2, max_length=8)
    fusion: Literal["weighted_ensemble", "confidence", "domain_routing"] = Field(
        "weighted_ensemble", description="weighted_ensemble: the weighted mean of the teachers' probabilities; "
        "confidence: each row's weights scaled by each teacher's confidence on it; domain_routing: a row whose domain "
        "a teacher names goes to that teacher (the rest to all)")
    align: bool = Field(False, description="match the teachers' label sets by name (another order, extra labels "
                        "dropped) and calibrate each teacher's temperature on the validation split before fusing")

    @model_validator(mode="after")
    def _members(self) -> EnsembleConfig:
        refs = [m.teacher for m in self.members]
        if len(set(refs)) != len(refs):
            raise ValueError("ensemble: a teacher is named twice")
        if abs(sum(m.weight for m in self.members) - 1) > 1e-6:
            raise ValueError("ensemble: the teachers' weights must sum to 1")
        if any(ref.startswith(("endpoint:", "openai:")) for ref in refs):
            raise ValueError("ensemble: a teacher over HTTP cannot be part of an ensemble (it has no tokenizer to "
                             "share and each text sent costs)")
        if self.fusion == "domain_routing" and not any(m.domain for m in self.members):
            raise ValueError("ensemble: domain_routing needs a domain on at least one teacher")
        return self


SPECIALTY_CHECKS = {
    "accuracy": "the share of the data set's rows the student gets right",
    "per_class_accuracy": "the lowest accuracy over the data set's classes (or over the named class)",
    "macro_f1": "the F1 score averaged over the classes",
    "agreement": "the share of rows on which the student gives the teacher's answer",
}


class SpecialtyCheck(BaseModel):
    """A named check of the finished student on a labelled data set (``specialty_requirements``)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=100, description=f"one of {', '.join(SPECIALTY_CHECKS)}")
    minimum: float = Field(ge=0, le=1)
    data: str | None = Field(None, min_length=1, max_length=1000, description="labelled rows to check on (builtin:NAME, "
                             "a file or folder; on a server an uploaded-dataset id); None: the job's test split")
    class_name: str | None = Field(None, max_length=200, description="per_class_accuracy: this class only")

    @field_validator("name")
    @classmethod
    def _known(cls, name: str) -> str:
        if name not in SPECIALTY_CHECKS:
            raise ValueError(f"unknown specialty check {name!r}; the checks are "
                             + "; ".join(f"{k} ({v})" for k, v in SPECIALTY_CHECKS.items()))
        return name


class DistillConfig(BaseModel):
    """Everything ``run_distillation`` needs. Defaults suit a CPU and the CLI's defaults."""

    model_config = ConfigDict(extra="forbid")

    teacher: str = Field(description="zoo folder, .onnx file, Hugging Face directory, catalog:NAME, endpoint:URL or openai:MODEL")
    data: str | None = Field(None, description="builtin:NAME, a CSV/JSONL file, an image folder or zip")
    task: Literal["auto", "text", "image", "tabular"] = "auto"
    target_size: Literal["small", "medium", "large"] = "small"
    optimization_target: Literal["speed", "accuracy", "efficiency"] = "speed"
    backend: Literal["auto", "pytorch", "transformers", "tensorflow"] = "auto"
    exports: list[str] | None = Field(None, description="formats to write; None: the backend's defaults")
    epochs: int | None = Field(None, ge=1, le=1000)
    seed: int = Field(0, ge=0, le=2**32 - 1, description="numpy and torch seeds take 32 bits")
    batch_size: int | None = Field(None, ge=1)
    learning_rate: float | None = Field(None, gt=0)
    temperature: float | None = Field(None, gt=0, description="softmax temperature T of the soft targets; None: chosen "
                                      "by the search (4 without one)")
    alpha: float | None = Field(None, ge=0, le=1, description="weight of the soft-target term, 1 - alpha on the labels; "
                                "None: chosen by the search (0.7 without one)")
    search: Literal["off", "quick", "thorough"] = Field(
        "quick", description="short trials choose the student's design, T, alpha and learning rate on the validation "
        "split (successive halving); off: the design rule and the defaults, as before")
    search_seconds: float | None = Field(None, gt=0, description="start no new trial after this many seconds of search")
    transfer: list[Transfer] = Field(default_factory=lambda: ["logits"],
                                     description="what the student learns from: logits, plus hidden states or attention (transformers)")
    patience: int | None = Field(None, ge=1, description="epochs without validation gain before stopping")
    checkpoint_every: int | None = Field(None, ge=1, description="steps between checkpoints; None: by time alone")
    checkpoint_seconds: float | None = Field(60.0, gt=0, description="seconds between checkpoints, whichever of the "
                                             "two comes first; None: by steps alone (a fast GPU run checkpoints rarely)")
    baseline: bool = Field(False, description="also train the same student on labels alone")
    augment: bool = Field(False, description="new variants of the training batches every epoch (images shifted, tabular "
                                             "noise, text tokens masked); the teacher then runs online, uncached")
    augment_flip: bool = Field(False, description="with augment, also flip images left-right (never for digits or text)")
    unlabelled_data: str | None = Field(None, description="a transfer set: examples without labels (builtin:NAME, .txt, "
                                        "CSV/JSONL with a text column, feature CSV, image folder) that the teacher "
                                        "labels; the student learns its outputs on them (needs alpha > 0)")
    max_unlabelled_examples: int | None = Field(None, ge=1, description="cap on unlabelled rows (a seeded sample)")
    text_variants: int = Field(0, ge=0, le=50, description="new versions of each training text (words masked, random "
                                "spans kept) added to the unlabelled rows for the teacher to label once (cached)")
    student_base: str | None = Field(None, description="text: a small pretrained model the student starts from, with "
                                     "its own tokenizer (builtin:all-minilm-l6-v2 or a Hugging Face directory); "
                                     "None: the teacher's own layers")
    vocabulary_size: int | None = Field(None, ge=2, description="text: at most this many tokens in the student's "
                                        "vocabulary (WordPiece): every special token and single character, then the "
                                        "training texts' most frequent tokens; rarer words split into smaller pieces, "
                                        "and the embedding parameters saved can buy a layer. None: every token the "
                                        "training texts use")
    max_inference_latency_ms: float | None = Field(None, gt=0)
    max_memory_bytes: int | None = Field(None, gt=0)
    target_hardware: list[Literal["cpu", "mobile", "gpu"]] = Field(
        default_factory=lambda: ["cpu"], description="where the student will run: cpu, mobile (the int8 TFLite file on "
        "one thread is what the latency and memory limits are checked against, and it is always exported), gpu "
        "(trained and run on a CUDA device; refused where there is none)")
    layer_count: int | None = Field(None, ge=1)
    hidden_size: int | None = Field(None, ge=1)
    attention_heads: int | None = Field(None, ge=1)
    quality_threshold: float = Field(0.85, ge=0, le=1, description="minimum retention for the retention check")
    max_length: int = Field(128, ge=8, le=4096, description="token limit for text")
    max_train_examples: int | None = Field(None, ge=10, description="cap on training rows (stratified)")
    validation_fraction: float = Field(0.15, gt=0, lt=0.5)
    test_fraction: float = Field(0.15, gt=0, lt=0.5)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    domain: str | None = Field(None, description="what the model is for (free text); the teacher-risk check reads it")
    checks: ChecksConfig = Field(default_factory=ChecksConfig, description="safety checks' thresholds and options")
    budget: Budget | None = Field(None, description="what the run may spend and the price rule; the breaker stops it there")
    teacher_http: HttpTeacherConfig = Field(default_factory=HttpTeacherConfig,
                                            description="a teacher over HTTP: limits, retries, price, allowed hosts")
    ensemble: EnsembleConfig | None = Field(None, description="several teachers fused into one soft target; "
                                            "teacher is the member the student is designed from")
    student_from: str | None = Field(None, description="the student starts as a copy of this model, its architecture "
                                     "and weights (a zoo folder or a Hugging Face directory: a finished job's model/ "
                                     "or huggingface/ export, or catalog:NAME), and is trained on from there: "
                                     "incremental updates and domain adaptation")
    replay_data: str | None = Field(None, description="labelled rows of an earlier task trained on beside data (a replay, "
                                    "so that what a student_from model knew is kept); their rows get the domain "
                                    "replay_domain and data's rows new_domain, which an ensemble's domain_routing reads")
    replay_domain: str = Field("existing", min_length=1, max_length=200)
    new_domain: str = Field("new", min_length=1, max_length=200)
    specialty_checks: list[SpecialtyCheck] = Field(default_factory=list, description="named checks run on the "
                                                   "finished student, each on a labelled data set with a minimum")
    strategies: list[Literal["progressive", "adversarial", "curriculum"]] = Field(
        default_factory=list, description="beyond basic distillation (training.strategies): progressive (a teacher "
        "assistant between teacher and student), adversarial (robust distillation on PGD perturbations; images and "
        "tabular data), curriculum (easy rows first, by the teacher's confidence)")
    adversarial_epsilon: float | None = Field(None, gt=0, le=1, description="adversarial: the perturbation's size "
                                              "and of the attack measured on the test split (pixels on 0..1; tabular: "
                                              "feature standard deviations); None: 8/255 for images, 0.1 for tabular data")
    attack_eval: bool = Field(False, description="also measure the student's accuracy under a PGD attack on the test "
                                                 "split (always with adversarial)")

    @field_validator("augment_flip")
    @classmethod
    def _flip_needs_augment(cls, flip: bool, info: ValidationInfo) -> bool:
        if flip and not info.data.get("augment"):
            raise ValueError("flipping is an augmentation: it needs augment")
        return flip

    @field_validator("unlabelled_data", "text_variants")
    @classmethod
    def _unlabelled_needs_teacher(cls, value, info: ValidationInfo):
        if value and info.data.get("alpha") == 0:
            raise ValueError(f"{info.field_name}: unlabelled rows are learnt from the teacher's outputs alone: "
                             "they need alpha > 0")
        return value

    @model_validator(mode="after")
    def _base_learns_logits_only(self) -> DistillConfig:
        """A student_base tokenizes otherwise than its teacher: nothing can be matched token by token,
        and the teacher's outputs must be computed on its own encoding, once (cached)."""
        if self.student_base is None:
            return self
        token_level = [t for t in self.transfer if t in ("hidden", "attention")]
        if token_level:
            raise ValueError(f"student_base: transfer={token_level[0]} matches the teacher's tokens to the student's, "
                             "and a student_base has its own tokenizer: use transfer=['logits']")
        if self.augment:
            raise ValueError("student_base: augment runs the teacher on the student's tokens, and a student_base has "
                             "its own tokenizer: use text_variants (the teacher labels them once, on its own encoding)")
        return self

    @model_validator(mode="after")
    def _copy_fits(self) -> DistillConfig:
        if self.student_from is None:
            return self
        asked = [name for name in ("layer_count", "hidden_size", "attention_heads", "student_base", "vocabulary_size")
                 if getattr(self, name) is not None]
        if asked:
            raise ValueError(f"student_from: the student keeps {self.student_from}'s architecture, so {asked[0]} "
                             "cannot be set too")
        if "progressive" in self.strategies:
            raise ValueError("student_from: progressive builds a student smaller than the teacher through an assistant; "
                             "a student copied from a model keeps its size")
        return self

    @model_validator(mode="after")
    def _strategies_fit(self) -> DistillConfig:
        self.strategies = list(dict.fromkeys(self.strategies))
        if self.adversarial_epsilon is not None and "adversarial" not in self.strategies and not self.attack_eval:
            raise ValueError("adversarial_epsilon: sizes the adversarial strategy's perturbations (and the attack "
                             "attack_eval measures with); add 'adversarial' or attack_eval")
        if self.augment and ("adversarial" in self.strategies or "curriculum" in self.strategies):
            asked = "adversarial" if "adversarial" in self.strategies else "curriculum"
            raise ValueError(f"strategies: {asked} works on the cached teacher outputs of fixed rows, and augment "
                             "changes the rows every epoch; use one or the other")
        if self.alpha == 0 and self.strategies:
            raise ValueError(f"strategies: {self.strategies[0]} distils from the teacher; alpha 0 trains on labels alone")
        return self

    @model_validator(mode="after")
    def _ensemble_fits(self) -> DistillConfig:
        """An ensemble's outputs are computed once per row on each teacher's own encoding (cached), so
        nothing that runs the teacher on the student's batches can use one."""
        if self.ensemble is None:
            return self
        if self.teacher not in [m.teacher for m in self.ensemble.members]:
            raise ValueError("ensemble: teacher must be one of the ensemble's teachers (the one the student is designed from)")
        if self.augment:
            raise ValueError("ensemble: augment runs the teacher on each augmented batch; an ensemble's outputs are "
                             "computed once per row (use text_variants or unlabelled_data for more rows)")
        if [t for t in self.transfer if t != "logits"]:
            raise ValueError("ensemble: the teachers' hidden states and attention differ in shape; use transfer=['logits']")
        return self

    @model_validator(mode="after")
    def _hardware_fits(self) -> DistillConfig:
        """``mobile``: the phone runs the int8 TFLite file, so the backend is one that writes it and the
        file is always among the exports. ``gpu``: the student trains on a CUDA device, which must be here."""
        self.target_hardware = list(dict.fromkeys(self.target_hardware))
        if "mobile" in self.target_hardware:
            if self.backend not in ("auto", "tensorflow"):
                raise ValueError(f"target_hardware: mobile runs the student as an int8 TFLite file, which the {self.backend} "
                                 "backend does not write; use backend auto or tensorflow")
            if self.exports is not None:
                self.exports = with_mobile_file(self.exports)
        if "gpu" in self.target_hardware:
            if self.device == "cpu":
                raise ValueError("target_hardware: gpu asks for a CUDA device, and device is cpu")
            if not cuda_present():
                raise ValueError("target_hardware: gpu needs a CUDA device, and this machine has none; use cpu or mobile")
            self.device = "cuda"
        return self

    def training_fingerprint(self) -> dict:
        """The fields that change what training computes (a checkpoint resumes only if they match)."""
        # the checks and the budget only observe (redaction changes the data's hash instead)
        return self.model_dump(exclude={"exports", "baseline", "quality_threshold", "checkpoint_every",
                                        "checkpoint_seconds", "device", "domain", "checks", "budget",
                                        "teacher_http"})


def cuda_present() -> bool:
    import torch

    return torch.cuda.is_available()
