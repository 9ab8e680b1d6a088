"""Reads for serving: who may call a deployed model and how, what a model serves, usage figures."""

from __future__ import annotations

from datetime import datetime, time as day_time, timedelta
from pathlib import Path

from django.conf import settings
from django.db.models import Count, F, Sum

from core import clock
from distillation.models import DeployedModel, DistillationJob
from marketplace.models import Listing
from marketplace.selectors import purchase_current

from .models import Prediction


# The job's JSON fields a predict call never reads (the report is read once per model: ``served_task``).
HEAVY_JOB_FIELDS = ("job__report", "job__request", "job__engine_config", "job__estimate", "job__error")


def deployment_for(*, model_id, light: bool = False) -> DeployedModel | None:
    """The deployment with its job, owner, served export and listing; ``light`` leaves out the job's large
    JSON fields (the predict path: parsing a report on every call costs milliseconds)."""
    deployments = DeployedModel.objects.select_related("job", "job__owner", "serving_artifact", "listing")
    if light:
        deployments = deployments.defer(*HEAVY_JOB_FIELDS)
    return deployments.filter(model_id=model_id).first()


def deployment_listing(deployment: DeployedModel) -> Listing | None:
    try:
        return deployment.listing
    except Listing.DoesNotExist:
        return None


def predict_access(*, user, deployment: DeployedModel, trial: bool = False) -> str | None:
    """Why ``user`` may call the model: ``owner``; ``buyer`` or ``renter`` (until the rent ends) of its
    listing, unless a moderator has suspended the listing; ``trial`` ("try it" in the browser on an active
    listing the user has not bought, within the daily free quota, checked by the service); or None."""
    if not user.is_authenticated:
        return None
    if deployment.job.owner_id == user.pk:
        return "owner"
    listing = deployment_listing(deployment)
    if listing is None or listing.status == Listing.Status.SUSPENDED:
        return None
    purchase = purchase_current(listing=listing, user=user)
    if purchase is not None:
        return "renter" if purchase.expires_at is not None else "buyer"
    if trial and listing.status == Listing.Status.ACTIVE:
        return "trial"
    return None


def deployment_visible_to(*, user, deployment: DeployedModel) -> bool:
    """The model exists for this user (else 404): its owner, or anyone while it is listed and not suspended."""
    if user.is_authenticated and deployment.job.owner_id == user.pk:
        return True
    listing = deployment_listing(deployment)
    return listing is not None and listing.status != Listing.Status.SUSPENDED


def served_path(deployment: DeployedModel) -> Path | None:
    """The absolute path of the export the pool runs, or None (no ONNX export, or its path leaves MEDIA_ROOT)."""
    artifact = deployment.serving_artifact
    if artifact is None:
        return None
    root = Path(settings.MEDIA_ROOT).resolve()
    path = (root / artifact.path).resolve()
    return path if root in path.parents else None


_TASKS: dict[int, str] = {}  # deployment pk -> task: a completed job's report never changes


def served_task(deployment: DeployedModel) -> str:
    """text, image or tabular, from the job's report (read once per model and process)."""
    if deployment.pk not in _TASKS:
        job = deployment.job
        report = job.report if "report" in job.__dict__ else DistillationJob.objects.values_list(
            "report", flat=True).get(pk=job.pk)
        if len(_TASKS) > 10_000:
            _TASKS.clear()
        _TASKS[deployment.pk] = (report or {}).get("task", "")
    return _TASKS[deployment.pk]


def model_version(deployment: DeployedModel) -> str:
    """The served export's identity: its format and the start of its sha256 (a retrained model is a new one)."""
    artifact = deployment.serving_artifact
    return f"{artifact.format}:{artifact.sha256[:12]}" if artifact is not None else ""


def trials_today(*, user) -> int:
    """The user's "try it" predictions today (UTC) on models they do not own."""
    start = datetime.combine(clock.now().date(), day_time.min, tzinfo=clock.now().tzinfo)
    return (Prediction.objects.filter(caller=user, access="trial", created_at__gte=start)
            .aggregate(n=Sum("inputs"))["n"] or 0)


def usage_of(*, deployment: DeployedModel, days: int = 30) -> dict:
    """Predictions of the model over the last ``days``: calls, inputs, callers."""
    since = clock.now() - timedelta(days=days)
    rows = Prediction.objects.filter(deployment=deployment, created_at__gte=since)
    figures = rows.aggregate(calls=Count("id"), inputs=Sum("inputs"), callers=Count("caller", distinct=True))
    return {"calls": figures["calls"], "inputs": figures["inputs"] or 0, "callers": figures["callers"]}


def deployments_of(*, user):
    """The user's deployed models (live first), newest first."""
    return (DeployedModel.objects.filter(job__owner=user).select_related("job", "artifact", "serving_artifact")
            .order_by(F("undeployed_at").asc(nulls_first=True), "-created_at"))
