"""Bonuses on a schedule: dramatiq-crontab's scheduler sends ``bonuses_pay_previous_month`` every day at
00:05 UTC, one scheduler at a time (a Redis lock); however often the actor runs, at once or one after
the other, through a stub broker or the real one and a real worker, a period is paid once."""

import subprocess
import sys
import threading
from datetime import datetime, timezone

import pytest
from apscheduler.triggers.cron import CronTrigger
from django.db import connection
from dramatiq import Worker
from dramatiq.brokers.stub import StubBroker
from dramatiq_crontab import scheduler

from core.broker import DjangoConnections
from ledger.models import Transaction
from ledger.selectors import ledger_problems
from marketplace.bonuses import bonuses_pay
from marketplace.models import Bonus
from marketplace.tasks import BONUS_SCHEDULE, bonuses_pay_previous_month
from marketplace.tests.conftest import catalog_home, completed_job, listed, make_user  # noqa: F401 - fixtures
from marketplace.tests.test_bonuses import _clock_back, catalogue, into_next_month, sell  # noqa: F401 - fixtures
from safety.tests.conftest import make_user as make_unfunded_user  # noqa: F401 - a fixture
from tests.fixtures import ROOT, wait_for

UTC = timezone.utc


def _job():
    return next(job for job in scheduler.get_jobs() if job.name == "bonuses_pay_previous_month")


def test_the_actor_is_scheduled_every_day_at_five_past_midnight_utc():
    job = _job()

    assert BONUS_SCHEDULE == "5 0 * * *"
    assert str(job.trigger) == str(CronTrigger.from_crontab("5 0 * * *", timezone=UTC))
    assert str(job.trigger.timezone) == "UTC"
    assert job.func == bonuses_pay_previous_month.send
    fires = job.trigger.get_next_fire_time(None, datetime(2026, 12, 31, 23, 0, tzinfo=UTC))
    assert fires == datetime(2027, 1, 1, 0, 5, tzinfo=UTC)


def test_the_scheduler_command_is_installed():
    done = subprocess.run([sys.executable, "manage.py", "crontab", "--help"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)

    assert done.returncode == 0, done.stderr
    assert "--no-heartbeat" in done.stdout


def test_a_second_scheduler_does_not_start_while_one_runs(subprocess_env, tmp_path):
    command = [sys.executable, "manage.py", "crontab", "--no-heartbeat", "--skip-checks"]
    env = {**subprocess_env, "SCHEDULER_LOCK_WAIT_S": "1"}
    log = tmp_path / "first.log"
    with open(log, "w") as out:
        first = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for(lambda: "Starting scheduler" in log.read_text() or first.poll() is not None, 90, "the first scheduler")
        assert first.poll() is None, log.read_text()
        assert "Loaded tasks from marketplace" in log.read_text()

        second = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)

        assert "Another scheduler is already running." in second.stderr
        assert "Starting scheduler" not in second.stdout
    finally:
        first.terminate()
        first.wait(timeout=30)


@pytest.fixture
def sold_last_month(transactional_db, make_user, listed, sell):
    """A listing that earns both bonuses, sold this month; the clock then moved into the next month."""
    owner = make_user("olga")
    sell(catalogue(listed(owner, buy=10)))
    return into_next_month()


def _paid_once(period: str) -> None:
    assert sorted(Bonus.objects.filter(period=period).values_list("kind", "amount")) == [
        ("efficiency", 10_000_000), ("performance", 1_050_000)]
    assert Transaction.objects.filter(kind=Transaction.Kind.BONUS).count() == 2
    assert ledger_problems() == []


def test_the_actor_sent_twice_through_a_stub_broker_pays_once(sold_last_month):
    stub = StubBroker(middleware=[DjangoConnections()])
    stub.declare_actor(bonuses_pay_previous_month)
    worker = Worker(stub, worker_timeout=100, worker_threads=2)
    worker.start()
    try:
        for _ in range(2):
            stub.enqueue(bonuses_pay_previous_month.message())
        stub.join(bonuses_pay_previous_month.queue_name, fail_fast=True)
        worker.join()
    finally:
        worker.stop()

    _paid_once(sold_last_month)


def test_the_actor_sent_twice_to_a_real_worker_pays_once(sold_last_month, start_worker):
    worker = start_worker(queues=("default",))
    bonuses_pay_previous_month.send()
    bonuses_pay_previous_month.send()

    def runs_done() -> int:  # core.broker.ActorRunLog's line per run
        lines = worker.log_path.read_text().splitlines()
        assert not [line for line in lines if "actor bonuses_pay_previous_month" in line and " error " in line]
        return sum("actor bonuses_pay_previous_month message=" in line and " ok " in line for line in lines) == 2

    wait_for(runs_done, 90, "the worker to run the actor twice", interval=0.5)
    _paid_once(sold_last_month)


def test_two_runs_at_the_same_moment_pay_once(sold_last_month):
    ready, errors = threading.Barrier(2), []

    def run():
        try:
            ready.wait()
            bonuses_pay(period=sold_last_month)
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    _paid_once(sold_last_month)
