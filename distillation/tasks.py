import json

import dramatiq
from dramatiq.middleware import Shutdown, TimeLimitExceeded

from core.broker import broker  # noqa: F401 - configures the broker before any actor exists
from prsm.engine.errors import BadInput

from . import services
from .models import Teacher
from .runner import JobRunner
from .uploads import media_path, teacher_load


@dramatiq.actor(queue_name="training", max_retries=50, min_backoff=2_000, max_backoff=30_000, notify_shutdown=True)
def distillation_run(job_id: str) -> None:
    """Run one job. Safe to deliver twice: a finished job is a no-op, a job held by a live worker
    is retried later (LeaseBusy), and a job whose worker died resumes from its checkpoint."""
    leased = services.job_lease_acquire(job_id=job_id)
    if leased is None:
        return
    runner = JobRunner(*leased)
    try:
        runner.run()
    except Shutdown:
        runner.release()
        raise
    except TimeLimitExceeded:
        services.job_fail(job=runner.job, token=runner.token, platform_fault=True, used_seconds=runner.used,
                          message="The run took far longer than estimated and was stopped. Your budget was refunded.")


@dramatiq.actor(queue_name="default", max_retries=2, time_limit=15 * 60_000)
def teacher_analyze(teacher_id: str) -> None:
    """Load an uploaded teacher with the engine (ready or rejected), then analyse it, with its own
    data set when it has one. A teacher already analysed or rejected is a no-op."""
    from prsm.engine.analysis import analyze_teacher  # torch and the rest: only where an analysis runs

    teacher = Teacher.objects.select_related("dataset").filter(public_id=teacher_id).first()
    if teacher is None or teacher.status == Teacher.Status.REJECTED or teacher.analyzed_at is not None:
        return
    path = str(media_path(teacher.path))
    loaded = teacher_load(path)
    teacher = services.teacher_load_result_store(teacher=teacher, **loaded)
    if teacher.status != Teacher.Status.READY:
        return
    data = str(media_path(teacher.dataset.path)) if teacher.dataset else None
    try:
        analysis, error = json.loads(json.dumps(analyze_teacher(path, data), default=str)), ""
    except BadInput as exc:
        analysis, error = None, str(exc)
    # the owner sees the uploads by the ids they were given, never where this server keeps them
    references = {path: str(teacher.public_id)} | ({data: str(teacher.dataset.public_id)} if data else {})
    services.teacher_analysis_store(teacher=teacher, analysis=_in_users_terms(analysis, references),
                                    error=_in_users_terms(error, references))


def _in_users_terms(value, references: dict[str, str]):
    """``value`` (JSON) with every server path in ``references`` replaced by the upload's id."""
    if isinstance(value, dict):
        return {key: _in_users_terms(item, references) for key, item in value.items()}
    if isinstance(value, list):
        return [_in_users_terms(item, references) for item in value]
    if isinstance(value, str):
        for path, reference in references.items():
            value = value.replace(path, reference)
    return value
