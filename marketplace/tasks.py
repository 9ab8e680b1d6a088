import dramatiq
from dramatiq_crontab import cron

from core import clock
from core.broker import broker  # noqa: F401 - configures the broker before any actor exists

from .bonuses import bonuses_pay, period_before

# Every day at 00:05 in settings.TIME_ZONE (UTC), sent by the scheduler (`manage.py crontab`): the
# first run of a month pays the month before, the rest find it paid and pay nothing (docs/BONUSES.md).
BONUS_SCHEDULE = "5 0 * * *"


@cron(BONUS_SCHEDULE)
@dramatiq.actor(queue_name="default", max_retries=3)
def bonuses_pay_previous_month() -> None:
    """Pay last month's bonuses; safe to deliver any number of times."""
    bonuses_pay(period=period_before(clock.now()))
