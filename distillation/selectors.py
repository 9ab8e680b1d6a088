from django.db.models import Q

from .models import DistillationJob, JobEvent


def job_visible_to(*, user, job_id) -> DistillationJob | None:
    """The job when ``user`` owns it or is staff; None otherwise (callers answer 404 either way)."""
    if user is None or not user.is_authenticated:
        return None
    jobs = DistillationJob.objects.all() if user.is_staff else DistillationJob.objects.filter(owner=user)
    return jobs.filter(job_id=job_id).first()


def jobs_of(*, user):
    return DistillationJob.objects.filter(owner=user).order_by("-created_at")


def job_events_since(*, job: DistillationJob, since: int, limit: int = 1000) -> list[dict]:
    return list(JobEvent.objects.filter(job=job, seq__gt=since).order_by("seq").values_list("payload", flat=True)[:limit])


def _queued_ahead(job: DistillationJob):
    """Queued jobs that start before this one: higher priority first, FIFO within a priority."""
    return DistillationJob.objects.filter(status=DistillationJob.Status.QUEUED).filter(
        Q(priority__gt=job.priority) | Q(priority=job.priority, created_at__lt=job.created_at)
    )


def job_queue_position(*, job: DistillationJob) -> int | None:
    """1 for the next job to start; None once it runs or ended. FIFO within a priority."""
    if job.status != DistillationJob.Status.QUEUED:
        return None
    return _queued_ahead(job).count() + 1


def job_eta_seconds(*, job: DistillationJob) -> float | None:
    """Seconds until the job should end, from its estimate and its progress; None once it ended.

    A queued job adds the estimated time of the jobs ahead of it, run one at a time.
    """
    if job.is_finished:
        return None
    own = float(job.estimate.get("duration_s", 0))
    if job.status == DistillationJob.Status.RUNNING:
        return round(own * (1 - job.progress / 100), 1)
    ahead = _queued_ahead(job).values_list("estimate", flat=True)
    return round(own + sum(float(e.get("duration_s", 0)) for e in ahead), 1)
