"""The serving app's actors: warm a model in the pool after deploy, and (billing.py) charge metered usage."""

import dramatiq
from dramatiq_crontab import cron

from core.broker import broker  # noqa: F401 - configures the broker before any actor exists

from . import billing, services


@dramatiq.actor(queue_name="default", max_retries=2)
def serving_warm(model_id: str) -> None:
    """Load a newly deployed model in its serving process and record the serving path's figures; a pool
    that is not running leaves the model to load on its first prediction."""
    services.model_warm(model_id=model_id)

# Every ten minutes, sent by the scheduler (`manage.py crontab`): bill the metered predictions of priced
# listings (billing.py). A run that finds nothing new bills nothing; a retried run charges once.
USAGE_BILLING_SCHEDULE = "*/10 * * * *"


@cron(USAGE_BILLING_SCHEDULE)
@dramatiq.actor(queue_name="default", max_retries=3)
def usage_bills_run() -> None:
    """Bill unbilled priced predictions; safe to deliver any number of times."""
    billing.usage_bills_run()
