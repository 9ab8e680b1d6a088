import dramatiq
from dramatiq_crontab import cron

from core.broker import broker  # noqa: F401 - configures the broker before any actor exists

from . import services

# Every five minutes, sent by the scheduler (`manage.py crontab`): deliveries left pending past
# WEBHOOK_SWEEP_AFTER_S (the broker was down when they were queued, or their worker died) are queued again.
SWEEP_SCHEDULE = "*/5 * * * *"


@dramatiq.actor(queue_name="default", max_retries=3)
def webhook_deliver(delivery_id: str, attempt: int, manual: bool = False) -> None:
    """One signed POST of a delivery; the service schedules the next attempt itself (WEBHOOK_RETRY_DELAYS_S).
    Safe to deliver twice: a stale attempt does nothing."""
    services.webhook_delivery_attempt(delivery_id=delivery_id, attempt=attempt, manual=manual)


@cron(SWEEP_SCHEDULE)
@dramatiq.actor(queue_name="default", max_retries=0)
def webhook_sweep() -> None:
    services.webhook_deliveries_sweep()
