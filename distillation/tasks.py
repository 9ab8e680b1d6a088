import dramatiq
from dramatiq.middleware import Shutdown, TimeLimitExceeded

from prsm_site.broker import broker  # noqa: F401 - configures the broker before any actor exists

from . import services
from .runner import JobRunner


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
