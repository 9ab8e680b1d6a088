"""The wizard's draft: the DistillationRequest a person is building, kept in their session so that
back, forward and a reload lose nothing, and checked by ``DistillationRequest`` itself (the same
validation as the API, the SDK and the CLI), each error sent to the step that owns its field."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError

from prsm.request import DistillationRequest, request_errors

SESSION_KEY = "distill_draft"


@dataclass(frozen=True)
class Step:
    slug: str
    title: str
    fields: tuple[str, ...]


STEPS = (
    Step("teacher", "Teacher", ("teacher_model", "ensemble_teachers", "fusion_strategy", "knowledge_alignment",
                                "teacher_models", "source_model", "adaptation_strategy")),
    Step("data", "Data", ("dataset", "target_domain", "domain_corpus")),
    Step("goal", "Goal", ("target_size", "optimization_target", "domain", "target_architecture", "layer_count",
                          "hidden_size", "attention_heads", "epochs", "training_strategy", "augmentation_techniques",
                          "adversarial_epsilon", "export_formats",
                          "backend", "target_hardware", "max_inference_latency", "max_memory_usage", "quality_threshold",
                          "seed", "search", "search_seconds", "temperature", "alpha", "unlabelled_data", "max_unlabelled_examples",
                          "text_variants", "vocabulary_size", "student_base", "base_model", "update_strategy",
                          "preserve_existing_knowledge", "new_knowledge_domains", "specialty_requirements")),
    Step("budget", "Budget", ("budget_ftns",)),
    Step("review", "Review", ()),
)
STEP_SLUGS = tuple(step.slug for step in STEPS)
# Any field no step asks for (a request prefilled from an API job) is reviewed with the goal's advanced options.
FALLBACK_STEP = "goal"


def step_named(slug: str) -> Step | None:
    return next((step for step in STEPS if step.slug == slug), None)


def step_after(step: Step) -> Step:
    return STEPS[min(STEP_SLUGS.index(step.slug) + 1, len(STEPS) - 1)]


def step_before(step: Step) -> Step:
    return STEPS[max(STEP_SLUGS.index(step.slug) - 1, 0)]


def step_of_field(field: str | None) -> str:
    name = (field or "").split(".")[0].split("[")[0]
    return next((step.slug for step in STEPS if name in step.fields), FALLBACK_STEP if name else STEPS[0].slug)


def draft_get(session) -> dict:
    draft = session.get(SESSION_KEY)
    return dict(draft) if isinstance(draft, dict) else {}


def draft_put(session, draft: dict) -> None:
    session[SESSION_KEY] = {name: value for name, value in draft.items() if value not in (None, "", [])}


def draft_merge(draft: dict, step: Step, values: dict) -> dict:
    """The draft with this step's fields replaced by ``values`` (a field left empty is dropped, so
    the request's default applies)."""
    merged = {name: value for name, value in draft.items() if name not in step.fields}
    merged.update({name: value for name, value in values.items() if value not in (None, "", [])})
    return merged


def draft_errors(draft: dict) -> list[dict]:
    """What ``DistillationRequest`` says of the draft: ``[{"field", "message", "step"}]``, [] when valid."""
    try:
        DistillationRequest.model_validate(draft)
    except ValidationError as exc:
        return [{**error, "step": step_of_field(error["field"])} for error in request_errors(exc)]
    return []


def draft_request(draft: dict) -> DistillationRequest:
    return DistillationRequest.model_validate(draft)


def first_incomplete_step(draft: dict) -> Step:
    """Where a person returning to the wizard goes on: the first step with an error, else review."""
    errors = draft_errors(draft)
    if not errors:
        return STEPS[-1]
    return step_named(min((error["step"] for error in errors), key=STEP_SLUGS.index))


def draft_from_request(request_json: dict) -> dict:
    """A finished job's request as a draft ("run again with changes"): only what differs from the defaults."""
    defaults = DistillationRequest.model_fields
    return {name: value for name, value in request_json.items()
            if name in defaults and value != defaults[name].get_default(call_default_factory=True)}
