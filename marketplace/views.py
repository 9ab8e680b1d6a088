"""The marketplace's pages: deploy and list from the job page (my deployed models, /models/, are serving.pages).

Deploying lives here, as the API's deploy route does: with the request's ``marketplace_listing`` it
also lists the model (``services.job_deploy_and_list``), which only this app may compose."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from core.views import domain_errors_shown
from distillation.views import DeployForm, ListingForm, job_page_response, visible_job_or_404
from ledger.amounts import to_units

from . import services
from .models import Listing


@login_required
@require_POST
def job_deploy_page(request, job_id):
    job = visible_job_or_404(request, job_id)
    form = DeployForm(request.POST, job=job)
    if not form.is_valid():
        return job_page_response(request, job, deploy_form=form, status=400)
    with domain_errors_shown(request, form=form) as shown:
        deployed = services.job_deploy_and_list(job=job, export_format=form.cleaned_data["export_format"] or None)
    if shown.error is not None:
        return job_page_response(request, job, deploy_form=form, status=shown.error.status_code)
    messages.success(request, f"Deployed as model {deployed.model_id} ({deployed.export_format}).")
    return redirect("distillation:job", job_id=job.job_id)


@login_required
@require_POST
def job_list_page(request, job_id):
    job = visible_job_or_404(request, job_id)
    form = ListingForm(request.POST)
    if not form.is_valid():
        return job_page_response(request, job, listing_form=form, status=400)
    with domain_errors_shown(request, form=form) as shown:
        listing = _deploy_and_list(job, owner=request.user, data=form.cleaned_data)
    if shown.error is not None:
        return job_page_response(request, job, listing_form=form, status=shown.error.status_code)
    messages.success(request, f"Listed on the marketplace as “{listing.title}”.")
    return redirect("distillation:job", job_id=job.job_id)


@transaction.atomic
def _deploy_and_list(job, *, owner, data: dict) -> Listing:
    """Deploy (once) and list at the form's terms; neither stays when the listing is refused. A listing
    the request's ``marketplace_listing`` made at deploy takes the form's terms instead."""
    deployment = services.job_deploy_and_list(job=job)
    terms = {"title": data["title"], "description": data["description"],
             "price_buy": _units(data["price_buy"]), "price_rent": _units(data["price_rent"]),
             "rent_period_days": data["rent_period_days"],
             "price_per_1k_predictions": _units(data.get("price_per_1k_predictions")) or 0}
    existing = Listing.objects.filter(deployment=deployment).first()
    if existing is not None:
        return services.listing_update(listing=existing, user=owner, **{k: v for k, v in terms.items() if k != "title" or v})
    return services.listing_create(owner=owner, deployment=deployment, **terms)


def _units(ftns):
    return None if ftns is None else to_units(ftns)
