import uuid

from django.db.models import Q

from .models import FlaggedUpload, ModerationAction, SafetyReport


def safety_report_visible_to(*, user, job_id) -> SafetyReport | None:
    """The job's safety report when ``user`` owns the job or is staff; None otherwise (404 either way)."""
    if user is None or not user.is_authenticated:
        return None
    reports = SafetyReport.objects.select_related("job")
    if not user.is_staff:
        reports = reports.filter(job__owner=user)
    return reports.filter(job__job_id=job_id).first()


def job_deploy_refusal(*, job) -> str | None:
    """Why deploy and listing must wait (a tripped or rejected breaker), or None."""
    report = SafetyReport.objects.filter(job=job).first()
    if report is None or not report.blocks_deploy:
        return None
    if report.breaker_state == SafetyReport.Breaker.REJECTED:
        return f"A moderator rejected this model: {report.decision_reason}"
    return f"The safety circuit breaker tripped ({report.reason}); a moderator must approve the model first."


def review_queue():
    return SafetyReport.objects.filter(breaker_state=SafetyReport.Breaker.TRIPPED).select_related("job", "job__owner")


def tripped_jobs_queue():
    """Tripped breakers waiting for a moderator, oldest first."""
    return review_queue().order_by("created_at", "pk")


def flagged_uploads_queue():
    """Flagged uploads waiting for a moderator, oldest first."""
    return (FlaggedUpload.objects.filter(status=FlaggedUpload.Status.PENDING).select_related("user")
            .order_by("created_at", "pk"))


def moderation_actions_filtered(*, moderator: str = "", action: str = "", since=None, until=None, subject: str = ""):
    """The audit log, newest first, narrowed by the moderator's username, the action, the days
    ``since``..``until`` (inclusive) and a subject: a job or listing id, or a listing's title, an
    upload's file name or checksum, or the affected user's name."""
    actions = ModerationAction.objects.select_related("moderator", "job", "upload", "listing", "target_user")
    if moderator:
        actions = actions.filter(moderator__username__iexact=moderator)
    if action:
        actions = actions.filter(action=action)
    if since:
        actions = actions.filter(created_at__date__gte=since)
    if until:
        actions = actions.filter(created_at__date__lte=until)
    if subject:
        try:
            key = uuid.UUID(subject)
        except ValueError:
            actions = actions.filter(Q(listing__title__icontains=subject) | Q(upload__filename__icontains=subject)
                                     | Q(upload__sha256__iexact=subject) | Q(target_user__username__iexact=subject))
        else:
            actions = actions.filter(Q(job__job_id=key) | Q(listing__listing_id=key))
    return actions.order_by("-created_at", "-pk")
