import dramatiq
from dramatiq_crontab import cron

from core.broker import broker  # noqa: F401 - configures the broker before any actor exists

from .operations import worker_sample_record

# Every five minutes, sent by the scheduler (`manage.py crontab`) and run by a worker like any message:
# a gap in the charts is a time no worker (or no scheduler) was there to take the sample.
SAMPLE_SCHEDULE = "*/5 * * * *"


@cron(SAMPLE_SCHEDULE)
@dramatiq.actor(queue_name="default", max_retries=0)
def operations_sample() -> None:
    """Record the workers' liveness and how many are busy (a missed sample is a gap, never retried late)."""
    worker_sample_record(running_in_a_worker=True)
