"""The catalogue facts a listing copies from its job when listed: task, data, teachers (its lineage, which
decides its family), verified export formats and the search document. Pure functions over the job's
request, estimate and report (plain dicts), so migration 0004 backfills with the same code."""

from __future__ import annotations

from .categories import TASKS, category_label

SEARCH_DOCUMENT_MAX_CHARS = 20_000


def job_task(*, request: dict, report: dict | None, estimate: dict | None) -> str:
    """text, image or tabular: the report's, else the catalog teacher's (planning records none), else ''."""
    task = (report or {}).get("task") or (request or {}).get("task") or ""
    if task not in TASKS:
        task = _catalog_task((estimate or {}).get("teacher") or (request or {}).get("teacher_model") or "")
    return task


def _catalog_task(teacher: str) -> str:
    from prsm.engine.catalog import ENTRIES

    entry = ENTRIES.get(str(teacher).removeprefix("catalog:"))
    return entry.task if entry else ""


def job_data_ref(*, request: dict, estimate: dict | None) -> str:
    """The data the job trained on: the request's ``dataset``, else the one planning chose (a catalog
    teacher's own), else the catalog teacher's."""
    ref = (request or {}).get("dataset") or (estimate or {}).get("dataset")
    if ref:
        return str(ref)
    from prsm.engine.catalog import ENTRIES

    entry = ENTRIES.get(str((request or {}).get("teacher_model") or "").removeprefix("catalog:"))
    return entry.dataset if entry else ""


def job_teachers(request: dict) -> tuple[str, ...]:
    """The teachers, sorted: an ensemble's ``teacher_models``, or ``teacher_model`` with any
    ``ensemble_teachers`` listed beside it, or an adaptation's ``source_model``."""
    request = request or {}
    teachers = [str(t.get("model") if isinstance(t, dict) else t) for t in request.get("teacher_models") or []]
    listed = request.get("ensemble_teachers")
    teachers = teachers or [str(request.get("teacher_model") or request.get("source_model") or "")] + (
        [str(t) for t in listed] if isinstance(listed, list) else [])
    return tuple(sorted(t for t in teachers if t))


def lineage_key(*, request: dict, task: str) -> tuple:
    """What makes two of an owner's jobs versions of one model: the same teachers for the same task and
    domain (the data may change from one version to the next; the purpose does not). "Run again with
    changes" only prefills the wizard, so a re-run is recognised by this; an incremental update
    (base_model) joins its base model's family whatever its teachers (services._family_and_version)."""
    return (job_teachers(request), task, str(request.get("domain") or "").strip().lower())


def export_formats_field(formats) -> str:
    """``",onnx,pytorch,"``: sorted, comma-delimited with a comma at each end, so a format is found with
    ``__contains=",onnx,"``; '' for none."""
    names = sorted({str(f) for f in formats if f})
    return f",{','.join(names)}," if names else ""


def export_formats_list(field: str) -> list[str]:
    return [name for name in (field or "").split(",") if name]


def search_document_text(*, title: str, description: str, category: str, domain: str, model_card: str | None) -> str:
    """The text search reads: title, description, category label, domain and the model card."""
    parts = [title, description, category_label(category) if category else "", domain, model_card or ""]
    return "\n".join(part.strip() for part in parts if part and part.strip())[:SEARCH_DOCUMENT_MAX_CHARS]
