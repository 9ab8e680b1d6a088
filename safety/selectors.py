from .models import SafetyReport


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
