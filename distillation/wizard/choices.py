"""Reads for the wizard's steps: the teachers and data sets a person may choose, a data set's preview,
what the planner predicts for each target size, and the live estimate. Nothing here writes."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.cache import cache

from core.errors import DomainError
from ledger import selectors as ledger_selectors
from ledger.amounts import UNITS_PER_FTNS, display_ftns
from prsm.engine.catalog import ENTRIES, catalog_list
from prsm.engine.data.builtin import BUILTIN_NAMES
from prsm.engine.students.design import SIZE_RATIOS
from prsm.request import DistillationRequest

from ..planning import expected_by_size, plan
from ..selectors import jobs_of
from ..uploads import dataset_of, datasets_of, media_path, teachers_of

PREVIEW_CACHE_SECONDS = 3600
BUILTIN_DESCRIPTIONS = {
    "digits": "1,797 handwritten digits as 8x8 grey levels (scikit-learn), 10 classes",
    "breast-cancer": "569 breast-mass measurements, 30 numeric features, benign or malignant (scikit-learn)",
    "wine": "178 wines, 13 chemical measurements, 3 cultivars (scikit-learn)",
    "fashion-mnist": "70,000 28x28 grey photos of clothes, 10 kinds (Debian's dataset-fashion-mnist)",
    "movie-reviews": "10,605 movie-review sentences labelled positive or negative (Hutto and Gilbert, 2014)",
    "review-snippets": "tweets, product and opinion snippets with positive or negative labels (Hutto and Gilbert, 2014)",
}
SIZE_SENTENCES = {
    "small": "About a twentieth of the teacher's parameters: the fastest and smallest, for phones and busy servers.",
    "medium": "About an eighth of the teacher: a balance of size and accuracy.",
    "large": "About a third of the teacher: keeps the most accuracy, saves less.",
}
TARGET_SENTENCES = {
    "speed": "Among the students that fit, the one with the fewest operations per prediction.",
    "accuracy": "Among the students that fit, the one with the most parameters, to keep the most accuracy.",
    "efficiency": "A balance: the most parameters per unit of compute.",
}


@dataclass(frozen=True)
class TeacherCard:
    ref: str
    name: str
    task: str
    params: int | None
    accuracy: float | None
    built: bool
    licence: str
    intended_use: str
    description: str
    uploaded: bool = False
    status: str = ""
    analysis: dict | None = None
    summary: tuple[str, ...] = ()
    building: bool = False
    build_s: float = 0.0
    pending: bool = False  # an upload a worker is still checking or analysing

    @property
    def usable(self) -> bool:
        """A catalog teacher always is (a job builds it first when needed); an upload once checked."""
        return self.built or not self.uploaded


def teacher_cards(*, user) -> list[TeacherCard]:
    cards = [TeacherCard(ref=f"catalog:{row['name']}", name=row["name"], task=row["task"], params=row["params"],
                         accuracy=row["accuracy"], built=row["status"] == "built", licence=row["licence"],
                         intended_use=row["intended_use"], description=row["description"],
                         building=row["status"] == "building", build_s=ENTRIES[row["name"]].build_seconds)
             for row in catalog_list()]
    return cards + [uploaded_teacher_card(teacher) for teacher in teachers_of(user=user)[:20]]


def uploaded_teacher_card(teacher) -> TeacherCard:
    state = teacher.status if not teacher.status_reason else f"{teacher.status}: {teacher.status_reason}"
    if teacher.analysis_pending:
        state = "being checked and analysed by a worker" if teacher.status == teacher.Status.UPLOADED else \
            "ready; its analysis is being measured"
    return TeacherCard(
        ref=str(teacher.public_id), name=teacher.name, task=teacher.task or "not known yet", params=teacher.params,
        accuracy=((teacher.analysis or {}).get("quality") or {}).get("accuracy"),
        built=teacher.status == teacher.Status.READY, licence="yours", intended_use="",
        description=f"uploaded {teacher.get_kind_display()} teacher", uploaded=True, status=state,
        analysis=teacher.analysis, summary=tuple(analysis_summary(teacher.analysis)), pending=teacher.analysis_pending)


def analysis_summary(analysis: dict | None) -> list[str]:
    """A teacher analysis (``prsm teacher analyze``'s JSON) in a few plain sentences."""
    if not analysis:
        return []
    profile, quality = analysis.get("profile") or {}, analysis.get("quality") or {}
    lines = []
    if profile.get("params") is not None:
        lines.append(f"{profile.get('layers') or '?'} layers, {profile['params']:,} parameters, "
                     f"{profile.get('size_bytes', 0) / 1e6:.1f} MB.")
    if (latency := profile.get("latency_ms_p50")) is not None:
        lines.append(f"One prediction takes about {latency:.2f} ms on this server's CPU (median).")
    if (accuracy := quality.get("accuracy")) is not None:
        lines.append(f"Accuracy on held-out rows of its data: {accuracy:.1%}.")
    if (ece := quality.get("ece")) is not None:
        lines.append(f"Calibration error {ece:.3f}: its confidence {'matches' if ece < 0.05 else 'only loosely matches'} "
                     "how often it is right.")
    if important := _most_important(analysis.get("structure") or {}):
        lines.append("What matters most to it: " + ", ".join(important) + ".")
    return lines


def _most_important(structure: dict, count: int = 3) -> list[str]:
    drops = (structure.get("permutation_importance") or {}).get("accuracy_drop") or {}
    if drops:
        return [name for name, _ in sorted(drops.items(), key=lambda item: -item[1])[:count]]
    heads = structure.get("attention_head_importance") or {}
    layers = heads.get("layers") if isinstance(heads, dict) else None
    return [f"layer {item.get('layer')}" for item in layers[:count]] if isinstance(layers, list) else []


@dataclass(frozen=True)
class DataChoice:
    ref: str
    name: str
    description: str
    task: str


def data_choices(*, user) -> list[DataChoice]:
    tasks = {name: ("image" if name == "fashion-mnist" else "text" if name in ("movie-reviews", "review-snippets")
                    else "tabular") for name in BUILTIN_NAMES}
    choices = [DataChoice(f"builtin:{name}", name, BUILTIN_DESCRIPTIONS.get(name, ""), tasks[name]) for name in BUILTIN_NAMES]
    for dataset in datasets_of(user=user).filter(status="ready")[:20]:
        choices.append(DataChoice(str(dataset.public_id), dataset.name,
                                  f"uploaded {dataset.get_format_display()}, {dataset.rows:,} rows", dataset.task))
    return choices


def update_choices(*, user) -> list[tuple[str, str]]:
    """The user's finished jobs an update can start from (a PyTorch or Transformers student): (job id, a label)."""
    jobs = jobs_of(user=user).filter(status="completed", backend__in=("pytorch", "transformers"))[:20]
    return [(str(job.job_id), f"{(job.report or {}).get('name') or 'job'} from {job.created_at:%Y-%m-%d %H:%M} "
                              f"({job.request.get('teacher_model') or 'its teacher'})") for job in jobs]


def teacher_default_data(ref: str | None) -> str | None:
    if ref and ref.startswith("catalog:") and (entry := ENTRIES.get(ref.removeprefix("catalog:"))):
        return entry.dataset
    return None


def data_preview_of(*, user, ref: str) -> dict:
    """The preview of a built-in set or one of the user's data sets (cached: loading can take seconds)."""
    from prsm.engine.data.loaders import load_data
    from prsm.engine.data.preview import data_preview
    from prsm.engine.errors import BadInput

    if ref.startswith("builtin:"):
        key, path = f"wizard-preview:{ref}", ref
    else:
        dataset = dataset_of(user=user, public_id=ref)
        if dataset is None or dataset.status != dataset.Status.READY:
            return {"error": "No ready data set of yours has that id."}
        key, path = f"wizard-preview:{dataset.sha256}", str(media_path(dataset.path))
    preview = cache.get(key)
    if preview is None:
        try:
            preview = data_preview(load_data(path))
        except (BadInput, OSError, ValueError) as error:
            return {"error": str(error)}
        cache.set(key, preview, PREVIEW_CACHE_SECONDS)
    return {**preview, "class_rows": list(zip(preview["classes"], preview["class_counts"]))}


def size_predictions(*, user, teacher_ref: str | None, teacher_params: int | None, search: str | None = None) -> list[dict]:
    """For each target size: the most parameters the planner gives the student and the compression
    that means; with the size, latency and retention that completed jobs like it here gave
    (planning's ``expected`` block; its design rule before any has run)."""
    if not teacher_params or not teacher_ref:
        return []
    expected = expected_by_size(teacher=teacher_ref, owner=user, **({"search": search} if search else {}))
    return [{"size": size, "params": teacher_params // ratio, "compression": ratio, "expected": expected.get(size),
             "sentence": SIZE_SENTENCES[size]} for size, ratio in SIZE_RATIOS.items()]


def estimate_for(*, user, request: DistillationRequest) -> dict:
    """The estimate service's figures for the wizard's budget step, with the balance before and after
    the hold; ``error`` (and ``field``) when the request cannot be planned."""
    try:
        estimate = plan(request=request, owner=user).estimate()
    except DomainError as error:
        return {"error": error.message, "field": error.field}
    balance = ledger_selectors.wallet_balance(user=user)  # promotional credit included: it pays for jobs
    cost, budget = estimate["cost_units"], request.budget_ftns * UNITS_PER_FTNS
    names = {"base": "base fee", "teacher_fees": "teacher fees", "compute": "compute", "validation": "validation"}
    parts = {name: value if isinstance(value, int) else sum(value) for name, value in estimate["breakdown_units"].items()}
    breakdown = [{"name": names.get(name, name), "units": units, "ftns": display_ftns(units)} for name, units in parts.items()]
    return {**estimate, "breakdown": breakdown, "budget_units": budget, "within_budget": cost <= budget,
            "needed_ftns": -(-cost // UNITS_PER_FTNS), "balance_units": balance, "after_units": balance - cost,
            "affordable": balance >= cost}
