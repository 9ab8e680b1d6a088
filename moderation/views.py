"""The moderation console (/moderation/, moderators only): the three queues with a decision form on
each item, the audit log with its filters and CSV export, and suspending or reinstating accounts and
listings. Every decision goes through ``services`` (which calls the owning app's service, writes the
audit log and tells the affected person)."""

from __future__ import annotations

import csv
from urllib.parse import urlencode
from dataclasses import dataclass
from functools import wraps
from typing import Callable

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from accounts.selectors import user_is_moderator
from core import clock
from core.views import domain_errors_shown
from marketplace.models import Listing
from safety import selectors as safety_selectors

from . import selectors, services
from .forms import AuditFilterForm, DecisionForm, LookupForm, ReasonForm

QUEUE_LIMIT = 50
DONE = {"suspend": "suspended", "reinstate": "reinstated"}
AUDIT_PAGE = 50


def moderator_required(view):
    """Signed in (else to the login page) and a moderator (else 403)."""

    @login_required
    @wraps(view)
    def guarded(request, *args, **kwargs):
        if not user_is_moderator(user=request.user):
            raise PermissionDenied("Only moderators may use the moderation console.")
        return view(request, *args, **kwargs)

    return guarded


@dataclass(frozen=True)
class Queue:
    name: str  # jobs, uploads, reports: ids and counts
    slug: str  # in the URL
    title: str
    intro: str
    items: Callable
    choices: list
    item_template: str
    decide: Callable  # (item, moderator, decision, reason)


def _decide_job(report, moderator, decision, reason):
    services.tripped_job_decide(report=report, moderator=moderator, decision=decision, reason=reason)


def _decide_upload(flagged, moderator, decision, reason):
    services.flagged_upload_decide(flagged=flagged, moderator=moderator, decision=decision, reason=reason)


def _decide_listing(listing, moderator, decision, reason):
    services.reported_listing_decide(listing=listing, moderator=moderator, decision=decision, reason=reason)


QUEUES = {queue.slug: queue for queue in [
    Queue(name="jobs", slug="tripped-jobs", title="Tripped jobs",
          intro="Jobs whose safety circuit breaker tripped: the failed checks with their scores and thresholds. "
                "Approving lets the model be deployed and listed.",
          items=safety_selectors.tripped_jobs_queue, item_template="moderation/_job_item.html", decide=_decide_job,
          choices=[("approve", "Approve for deploy"), ("reject", "Reject"), ("suspend_owner", "Suspend the owner")]),
    Queue(name="uploads", slug="flagged-uploads", title="Flagged uploads",
          intro="Uploads refused because the pickle scan found a forbidden import. Nothing of the file is kept but "
                "its name and checksum.",
          items=safety_selectors.flagged_uploads_queue, item_template="moderation/_upload_item.html",
          decide=_decide_upload, choices=[("approve", "Approve: a false alarm"), ("reject", "Reject: a confirmed attack"),
                                          ("suspend_owner", "Suspend the uploader")]),
    Queue(name="reports", slug="reported-listings", title="Reported listings",
          intro="Listings people reported, each with every open report and its reason. A decision applies to all of "
                "a listing's open reports.",
          items=selectors.reported_listings_queue, item_template="moderation/_listing_item.html",
          decide=_decide_listing, choices=[("dismiss", "Dismiss the reports"), ("suspend_listing", "Suspend the listing"),
                                           ("suspend_owner", "Suspend the owner")]),
]}


def _queue_or_404(name: str) -> Queue:
    if name not in QUEUES:
        raise Http404("No such queue.")
    return QUEUES[name]


def _console(request, template: str, context: dict, status: int = 200):
    context = {"queue_sizes": context.get("queue_sizes") or selectors.queue_sizes(), **context}
    return render(request, template, context, status=status)


@moderator_required
@require_GET
def console_page(request):
    sizes = selectors.queue_sizes()
    return _console(request, "moderation/console.html", {
        "queue_sizes": sizes, "queues": [(queue, sizes[queue.name]) for queue in QUEUES.values()]})


@moderator_required
@require_GET
def queue_page(request, queue):
    return _queue_response(request, _queue_or_404(queue))


def _queue_response(request, queue: Queue, *, bound: DecisionForm | None = None, bound_pk=None, status: int = 200):
    items = list(queue.items()[:QUEUE_LIMIT])
    for item in items:
        item.decision_form = (bound if bound is not None and item.pk == bound_pk
                              else DecisionForm(choices=queue.choices, item_key=item.pk))
    return _console(request, "moderation/queue.html", {"queue": queue, "items": items}, status=status)


@moderator_required
@require_POST
def decide_page(request, queue, pk):
    queue = _queue_or_404(queue)
    item = queue.items().filter(pk=pk).first()
    if item is None:
        messages.info(request, "That item was already decided, or is gone.")
        return redirect("moderation:queue", queue=queue.slug)
    form = DecisionForm(request.POST, choices=queue.choices, item_key=item.pk)
    if not form.is_valid():
        return _queue_response(request, queue, bound=form, bound_pk=item.pk, status=400)
    with domain_errors_shown(request, form=form) as shown:
        queue.decide(item, request.user, form.cleaned_data["decision"], form.cleaned_data["reason"])
    if shown.error is not None:
        return _queue_response(request, queue, bound=form, bound_pk=item.pk, status=shown.error.status_code)
    label = dict(queue.choices)[form.cleaned_data["decision"]]
    messages.success(request, f"{label}: done, and the affected person was told.")
    return redirect("moderation:queue", queue=queue.slug)


# --- The audit log


@moderator_required
@require_GET
def audit_page(request):
    form = AuditFilterForm(request.GET)
    actions = safety_selectors.moderation_actions_filtered(**form.filters())
    page = Paginator(actions, AUDIT_PAGE).get_page(request.GET.get("page"))
    for action in page:
        action.subject_kind, action.subject = selectors.audit_subject(action, short=True)
    query = request.GET.copy()
    query.pop("page", None)
    return _console(request, "moderation/audit.html", {"form": form, "page": page, "query": query.urlencode()})


class _Echo:
    def write(self, value):
        return value


@moderator_required
@require_GET
def audit_csv(request):
    actions = safety_selectors.moderation_actions_filtered(**AuditFilterForm(request.GET).filters())
    writer = csv.writer(_Echo())
    response = StreamingHttpResponse((writer.writerow(row) for row in selectors.audit_csv_rows(actions)),
                                     content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="moderation-audit-{clock.now():%Y%m%d-%H%M}.csv"'
    return response


# --- Accounts and listings


@moderator_required
@require_GET
def users_page(request):
    lookup = LookupForm(request.GET)
    q = lookup.cleaned_data["q"] if lookup.is_valid() else ""
    found = selectors.user_by_username(q)
    rows = ([found] if found else []) + [user for user in selectors.suspended_users() if user != found]
    for user in rows:
        user.reason_form = ReasonForm(item_key=f"user{user.pk}")
    return _console(request, "moderation/users.html", {"lookup": lookup, "q": q, "found": found, "rows": rows})


@moderator_required
@require_POST
def user_suspension_page(request, pk, action):
    user = get_user_model().objects.filter(pk=pk).first()
    if user is None:
        raise Http404("No such account.")
    _suspension_set(request, item_key=f"user{user.pk}", about=user.username, named=user.username, told="told why",
                    apply=lambda reason: services.user_suspension_set(user=user, moderator=request.user, reason=reason,
                                                                      suspend=action == "suspend"), action=action)
    return redirect(f"{reverse('moderation:users')}?{urlencode({'q': user.username})}")


def _suspension_set(request, *, item_key: str, about: str, named: str, told: str, apply, action: str) -> None:
    """Suspend or reinstate an account or a listing (``apply(reason)``), with the reason the form requires;
    the outcome (``named`` as the messages name it), or the refusal, is a message on the page."""
    form = ReasonForm(request.POST, item_key=item_key)
    with domain_errors_shown(request, about=about):
        if form.is_valid():
            apply(form.cleaned_data["reason"])
            messages.success(request, f"{named}: {DONE[action]}, and {told}.")
        else:
            messages.error(request, f"{named}: a reason is required.")


@moderator_required
@require_GET
def listings_page(request):
    lookup = LookupForm(request.GET)
    q = lookup.cleaned_data["q"] if lookup.is_valid() else ""
    rows = list(selectors.listings_for_moderation(q=q))
    for listing in rows:
        listing.reason_form = ReasonForm(item_key=f"listing{listing.pk}")
    return _console(request, "moderation/listings.html", {"lookup": lookup, "q": q, "rows": rows})


@moderator_required
@require_POST
def listing_suspension_page(request, listing_id, action):
    listing = Listing.objects.filter(listing_id=listing_id).first()
    if listing is None:
        raise Http404("No such listing.")
    _suspension_set(request, item_key=f"listing{listing.pk}", about=listing.title, named=f"“{listing.title}”",
                    told="its owner told why",
                    apply=lambda reason: services.listing_suspension_set(listing=listing, moderator=request.user,
                                                                         reason=reason, suspend=action == "suspend"),
                    action=action)
    return redirect(f"{reverse('moderation:listings')}?q={listing.listing_id}")
