"""Before a job is queued: which teacher and data it names, which backend runs it, what it costs
and what it should give (expectations.py).

Reads only; nothing here writes. The estimate uses the ledger's one pricing rule.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from fractions import Fraction

from core.errors import DomainError
from ledger import pricing
from ledger.amounts import UNITS_PER_FTNS, display_ftns
from prsm.engine.backends import strategy_refused
from prsm.engine.catalog import ENTRIES, build_seconds_expected
from prsm.engine.config import DistillConfig
from prsm.engine.data.builtin import BUILTIN_NAMES
from prsm.engine.students.design import SIZE_RATIOS
from prsm.engine.students.search import LEVELS, SEARCH_TEXT_VARIANTS, SEARCH_TRANSFER, expected_cost_factor, search_transfer_rows
from prsm.engine.training.strategies import TRAIN_PGD_STEPS
from prsm.planning import (
    STUDENT_BASES,
    BackendRefused,
    ModelSource,
    backend_choose,
    is_http_teacher,
    request_to_config,
    run_model_source,
)
from prsm.request import DistillationRequest

from . import http_teachers
from .expectations import copy_of, expected_outcome
from .models import DistillationJob
from .selectors import job_out_dir
from .uploads import dataset_of, media_path, teacher_of

VALIDATION_SUITES = 1  # held-out evaluation with the retention check

# Rough CPU speed for the estimate only (2 cores, float32 matmul); the bill uses measured time.
CPU_FLOPS_PER_SECOND = 2e10
TRAIN_COST_FACTOR = 3  # a training step costs about three forward passes (forward + backward)
TEXT_TOKENS = 64
DATASET_ROWS = {"digits": 1797, "breast-cancer": 569, "wine": 178, "fashion-mnist": 70_000, "movie-reviews": 10_605}
DEFAULT_EPOCHS = 10
JOB_OVERHEAD_S = 30  # loading, design measurements, evaluation and exports, whatever the model size
SEARCH_DEFAULT = DistillConfig.model_fields["search"].default  # the engine's search when a request leaves it out


class PlanningError(DomainError):
    """A request that names something this server cannot use; ``field`` says which."""

    status_code = 400
    code = "invalid"

    def __init__(self, message: str, field: str):
        super().__init__(message, field=field)


@dataclass(frozen=True)
class Plan:
    teacher: str
    teacher_params: int
    teacher_owner_id: int | None
    task: str
    dataset: str
    backend: str
    backend_reason: str
    epochs: int
    compute_hours: float
    duration_s: float
    cost: pricing.JobCost
    # What the engine reads: an uploaded teacher's or data set's stored path; empty for catalog/builtin refs.
    engine_teacher: str = ""
    engine_dataset: str = ""
    engine_unlabelled: str = ""  # an uploaded transfer set's stored path
    teacher_speed: str = "approximated from its parameter count"
    teacher_build_s: float = 0.0  # a catalog teacher not built here yet: the job builds it first
    teacher_http: dict = field(default_factory=dict)  # a teacher over HTTP: its engine options, provider, token estimate
    search: str = "off"  # the engine's search for the best student: off, quick or thorough
    search_s: float = 0.0  # the search's predicted seconds, in compute_hours and duration_s
    expected: dict = field(default_factory=dict)  # the student's expected size, latency, retention (expectations.py)
    # an ensemble's teachers in the request's order: ref, weight, kind, params, owner_id, engine_ref; one entry otherwise
    teachers: tuple[dict, ...] = ()
    source: ModelSource | None = None  # the model an update or an adaptation starts from
    base_job_id: str = ""  # the job of that model, when it is one of the owner's (the marketplace's lineage)
    data_refs: dict = field(default_factory=dict)  # domain corpus and specialty data: what the engine reads

    def estimate(self) -> dict:
        return {
            "cost_ftns": display_ftns(self.cost.total),
            "cost_units": self.cost.total,
            "breakdown_units": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self.cost).items()},
            "compute_hours": round(self.compute_hours, 6),
            "duration_s": round(self.duration_s, 1),
            "backend": self.backend,
            "backend_reason": self.backend_reason,
            "teacher": self.teacher,
            "task": self.task,
            "dataset": self.dataset,
            "epochs": self.epochs,
            "teacher_speed": self.teacher_speed,
            "teacher_owner_id": self.teacher_owner_id,
            "teacher_build_s": round(self.teacher_build_s, 1),
            "search": self.search,
            "search_s": round(self.search_s, 1),
            "expected": self.expected,
            "teachers": [{k: t[k] for k in ("ref", "weight", "kind", "params")} for t in self.teachers],
            "teacher_owner_ids": [t["owner_id"] for t in self.teachers] or [self.teacher_owner_id],
            **({"starts_from": {"ref": self.source.ref, "kind": self.source.kind, "job_id": self.base_job_id or None}}
               if self.source is not None else {}),
            **({"teacher_http": {k: self.teacher_http[k] for k in ("provider", "token_units_estimated",
                                                                  "price_per_1k_tokens_units")}}
               if self.teacher_http else {}),
        }


def _catalog_teacher(ref: str):
    name = ref.removeprefix("catalog:")
    if name not in ENTRIES:
        raise PlanningError(f"unknown teacher {ref!r}; the catalog has {', '.join('catalog:' + n for n in ENTRIES)}", "teacher_model")
    return ENTRIES[name]


@dataclass(frozen=True)
class _TeacherRef:
    kind: str
    task: str
    params: int
    owner_id: int | None
    default_dataset: str | None
    engine_ref: str = ""
    remote: object = None  # http_teachers.RemoteTeacher for a teacher over HTTP


def _teacher(ref: str, owner) -> _TeacherRef:
    if is_http_teacher(ref):  # a text classifier reached over HTTP: checked (provider, address) now
        remote = http_teachers.remote_teacher(ref, owner)
        return _TeacherRef("http", "text", 0, None, None, remote.ref, remote)
    if ref.startswith("catalog:"):
        entry = _catalog_teacher(ref)
        return _TeacherRef(entry.kind, entry.task, entry.params, None, entry.dataset)
    uploaded = teacher_of(user=owner, public_id=ref)
    if uploaded is None:
        raise PlanningError("teacher_model: give catalog:NAME or the id of a teacher you uploaded "
                            "(the server does not read local paths)", "teacher_model")
    if uploaded.status == uploaded.Status.UPLOADED:
        raise PlanningError(f"teacher {ref} is still being checked; use it once its status is ready", "teacher_model")
    if uploaded.status == uploaded.Status.REJECTED:
        raise PlanningError(f"teacher {ref} was rejected: {uploaded.status_reason}", "teacher_model")
    default = str(uploaded.dataset.public_id) if uploaded.dataset_id else None
    return _TeacherRef(uploaded.kind, uploaded.task, uploaded.params or 0, uploaded.owner_id, default,
                       str(media_path(uploaded.path)))


def _dataset(request: DistillationRequest, teacher: _TeacherRef, owner) -> tuple[str, str, int | None]:
    """(the reference as the user wrote it, what the engine reads, rows when known)."""
    dataset = request.dataset or teacher.default_dataset
    if dataset is None:
        raise PlanningError("dataset: required with an uploaded teacher (builtin:NAME or the id of a data set you uploaded)", "dataset")
    if dataset.startswith("builtin:"):
        if dataset.removeprefix("builtin:") not in BUILTIN_NAMES:
            raise PlanningError(f"unknown data set {dataset!r}; built-in ones are {', '.join('builtin:' + n for n in BUILTIN_NAMES)}", "dataset")
        return dataset, dataset, None
    uploaded = dataset_of(user=owner, public_id=dataset)
    if uploaded is None or uploaded.status != uploaded.Status.READY:
        raise PlanningError("dataset: give builtin:NAME or the id of a data set you uploaded "
                            "(the server does not read local paths)", "dataset")
    if teacher.task and uploaded.task and teacher.task != uploaded.task:
        raise PlanningError(f"the teacher takes {teacher.task} data; data set {dataset} holds {uploaded.task} data", "dataset")
    return dataset, str(media_path(uploaded.path)), uploaded.rows


def _transfer_set(request: DistillationRequest, owner, ref: str | None = None, field: str = "unlabelled_data") -> str:
    """An uploaded transfer set's stored path for the engine ('' for none or a built-in set); the
    server reads no local paths."""
    ref = request.unlabelled_data if ref is None and field == "unlabelled_data" else ref
    if ref is None:
        return ""
    if ref.startswith("builtin:"):
        if ref.removeprefix("builtin:") not in BUILTIN_NAMES:
            raise PlanningError(f"unknown data set {ref!r}; built-in ones are {', '.join('builtin:' + n for n in BUILTIN_NAMES)}",
                                field)
        return ""
    uploaded = dataset_of(user=owner, public_id=ref)
    if uploaded is None or uploaded.status != uploaded.Status.READY:
        raise PlanningError(f"{field}: give builtin:NAME or the id of a data set you uploaded "
                            "(the server does not read local paths)", field)
    return str(media_path(uploaded.path))


def _data_refs(request: DistillationRequest, owner) -> dict[str, str]:
    """What the engine reads for the domain corpus and the specialty checks' data sets (uploads' paths)."""
    refs = {}
    wanted = [(request.domain_corpus, "domain_corpus")] + [
        (r.data, "specialty_requirements") for r in request.specialty_requirements or [] if r.data]
    for ref, asked_in in wanted:
        if ref:
            refs[ref] = _transfer_set(request, owner, ref, asked_in) or ref
    return refs


def model_source(ref: str, owner, field: str) -> tuple[ModelSource, DistillationJob | None]:
    """A model a request starts from: a catalog teacher, or a finished job (or deployed model) of the
    owner's, read from the job's folder; the job too, for the marketplace's lineage."""
    if ref.startswith("catalog:"):
        _catalog_teacher(ref)
        entry = ENTRIES[ref.removeprefix("catalog:")]
        return ModelSource(ref, ref, entry.kind, entry.task, entry.dataset, entry.params), None
    job = _owned_finished_job(ref, owner)
    if job is None:
        raise PlanningError(f"{field}: give the id of a finished job or a deployed model of yours, or catalog:NAME", field)
    source = run_model_source(ref, job_out_dir(job), job.report or {}, (job.engine_config or {}).get("data"))
    if source is not None:
        return source, job
    raise PlanningError(f"{field}: job {job.job_id} has no PyTorch (model/) or Transformers (huggingface/) export to "
                        "start from", field)


def _owned_finished_job(ref: str, owner) -> DistillationJob | None:
    import uuid

    try:
        key = uuid.UUID(str(ref))
    except ValueError:
        return None
    if owner is None or not owner.is_authenticated:
        return None
    jobs = DistillationJob.objects.filter(owner=owner, status=DistillationJob.Status.COMPLETED)
    return jobs.filter(job_id=key).first() or jobs.filter(deployment__model_id=key).first()


def _student_base(request: DistillationRequest) -> None:
    if request.student_base is not None and request.student_base.removeprefix("builtin:") not in STUDENT_BASES:
        raise PlanningError(f"student_base: on this server, one of {', '.join('builtin:' + n for n in STUDENT_BASES)} "
                            "(it does not read local paths)", "student_base")


def measured_teacher_seconds(engine_teacher: str) -> float | None:
    """Seconds per example of this teacher at batch 1, as the last completed job on it measured them."""
    reports = (DistillationJob.objects.filter(status=DistillationJob.Status.COMPLETED, engine_config__teacher=engine_teacher)
               .order_by("-finished_at").values_list("report", flat=True)[:1])
    latency = next(iter(reports), None) and (reports[0] or {}).get("teacher", {}).get("latency_ms_p50")
    return latency / 1000 if latency else None


def expected_by_size(*, teacher: str, owner, search: str = SEARCH_DEFAULT) -> dict[str, dict]:
    """For each target size, what a job on this teacher should give (the wizard's goal step); empty
    for a teacher that cannot be planned."""
    try:
        entry = _teacher(teacher, owner)
    except DomainError:
        return {}
    return {size: expected_outcome(teacher=teacher, engine_teacher=entry.engine_ref or teacher, task=entry.task,
                                   teacher_params=entry.params, target_size=size, search=search)
            for size in SIZE_RATIOS}


@dataclass(frozen=True)
class _Compute:
    """A job's predicted seconds of work, by part."""

    teacher_s: float
    student_s: float
    search_s: float

    @property
    def hours(self) -> float:
        return (self.teacher_s + self.student_s + self.search_s + JOB_OVERHEAD_S) / 3600


def search_cost_factor(level: str, epochs: int) -> float:
    """The search's student training over the final training's (0 with the search off), from its
    trial schedule (prsm.engine.students.search)."""
    return 0.0 if level == "off" else expected_cost_factor(LEVELS[level], epochs)


def strategy_cost_factor(strategies: list[str], target_size: str) -> float:
    """The student's training under ``strategies`` over basic distillation's, counted in passes: an
    adversarial step adds its PGD steps and the perturbed loss to the clean one; progressive first
    trains an assistant about the square root of the size ratio larger than the student; curriculum
    trains fewer rows in its first epochs (counted as basic)."""
    factor = 1.0
    if "adversarial" in strategies:
        factor *= 2 + TRAIN_PGD_STEPS
    if "progressive" in strategies:
        factor += SIZE_RATIOS[target_size] ** 0.5
    return factor


def _compute(*, params: int, task: str, dataset: str, epochs: int, rows: int | None = None,
             teacher_seconds: float | None = None, augment: bool = False, search: str = "off",
             variants: int = 0, transfer_rows: int = 0, strategy_factor: float = 1.0) -> _Compute:
    """Teacher outputs once (cached; with augmentation, once an epoch on the augmented batches),
    the student's epochs at about a tenth of the teacher's cost each and three passes a step, the
    search's short trials as that many more student epochs, plus a fixed overhead. The teacher's
    speed is the one measured on this server when a job has used the teacher before; otherwise an
    approximation from its size. ``variants`` new versions of each text are labelled by the teacher
    once and trained on like the rows, and so are ``transfer_rows`` sentences of a transfer set;
    ``strategy_factor`` scales the student's training (``strategy_cost_factor``)."""
    rows = _rows_of(dataset, rows) * (1 + variants) + transfer_rows
    if teacher_seconds is None:
        teacher_seconds = 2 * params * (TEXT_TOKENS if task == "text" else 1) / CPU_FLOPS_PER_SECOND
    teacher_pass = rows * teacher_seconds * (epochs if augment else 1)
    student_passes = rows * epochs * TRAIN_COST_FACTOR * teacher_seconds / 10 * strategy_factor
    return _Compute(teacher_s=teacher_pass, student_s=student_passes,
                    search_s=student_passes * search_cost_factor(search, epochs))


def _rows_of(dataset: str, rows: int | None) -> int:
    """The data set's rows: an upload's count, a built-in's known size, else a guess."""
    return rows or DATASET_ROWS.get(dataset.removeprefix("builtin:"), 10_000)


def _search_makes_rows(request: DistillationRequest, task: str, search: str, remote: bool) -> bool:
    """Whether the engine's search makes text rows for the teacher to label (as the engine's
    ``prepare._search_makes_rows``: none for a teacher over HTTP, nor with alpha 0)."""
    return task == "text" and search != "off" and not remote and request.alpha != 0


def _text_variants(request: DistillationRequest, task: str, search: str, remote: bool) -> int:
    """Variants of each text the job's teacher labels: the request's, or those the engine's search
    makes for itself."""
    if request.text_variants:
        return request.text_variants
    return SEARCH_TEXT_VARIANTS if _search_makes_rows(request, task, search, remote) else 0


def _search_transfer_rows(request: DistillationRequest, task: str, search: str, remote: bool, dataset: str,
                          rows: int | None) -> int:
    """Sentences of the built-in transfer set the search offers a text job that asks for no
    unlabelled rows of its own (the teacher labels them once)."""
    if _search_makes_rows(request, task, search, remote) and not request.unlabelled_data \
            and not request.text_variants and dataset != SEARCH_TRANSFER[0]:
        return search_transfer_rows(_rows_of(dataset, rows))
    return 0


def _update_source(request: DistillationRequest, owner) -> tuple[ModelSource | None, DistillationJob | None]:
    if request.update_kind is None:
        return None, None
    field = "base_model" if request.update_kind == "incremental" else "source_model"
    return model_source(getattr(request, field), owner, field)


def _ensemble_members(request: DistillationRequest, owner,
                      source: ModelSource | None = None) -> list[tuple[str, float, _TeacherRef]]:
    """Every teacher of the request, resolved; an ensemble's must all take the same kind of data. A
    model the request starts from teaches as itself (its owner's own model: the fee goes to them)."""
    if source is not None and request.teacher == source.ref and not source.ref.startswith("catalog:"):
        return [(request.teacher, 1.0, _TeacherRef(source.kind, source.task or "", source.params,
                                                   getattr(owner, "pk", None), source.data, source.model))]
    if not request.is_ensemble:
        return [(request.teacher, 1.0, _teacher(request.teacher, owner))]
    members = []
    for ref, weight, _ in request.teachers:
        try:
            members.append((ref, weight, _teacher(ref, owner)))
        except PlanningError as error:
            raise PlanningError(f"{ref}: {error.message}", "teacher_models") from None
    tasks = {entry.task for _, _, entry in members if entry.task}
    if len(tasks) > 1:
        described = ", ".join(f"{ref} takes {entry.task} data" for ref, _, entry in members)
        raise PlanningError(f"an ensemble's teachers must take the same kind of data: {described}", "teacher_models")
    return members


def plan(*, request: DistillationRequest, owner=None) -> Plan:
    """Resolve the teacher and data, choose the backend, estimate cost and time.

    Uploaded teachers and data sets are found by id among ``owner``'s own uploads only. An ensemble
    is planned on the teacher its student is designed from; the others add their teacher fee, their
    pass over the data and any catalog build.
    """
    teacher = request.teacher
    source, base_job = _update_source(request, owner)
    members = _ensemble_members(request, owner, source)
    entry = next(e for ref, _, e in members if ref == teacher)
    dataset, engine_dataset, rows = _dataset(request, entry, owner)
    engine_unlabelled = _transfer_set(request, owner)
    _student_base(request)
    try:
        backend, reason = backend_choose(domain=request.domain, teacher_kind=entry.kind, task=entry.task or None,
                                         target_hardware=request.target_hardware, exports=request.export_formats,
                                         requested=request.backend)
    except BackendRefused as refused:
        raise PlanningError(str(refused), refused.field) from None
    if refused := strategy_refused(backend, request.strategies, entry.task or None):
        raise PlanningError(refused[1], request.strategy_field(refused[0]))
    if request.augmentation_task is not None and entry.task and entry.task != request.augmentation_task:
        raise PlanningError(f"augmentation_techniques are for {request.augmentation_task} data; the teacher takes "
                            f"{entry.task} data", "augmentation_techniques")
    epochs = request.epochs or DEFAULT_EPOCHS
    measured = measured_teacher_seconds(entry.engine_ref or teacher)
    search = request.search or SEARCH_DEFAULT
    expected = copy_of(ref=source.ref, params=source.params) if source is not None else expected_outcome(
        teacher=teacher, engine_teacher=entry.engine_ref or teacher, task=entry.task, teacher_params=entry.params,
        target_size=request.target_size, search=search)
    build_s = sum(build_seconds_expected(ref) for ref, _, _ in members if ref.startswith("catalog:"))
    others_s = sum(_compute(params=e.params, task=e.task, dataset=dataset, epochs=epochs, rows=rows,
                            teacher_seconds=measured_teacher_seconds(e.engine_ref or ref)).teacher_s
                   for ref, _, e in members if ref != teacher)  # the other teachers' one pass each (cached)
    compute = _compute(params=entry.params, task=entry.task, dataset=dataset, epochs=epochs, rows=rows,
                       teacher_seconds=measured, augment=request.augmentation_task is not None, search=search,
                       variants=_text_variants(request, entry.task, search, remote=entry.remote is not None),
                       transfer_rows=_search_transfer_rows(request, entry.task, search, entry.remote is not None, dataset,
                                                          rows),
                       strategy_factor=strategy_cost_factor(request.strategies, request.target_size))
    hours = compute.hours + (build_s + others_s) / 3600
    cost = pricing.job_cost(teachers=len(members), compute_hours=Fraction(hours).limit_denominator(10**9), validation_suites=VALIDATION_SUITES)
    teacher_http = {}
    if entry.remote is not None:  # the teacher's tokens, priced into the teacher fee
        tokens = http_teachers.token_units_estimate(remote=entry.remote, text_tokens=TEXT_TOKENS,
                                                    rows=_rows_of(dataset, rows))
        cost = http_teachers.with_token_fee(cost, tokens)
        teacher_http = http_teachers.engine_options(entry.remote) | {"provider": entry.remote.provider,
                                                                     "token_units_estimated": tokens}
    return Plan(teacher=teacher, teacher_params=entry.params, teacher_owner_id=entry.owner_id, task=entry.task, dataset=dataset,
                backend=backend, backend_reason=reason, epochs=epochs, compute_hours=hours, duration_s=hours * 3600,
                cost=cost, teacher_speed="measured by an earlier job on this server" if measured else Plan.teacher_speed,
                teacher_build_s=build_s, search=search, search_s=compute.search_s, expected=expected,
                engine_teacher=entry.engine_ref, engine_dataset=engine_dataset if engine_dataset != dataset else "",
                engine_unlabelled=engine_unlabelled, teacher_http=teacher_http,
                teachers=tuple({"ref": ref, "weight": weight, "kind": e.kind, "params": e.params, "owner_id": e.owner_id,
                                "engine_ref": e.engine_ref} for ref, weight, e in members),
                source=source, base_job_id=str(base_job.job_id) if base_job is not None else "",
                data_refs=_data_refs(request, owner))


def engine_config(*, request: DistillationRequest, job_plan: Plan) -> dict:
    """The engine's DistillConfig (as JSON) for a planned request, with the job's budget and the
    price rule, so that the circuit breaker stops a run whose spending reaches the budget."""
    config = request_to_config(request, teacher=job_plan.engine_teacher or job_plan.teacher,
                               dataset=job_plan.engine_dataset or job_plan.dataset, backend=job_plan.backend,
                               epochs=job_plan.epochs,
                               overrides={"unlabelled_data": job_plan.engine_unlabelled} if job_plan.engine_unlabelled else None,
                               engine_teachers={t["ref"]: t["engine_ref"] for t in job_plan.teachers if t["engine_ref"]},
                               source=job_plan.source, engine_refs=job_plan.data_refs)
    if job_plan.teacher_http:
        config["teacher_http"] = {k: v for k, v in job_plan.teacher_http.items()
                                  if k not in ("provider", "token_units_estimated")}
    cost = job_plan.cost
    config["budget"] = {"limit_units": request.budget_ftns * UNITS_PER_FTNS,
                        "fixed_units": cost.total - cost.compute,  # base, teacher and validation fees: due however long it runs
                        "compute_hour_units": pricing.COMPUTE_HOUR_FEE, "units_per_ftns": UNITS_PER_FTNS}
    return config
