"""Before a job is queued: which teacher and data it names, which backend runs it, what it costs.

Reads only; nothing here writes. The estimate uses the ledger's one pricing rule.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from fractions import Fraction

from ledger import pricing
from ledger.amounts import display_ftns
from prsm.engine.catalog import ENTRIES, CatalogError, read_card
from prsm.engine.data.builtin import BUILTIN_NAMES
from prsm.planning import backend_choose, request_to_config
from prsm.request import DistillationRequest

VALIDATION_SUITES = 1  # held-out evaluation with the retention check

# Rough CPU speed for the estimate only (2 cores, float32 matmul); the bill uses measured time.
CPU_FLOPS_PER_SECOND = 2e10
TRAIN_COST_FACTOR = 3  # a training step costs about three forward passes (forward + backward)
TEXT_TOKENS = 64
DATASET_ROWS = {"digits": 1797, "breast-cancer": 569, "wine": 178, "fashion-mnist": 70_000, "movie-reviews": 10_605}
DEFAULT_EPOCHS = 10
JOB_OVERHEAD_S = 30  # loading, design measurements, evaluation and exports, whatever the model size


class PlanningError(ValueError):
    """A request that names something this server cannot use; ``field`` says which."""

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


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
            "dataset": self.dataset,
            "epochs": self.epochs,
        }


def _catalog_teacher(ref: str):
    name = ref.removeprefix("catalog:")
    if name not in ENTRIES:
        raise PlanningError(f"unknown teacher {ref!r}; the catalog has {', '.join('catalog:' + n for n in ENTRIES)}", "teacher_model")
    entry = ENTRIES[name]
    if read_card(name) is None:
        raise PlanningError(f"catalog teacher {ref!r} is not built on this server yet (prsm catalog build {name})", "teacher_model")
    return entry


def _dataset(request: DistillationRequest, entry) -> str:
    dataset = request.dataset or entry.dataset
    if not dataset.startswith("builtin:"):
        raise PlanningError("dataset: only builtin:NAME data sets can be used here until uploads arrive", "dataset")
    if dataset.removeprefix("builtin:") not in BUILTIN_NAMES:
        raise PlanningError(f"unknown data set {dataset!r}; built-in ones are {', '.join('builtin:' + n for n in BUILTIN_NAMES)}", "dataset")
    return dataset


def _compute_hours(*, params: int, task: str, dataset: str, epochs: int) -> float:
    rows = DATASET_ROWS.get(dataset.removeprefix("builtin:"), 10_000)
    flops_per_example = 2 * params * (TEXT_TOKENS if task == "text" else 1)
    teacher_pass = rows * flops_per_example  # teacher outputs are cached once
    student_passes = rows * epochs * TRAIN_COST_FACTOR * flops_per_example / 10  # students are >= 3x smaller
    return (teacher_pass + student_passes) / CPU_FLOPS_PER_SECOND / 3600 + JOB_OVERHEAD_S / 3600


def plan(*, request: DistillationRequest) -> Plan:
    """Resolve the teacher and data, choose the backend, estimate cost and time."""
    teacher = request.teacher
    if not teacher.startswith("catalog:"):
        raise PlanningError("teacher_model: only catalog:NAME teachers can be used here until uploads arrive", "teacher_model")
    entry = _catalog_teacher(teacher)
    dataset = _dataset(request, entry)
    backend, reason = backend_choose(domain=request.domain, teacher_kind=entry.kind, task=entry.task,
                                     target_hardware=request.target_hardware)
    epochs = request.epochs or DEFAULT_EPOCHS
    hours = _compute_hours(params=entry.params, task=entry.task, dataset=dataset, epochs=epochs)
    cost = pricing.job_cost(teachers=1, compute_hours=Fraction(hours).limit_denominator(10**9), validation_suites=VALIDATION_SUITES)
    return Plan(teacher=teacher, teacher_params=entry.params, teacher_owner_id=None, task=entry.task, dataset=dataset,
                backend=backend, backend_reason=reason, epochs=epochs, compute_hours=hours, duration_s=hours * 3600,
                cost=cost)


def engine_config(*, request: DistillationRequest, job_plan: Plan) -> dict:
    """The engine's DistillConfig (as JSON) for a planned request."""
    return request_to_config(request, teacher=job_plan.teacher, dataset=job_plan.dataset, backend=job_plan.backend,
                             epochs=job_plan.epochs)
