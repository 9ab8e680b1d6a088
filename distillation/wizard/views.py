"""The wizard's pages: one step per page, the draft in the session (drafts.py), the same services as
the API (planning's estimate, the upload services, ``distillation_job_create``)."""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from core.errors import DomainError
from core.views import show_domain_error
from prsm.request import DistillationRequest

from .. import selectors, services
from ..uploads import UploadError, teacher_of
from . import choices, snippets
from .drafts import (STEPS, draft_errors, draft_from_request, draft_get, draft_merge, draft_put, draft_request,
                     first_incomplete_step, step_after, step_before, step_named, step_of_field)
from .forms import BudgetForm, DataForm, GoalForm, TeacherForm, UploadForm

ERRORS_KEY = "distill_errors"  # a refusal at submit, shown on the step its field belongs to


@login_required
def distill(request):
    """Start or go on: ``?from=JOB`` prefills from a job ("run again with changes"), ``?new=1`` starts over."""
    if job_id := request.GET.get("from"):
        job = selectors.job_visible_to(user=request.user, job_id=job_id) if _is_uuid(job_id) else None
        if job is None:
            raise Http404("No such job.")
        draft_put(request.session, draft_from_request(job.request))
        messages.info(request, "The wizard holds that job's request: change what you like and submit it again.")
        return redirect("wizard:step", "goal")
    if request.GET.get("new"):
        draft_put(request.session, {})
        return redirect("wizard:step", STEPS[0].slug)
    draft = draft_get(request.session)
    return redirect("wizard:step", first_incomplete_step(draft).slug if draft else STEPS[0].slug)


@login_required
def step(request, slug):
    current = step_named(slug)
    if current is None:
        raise Http404("No such step.")
    draft = draft_get(request.session)
    if current.slug == "review":
        return _review(request, draft)
    form = _form(current.slug, request, draft, data=request.POST if request.method == "POST" else None)
    if request.method == "POST":
        going_back = request.POST.get("go") == "back"
        if form.is_valid():
            draft = draft_merge(draft, current, _values(form))
            errors = draft_errors(draft) or _planning_errors(request, current, draft)
            errors = [e for e in errors if e["step"] == current.slug]
            if not errors or going_back:
                draft_put(request.session, draft)
                return redirect("wizard:step", (step_before(current) if going_back else step_after(current)).slug)
            _attach(form, errors)
        elif going_back:
            return redirect("wizard:step", step_before(current).slug)
    else:
        _attach(form, [e for e in request.session.pop(ERRORS_KEY, []) if e.get("step") == current.slug])
    context = {"step": current, "steps": STEPS, "form": form, "draft": draft, **_step_context(request, current.slug, draft, form)}
    status = 400 if request.method == "POST" else 200
    return render(request, f"distillation/wizard/{current.slug}.html", context, status=status)


def _form(slug: str, request, draft: dict, data=None):
    user = request.user
    if slug == "teacher":
        return TeacherForm(data, cards=choices.teacher_cards(user=user), adaptable=choices.update_choices(user=user),
                           initial=draft)
    if slug == "data":
        own = choices.teacher_default_data(draft.get("teacher_model"))
        return DataForm(data, choices=choices.data_choices(user=user), own_data=own, initial=draft,
                        adapting=bool(draft.get("source_model")))
    if slug == "goal":
        defaults = {name: field.initial for name, field in GoalForm.base_fields.items() if field.initial is not None}
        initial = {**defaults, **draft}
        return GoalForm(data, initial=initial, transfer_sets=choices.data_choices(user=user),
                        updatable=choices.update_choices(user=user))
    return BudgetForm(data, initial={"budget_ftns": draft.get("budget_ftns", DistillationRequest.model_fields["budget_ftns"].default)})


def _values(form) -> dict:
    return form.values() if hasattr(form, "values") else dict(form.cleaned_data)


def _planning_errors(request, current, draft: dict) -> list[dict]:
    """The planner's refusals (an unknown or unbuilt teacher, data of the wrong kind, a backend or
    target that cannot serve the teacher, a budget under the estimate) for the step just sent;
    ``draft`` is a valid request."""
    if current.slug not in ("teacher", "data", "goal", "budget"):
        return []
    estimate = choices.estimate_for(user=request.user, request=draft_request(draft))
    if "error" in estimate:
        field = estimate.get("field") or "teacher_model"
        return [{"field": field, "message": estimate["error"], "step": step_of_field(field)}]
    if current.slug == "budget" and not estimate["within_budget"]:
        return [{"field": "budget_ftns", "step": "budget",
                 "message": f"The estimate is {estimate['cost_ftns']} FTNS, over this budget: "
                            f"give at least {estimate['needed_ftns']} FTNS."}]
    return []


def _attach(form, errors: list[dict]) -> None:
    if not hasattr(form, "cleaned_data"):
        form.cleaned_data = {}
    for error in errors:
        field = (error.get("field") or "").split(".")[0].split("[")[0]
        form.add_error(field if field in form.fields else None, error["message"])


def _step_context(request, slug: str, draft: dict, form) -> dict:
    user = request.user
    if slug == "teacher":
        return {"cards": form.cards, "upload_form": UploadForm(prefix="teacher")}
    if slug == "data":
        chosen = draft.get("dataset") or choices.teacher_default_data(draft.get("teacher_model"))
        return {"data_choices": form.data_choices, "upload_form": UploadForm(prefix="data"),
                "own_data": choices.teacher_default_data(draft.get("teacher_model")), "chosen_data": chosen,
                "preview": choices.data_preview_of(user=user, ref=chosen) if chosen else None}
    if slug == "goal":
        card = next((c for c in choices.teacher_cards(user=user) if c.ref == draft.get("teacher_model")), None)
        return {"card": card, "predictions": choices.size_predictions(
                    user=user, teacher_ref=card.ref if card else None, teacher_params=card.params if card else None,
                    search=draft.get("search")),
                "size_sentences": choices.SIZE_SENTENCES, "target_sentences": choices.TARGET_SENTENCES}
    budget = form.data.get("budget_ftns") if form.is_bound else draft.get("budget_ftns")
    return {"estimate": _estimate(request, draft, budget)}


def _estimate(request, draft: dict, budget) -> dict:
    candidate = {**draft, **({"budget_ftns": budget} if budget not in (None, "") else {})}
    errors = draft_errors(candidate)
    if errors:
        return {"error": errors[0]["message"], "field": errors[0]["field"]}
    return choices.estimate_for(user=request.user, request=draft_request(candidate))


@login_required
@require_POST
def estimate(request):
    """The budget step's live estimate (htmx swaps it in as the budget changes)."""
    draft = draft_get(request.session)
    return render(request, "distillation/wizard/_estimate.html",
                  {"estimate": _estimate(request, draft, request.POST.get("budget_ftns"))})


@login_required
def teacher_card(request, teacher_id):
    """One uploaded teacher's card, for the teacher step to refresh while a worker checks it."""
    teacher = teacher_of(user=request.user, public_id=teacher_id)
    if teacher is None:
        raise Http404("No such teacher.")
    draft = draft_get(request.session)
    return render(request, "distillation/wizard/_teacher_card.html", {
        "card": choices.uploaded_teacher_card(teacher),
        "checked": request.GET.get("checked") == "1" or draft.get("teacher_model") == str(teacher.public_id)})


@login_required
def preview(request):
    """The data step's preview of one data set (htmx swaps it in when the choice changes)."""
    draft = draft_get(request.session)
    ref = request.GET.get("dataset") or choices.teacher_default_data(draft.get("teacher_model"))
    return render(request, "distillation/wizard/_preview.html",
                  {"preview": choices.data_preview_of(user=request.user, ref=ref) if ref else None, "chosen_data": ref})


def _review(request, draft: dict):
    errors = draft_errors(draft)
    estimate = None if errors else choices.estimate_for(user=request.user, request=draft_request(draft))
    if estimate and "error" in estimate:
        errors = [{"field": estimate.get("field"), "message": estimate["error"], "step": step_of_field(estimate.get("field"))}]
    return render(request, "distillation/wizard/review.html", {
        "step": STEPS[-1], "steps": STEPS, "draft": draft, "errors": errors, "estimate": estimate,
        "request_json": json.dumps(draft, indent=2), "snippets": snippets.snippets(draft, base_url=request.build_absolute_uri("/").rstrip("/")),
    })


@login_required
@require_POST
def submit(request):
    draft = draft_get(request.session)
    errors = draft_errors(draft)
    if errors:
        request.session[ERRORS_KEY] = errors
        return redirect("wizard:step", errors[0]["step"])
    try:
        job = services.distillation_job_create(owner=request.user, request=draft_request(draft))
    except DomainError as error:
        field = error.field or "teacher_model"
        request.session[ERRORS_KEY] = [{"field": field, "message": error.message, "step": step_of_field(field)}]
        return redirect("wizard:step", step_of_field(field))
    draft_put(request.session, {})
    messages.success(request, "Your distillation is queued. This page follows it live.")
    return redirect("distillation:job", job.job_id)


@login_required
@require_POST
def upload(request, kind):
    """A teacher or data set upload from the wizard: stored and checked by the same services as the
    API; the new upload becomes the draft's choice. Answers JSON to the page's upload script."""
    if kind not in ("teacher", "data"):
        raise Http404("No such upload.")
    form = UploadForm(request.POST, request.FILES, prefix=kind)
    wants_json = "application/json" in request.headers.get("Accept", "")
    target = reverse("wizard:step", args=[kind])
    if not form.is_valid():
        return _upload_refused(request, wants_json, target, "; ".join(e for errs in form.errors.values() for e in errs))
    try:
        if kind == "teacher":
            upload_row = services.teacher_upload_create(owner=request.user, file=form.cleaned_data["file"],
                                                        name=form.cleaned_data["name"])
            field = "teacher_model"
        else:
            upload_row = services.dataset_upload_create(owner=request.user, file=form.cleaned_data["file"],
                                                        name=form.cleaned_data["name"])
            field = "dataset"
    except (UploadError, DomainError) as error:
        return _upload_refused(request, wants_json, target, error.message)
    draft = draft_get(request.session)
    draft[field] = str(upload_row.public_id)
    draft_put(request.session, draft)
    messages.success(request, f"Received {upload_row.name}: {upload_row.status}."
                     + (" A worker is checking and analysing it; its card says when it is ready." if kind == "teacher" else ""))
    return JsonResponse({"redirect": target}) if wants_json else HttpResponseRedirect(target)


def _upload_refused(request, wants_json: bool, target: str, message: str):
    if wants_json:
        return JsonResponse({"error": {"message": message}}, status=400)
    show_domain_error(request, DomainError(message), about="The upload was refused")
    return HttpResponseRedirect(target)


def _is_uuid(text: str) -> bool:
    import uuid

    try:
        uuid.UUID(str(text))
    except ValueError:
        return False
    return True
