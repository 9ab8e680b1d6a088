from bisect import bisect_left
from itertools import accumulate
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model

from .models import DistillationJob, JobEvent

MODEL_CARD_MAX_CHARS = 50_000


def job_visible_to(*, user, job_id) -> DistillationJob | None:
    """The job when ``user`` owns it or is staff; None otherwise (callers answer 404 either way)."""
    if user is None or not user.is_authenticated:
        return None
    jobs = DistillationJob.objects.all() if user.is_staff else DistillationJob.objects.filter(owner=user)
    return jobs.filter(job_id=job_id).first()


def jobs_of(*, user):
    return DistillationJob.objects.filter(owner=user).order_by("-created_at")


def job_out_dir(job: DistillationJob) -> Path:
    """Where the engine writes a job's exports, report and model card."""
    return Path(settings.MEDIA_ROOT) / "jobs" / str(job.job_id)


def job_model_card(*, job: DistillationJob) -> str | None:
    """The MODEL_CARD.md the engine wrote beside the exports (its first 50,000 characters), if any."""
    path = job_out_dir(job) / "MODEL_CARD.md"
    try:
        return path.read_text(errors="replace")[:MODEL_CARD_MAX_CHARS] if path.is_file() else None
    except OSError:
        return None


def job_events_since(*, job: DistillationJob, since: int, limit: int = 1000) -> list[dict]:
    return list(JobEvent.objects.filter(job=job, seq__gt=since).order_by("seq").values_list("payload", flat=True)[:limit])


def jobs_queue_figures(*, jobs) -> dict[int, tuple[int | None, float | None]]:
    """(queue position, ETA in seconds) of each job, by pk, with one read of the queue at most.

    The position is 1 for the next job to start, None once it runs or ended: higher priority first,
    FIFO within a priority. The ETA comes from the estimate and the progress, None once it ended; a
    queued job adds the estimated time of the jobs ahead of it, run one at a time.
    """
    figures = {}
    for job in jobs:
        if job.status == DistillationJob.Status.RUNNING:
            figures[job.pk] = (None, round(_duration(job.estimate) * (1 - job.progress / 100), 1))
        elif job.is_finished:
            figures[job.pk] = (None, None)
    queued = [job for job in jobs if job.pk not in figures]
    if queued:
        rows = DistillationJob.objects.filter(status=DistillationJob.Status.QUEUED).values_list(
            "priority", "created_at", "estimate")
        queue = sorted((-priority, created_at, _duration(estimate)) for priority, created_at, estimate in rows)
        keys = [(key, created_at) for key, created_at, _ in queue]
        seconds_before = [0.0, *accumulate(duration for _, _, duration in queue)]
        for job in queued:
            ahead = bisect_left(keys, (-job.priority, job.created_at))  # strictly before it
            figures[job.pk] = (ahead + 1, round(_duration(job.estimate) + seconds_before[ahead], 1))
    return figures


def _duration(estimate: dict) -> float:
    return float(estimate.get("duration_s", 0))


def job_teacher_owner(*, job: DistillationJob):
    """Who is paid the teacher access fee: an uploaded teacher's owner (as the plan recorded it);
    None for a catalog teacher (the platform's pool)."""
    owner_id = (job.estimate or {}).get("teacher_owner_id")
    return get_user_model().objects.filter(pk=owner_id).first() if owner_id else None


# The metric events' keys that the job page charts, in order: (key, label, axis).
METRIC_SERIES = (("train_loss", "training loss", "y"), ("val_accuracy", "validation accuracy", "y2"))


def job_metric_series(job: DistillationJob) -> dict:
    """The job's stored metric events as chart series over training steps, with the teacher's
    accuracy as a reference line; ``last_seq`` lets a live page append only newer events."""
    series = {key: {"key": key, "name": name, "axis": axis, "x": [], "y": []} for key, name, axis in METRIC_SERIES}
    references, last_seq = [], 0
    for seq, payload in JobEvent.objects.filter(job=job, type="metric").order_by("seq").values_list("seq", "payload"):
        last_seq = seq
        metrics, step = payload.get("metrics") or {}, payload.get("step")
        if "teacher_accuracy" in metrics:
            references = [{"key": "teacher_accuracy", "name": "teacher accuracy", "axis": "y2",
                           "y": metrics["teacher_accuracy"]}]
        if step is None:
            continue
        for key, line in series.items():
            if isinstance(metrics.get(key), (int, float)):
                line["x"].append(step)
                line["y"].append(metrics[key])
    return {"x_title": "training step", "y_title": "loss", "y2_title": "accuracy",
            "series": list(series.values()), "references": references, "last_seq": last_seq}
