"""Reads for the listing page's further parts: charts against the teacher, the lineage as a graph, the
family's versions and what changed, the rating distribution, the rating form's state, similar and cheaper
models. Only public figures: nothing of a job a buyer should not see (its logs, budget, uploads' paths)."""

from __future__ import annotations

import math
import uuid

from django.db.models import Count, F, Q
from django.db.models.functions import Abs

from distillation.models import Dataset, Teacher
from distillation.selectors import job_comparison_charts
from prsm.engine.catalog import ENTRIES

from .models import Listing, Purchase, Rating
from .selectors import _public, _search_annotated, listing_is_public, public_latest_versions

# What each chart is (selectors.job_comparison_charts names them), for its caption and description.
CHART_TEXT = {
    "accuracy": ("Accuracy: teacher and student", "Share of the held-out test split each model classified correctly."),
    "size": ("Size in parameters", "Parameters (weights) of each model; fewer load faster and take less memory."),
    "latency": ("Latency p50 and p95", "Milliseconds per example on the distilling machine's CPU, batch 1, after warm-up."),
    "per_class": ("The student's accuracy per class", "Share of each class's test examples the student got right."),
    "confusion": ("The student's confusion matrix",
                  "Test examples by true class (rows) and the class the student predicted (columns)."),
    "reliability": ("Calibration: how sure against how right",
                    "For test examples grouped by the model's confidence, the share it got right; on the diagonal, "
                    "a model is exactly as sure as it is right."),
}
# The request's settings a buyer may compare between versions (never budget, uploads' ids or paths).
COMPARED_SETTINGS = (
    "teacher_model", "teacher_models", "target_size", "optimization_target", "training_strategy", "epochs", "seed",
    "temperature", "alpha", "layer_count", "hidden_size", "attention_heads", "quality_threshold",
    "augmentation_techniques", "export_formats", "student_base", "vocabulary_size", "text_variants",
    "max_unlabelled_examples", "max_inference_latency", "max_memory_usage", "target_hardware", "backend",
)


def listing_charts(*, listing: Listing) -> dict[str, dict]:
    """The job's teacher-against-student charts (figures from its report only), by name."""
    return job_comparison_charts(listing.job)


def listing_chart_list(*, listing: Listing) -> list[dict]:
    return [{"name": name, "title": CHART_TEXT[name][0], "description": CHART_TEXT[name][1]}
            for name in listing_charts(listing=listing) if name in CHART_TEXT]


# --- Lineage: who and what the model comes from


def listing_teachers(*, listing: Listing) -> list[dict]:
    """Each teacher with who owns it: the platform's catalog, or the user who uploaded it."""
    request = listing.job.request or {}
    refs = [t["model"] for t in request.get("teacher_models") or [] if t.get("model")] or [request.get("teacher_model")]
    uploads = {str(t.public_id): t for t in Teacher.objects.filter(
        public_id__in=[r for r in refs if r and not r.startswith("catalog:") and _is_uuid(r)]).select_related("owner")}
    teachers = []
    for ref in filter(None, refs):
        if ref.startswith("catalog:"):
            teachers.append({"ref": ref, "name": ref, "owner": "the platform's catalog"})
        elif ref in uploads:
            teachers.append({"ref": ref, "name": uploads[ref].name, "owner": uploads[ref].owner.username})
        else:
            teachers.append({"ref": ref, "name": ref, "owner": "its uploader"})
    return teachers


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def listing_data(*, listing: Listing) -> dict:
    """The data the model learned from: its name (a built-in set, the uploaded set's name, or the catalog
    teacher's own data) and the sha256 the engine recorded."""
    job = listing.job
    request, report = job.request or {}, job.report or {}
    ref = request.get("dataset")
    teacher = request.get("teacher_model") or ""
    if ref is None and teacher.startswith("catalog:") and teacher.removeprefix("catalog:") in ENTRIES:
        ref = ENTRIES[teacher.removeprefix("catalog:")].dataset
    name = ref or "not recorded"
    if ref and _is_uuid(ref):
        dataset = Dataset.objects.filter(public_id=ref).first()
        name = dataset.name if dataset else "an uploaded data set"
    return {"name": name, "sha256": report.get("data_sha256") or ""}


def listing_previous(*, listing: Listing) -> Listing | None:
    """The family's version before this one that the public may see (or None)."""
    if listing.family_id is None:
        return None
    return (_public().filter(family_id=listing.family_id, version__lt=listing.version)
            .order_by("-version").first())


NODE_W, NODE_H, GAP_Y, COLUMNS = 210, 52, 16, (10, 270, 530)


def listing_lineage_graph(*, listing: Listing) -> dict:
    """The lineage as a small left-to-right graph for an inline SVG: sources (teachers, the data) on the
    left, the job in the middle, the listing on the right with the earlier version above it; node boxes
    and edges with their coordinates, and the facts they show (the page says them in words too)."""
    teachers, data, previous = listing_teachers(listing=listing), listing_data(listing=listing), listing_previous(listing=listing)
    sources = [{"kind": "teacher", "title": _short(t["name"]), "note": f"owner: {_short(t['owner'], 22)}"} for t in teachers]
    sources.append({"kind": "data", "title": _short(data["name"]),
                    "note": f"sha256 {data['sha256'][:12]}…" if data["sha256"] else "sha256 not recorded"})
    height = max(len(sources), 2) * (NODE_H + GAP_Y) + GAP_Y
    if previous is not None:  # room above the listing for the version before it
        height = max(height, 3 * (NODE_H + GAP_Y) + GAP_Y + 24)
    middle = (height - NODE_H) / 2
    nodes = [_node(source, COLUMNS[0], middle + (i - (len(sources) - 1) / 2) * (NODE_H + GAP_Y))
             for i, source in enumerate(sources)]
    job = _node({"kind": "job", "title": "distillation job", "note": f"{listing.job.backend} · {str(listing.job.job_id)[:8]}"},
                COLUMNS[1], middle)
    this = _node({"kind": "listing", "title": f"this listing, v{listing.version}", "note": _short(listing.title, 26)},
                 COLUMNS[2], middle)
    edges = [_edge(node, job) for node in nodes] + [_edge(job, this)]
    if previous is not None:
        before = _node({"kind": "version", "title": f"version {previous.version}", "note": _short(previous.title, 26)},
                       COLUMNS[2], GAP_Y)
        nodes.append(before)
        x = before["x"] + before["w"] / 2
        edges.append({"d": f"M{x:g},{before['y'] + before['h']:g} L{x:g},{this['y'] - 6:g}", "dashed": True})
    return {"width": COLUMNS[2] + NODE_W + 10, "height": height, "nodes": [*nodes, job, this], "edges": edges,
            "teachers": teachers, "data": data, "previous": previous, "design": _design(listing)}


def _short(text: str, length: int = 28) -> str:
    text = str(text)
    return text if len(text) <= length else text[:length - 1] + "…"


def _design(listing: Listing) -> str:
    """The student's design in a word or two (a zoo kind, a Transformers model type), not its whole config."""
    architecture = ((listing.job.report or {}).get("student") or {}).get("architecture")
    if isinstance(architecture, dict):
        layers = architecture.get("num_hidden_layers")
        kind = architecture.get("kind") or architecture.get("model_type") or ""
        return f"{kind}, {layers} layers" if layers else str(kind)
    return str(architecture or "")


def _node(fields: dict, x: float, y: float) -> dict:
    return {**fields, "x": x, "y": y, "w": NODE_W, "h": NODE_H, "tx": x + 12, "ty1": y + 22, "ty2": y + 40}


def _edge(source: dict, target: dict) -> dict:
    x1, y1 = source["x"] + source["w"], source["y"] + source["h"] / 2
    x2, y2 = target["x"], target["y"] + target["h"] / 2
    bend = (x1 + x2) / 2
    return {"d": f"M{x1:g},{y1:g} C{bend:g},{y1:g} {bend:g},{y2:g} {x2 - 6:g},{y2:g}",
            "dashed": source["kind"] == "version"}


# --- Versions of the family


def _figures(listing: Listing) -> dict:
    report = listing.job.report or {}
    student = report.get("student") or {}
    return {"retention": listing.retention if listing.retention is not None else report.get("retention"),
            "compression": listing.compression if listing.compression is not None else report.get("compression_ratio"),
            "latency_ms": listing.latency_ms if listing.latency_ms is not None else student.get("latency_ms_p50"),
            "size_bytes": listing.size_bytes if listing.size_bytes is not None else student.get("size_bytes")}


FIGURE_TEXT = {"retention": ("Retention", lambda v: f"{v * 100:.1f}%"), "compression": ("Smaller", lambda v: f"{v:.1f}×"),
               "latency_ms": ("Latency", lambda v: f"{v:.2f} ms"), "size_bytes": ("Size", lambda v: _bytes(v))}


def _bytes(value) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1000
    return str(value)


def listing_versions(*, listing: Listing) -> dict:
    """The family's versions the public may see (and this one), newest first, each with what changed from
    the version before it: figures, data and settings; ``latest`` is the newest public one, ``newer``
    it when it is newer than the one shown."""
    if listing.family_id is None:
        return {"versions": [], "latest": None, "newer": None}
    rows = list(Listing.objects.filter(Q(pk=listing.pk) | Q(pk__in=_public().filter(family_id=listing.family_id)))
                .filter(family_id=listing.family_id).select_related("owner", "deployment__job").order_by("version"))
    versions, before = [], None
    for row in rows:
        versions.append({"listing": row, "is_current": row.pk == listing.pk, "changes": _changes(before, row)})
        before = row
    public = [row for row in rows if listing_is_public(listing=row)]
    latest = public[-1] if public else None
    for version in versions:
        version["is_latest"] = latest is not None and version["listing"].pk == latest.pk
    newer = latest if latest is not None and latest.version > listing.version else None
    return {"versions": versions[::-1], "latest": latest, "newer": newer}


def _changes(before: Listing | None, after: Listing) -> dict | None:
    if before is None:
        return None
    old, new = _figures(before), _figures(after)
    figures = [{"name": FIGURE_TEXT[key][0], "before": FIGURE_TEXT[key][1](old[key]), "after": FIGURE_TEXT[key][1](new[key])}
               for key in FIGURE_TEXT if old[key] is not None and new[key] is not None and old[key] != new[key]]
    data_before, data_after = listing_data(listing=before), listing_data(listing=after)
    data = None if data_before == data_after else {"before": data_before, "after": data_after}
    request_before, request_after = before.job.request or {}, after.job.request or {}
    settings = [{"name": key, "before": _setting(request_before.get(key)), "after": _setting(request_after.get(key))}
                for key in COMPARED_SETTINGS if request_before.get(key) != request_after.get(key)]
    return {"figures": figures, "data": data, "settings": settings,
            "none": not (figures or data or settings)}


def _setting(value) -> str:
    if value is None:
        return "default"
    if isinstance(value, list):
        return ", ".join(str(v.get("model", v)) if isinstance(v, dict) else str(v) for v in value) or "none"
    return str(value)


# --- Ratings


def listing_rating_distribution(*, listing: Listing) -> list[dict]:
    """Ratings per star, 5 down to 1, with each count's share of all ratings (percent)."""
    counts = dict(Rating.objects.filter(listing=listing).values("stars").annotate(n=Count("pk")).values_list("stars", "n"))
    total = sum(counts.values())
    return [{"stars": stars, "count": counts.get(stars, 0),
             "percent": round(100 * counts.get(stars, 0) / total) if total else 0} for stars in range(5, 0, -1)]


def listing_rating_state(*, listing: Listing, user) -> dict:
    """Which rating form or note a person sees: ``visitor`` (log in), ``owner`` (a creator cannot rate
    their own model), ``not_bought`` (buyers and renters only), ``rate`` or ``edit`` (their own rating)."""
    if not user.is_authenticated:
        return {"state": "visitor", "own": None}
    if listing.owner_id == user.pk:
        return {"state": "owner", "own": None}
    own = Rating.objects.filter(listing=listing, rater=user).first()
    if own is not None:
        return {"state": "edit", "own": own}
    if Purchase.objects.filter(listing=listing, buyer=user).exists():
        return {"state": "rate", "own": None}
    return {"state": "not_bought", "own": None}


# --- Similar models and cheaper ones of similar quality

CANDIDATES = 100  # the closest are ranked in Python among this many of the category, closest in retention first
RANKED_FIELDS = ("pk", "retention", "latency_ms", "size_bytes", "created_at")


def _others(listing: Listing):
    """Public listings of its category, another family's, each the latest public version of its family
    (what search shows)."""
    others = public_latest_versions().filter(category=listing.category).exclude(pk=listing.pk)
    if listing.family_id is not None:
        others = others.exclude(family_id=listing.family_id)
    return others


def _distance(listing: Listing, other: Listing) -> float:
    """Retention in tenths (0.1 apart counts 1), latency and size by their ratio (twice as slow counts 1)."""
    total = 0.0
    if listing.retention is not None and other.retention is not None:
        total += abs(listing.retention - other.retention) / 0.1
    else:
        total += 1
    for field in ("latency_ms", "size_bytes"):
        mine, theirs = getattr(listing, field), getattr(other, field)
        total += abs(math.log2(theirs / mine)) if mine and theirs else 1
    return total


def listing_similar(listing: Listing, limit: int = 4) -> list[Listing]:
    """Public active listings of the same category, not of its family, closest in retention, latency and size."""
    if not listing.category:
        return []
    rows = _others(listing).only(*RANKED_FIELDS).order_by("-created_at")
    if listing.retention is not None:  # the candidates: the closest in retention, ranked below by all three
        rows = rows.annotate(gap=Abs(F("retention") - listing.retention)).order_by(F("gap").asc(nulls_last=True), "-created_at")
    closest = sorted(rows[:CANDIDATES], key=lambda other: (_distance(listing, other), -other.created_at.timestamp()))[:limit]
    shown = {row.pk: row for row in _search_annotated(Listing.objects.filter(pk__in=[row.pk for row in closest]))}
    return [shown[row.pk] for row in closest]


def _price(listing: Listing) -> tuple[str, int] | None:
    if listing.price_buy:
        return "price_buy", listing.price_buy
    return ("price_rent", listing.price_rent) if listing.price_rent else None


def listing_cheaper(listing: Listing, limit: int = 3) -> list[Listing]:
    """Public active listings of the same category at a lower price (buy against buy, else rent against
    rent) whose retention is within 2 percentage points of this one's or better; cheapest first."""
    price = _price(listing)
    if not listing.category or listing.retention is None or price is None:
        return []
    field, amount = price
    rows = _others(listing).filter(retention__gte=listing.retention - 0.02, **{f"{field}__lt": amount})
    return list(_search_annotated(rows).order_by(field, "-retention", "-created_at")[:limit])
