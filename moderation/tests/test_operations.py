"""The operations figures over jobs seeded with known times: jobs an hour, success rate, queue wait
p50/p95 and jobs running at once, by hour over the day and by 6 hours over the week, on SQLite and
PostgreSQL alike; and the page and its JSON for staff."""

from datetime import datetime, timedelta, timezone

import pytest

from accounts.services import user_create
from distillation.models import DistillationJob
from moderation import operations

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 6, 10, 30, tzinfo=timezone.utc)
DAY, WEEK = operations.WINDOWS["day"], operations.WINDOWS["week"]


def at(hh_mm: str) -> datetime:
    hours, minutes = map(int, hh_mm.split(":"))
    return NOW.replace(hour=hours, minute=minutes)


def job(owner, status, created, started=None, finished=None):
    made = DistillationJob.objects.create(owner=owner, request={}, engine_config={}, backend="pytorch", backend_reason="-",
                                          cost_estimate_ftns=1, status=status)
    # created_at is auto_now_add: set afterwards, as the job's history had it
    DistillationJob.objects.filter(pk=made.pk).update(created_at=at(created), started_at=started and at(started),
                                                      finished_at=finished and at(finished))


@pytest.fixture
def seeded():
    owner = user_create(username="ada", password="correct horse battery", email="ada@example.com")
    job(owner, "completed", "08:00", "08:30", "09:30")  # waited 30 min
    job(owner, "failed", "08:10", "08:20", "08:50")     # waited 10 min
    job(owner, "running", "08:40", "09:00")             # waited 20 min, still running
    job(owner, "queued", "09:10")
    job(owner, "completed", "08:05", "08:50", "09:10")  # waited 45 min
    job(owner, "cancelled", "09:00", "09:05", "09:20")  # waited 5 min
    job(owner, "completed", "01:00", "01:00", "01:30")  # two days before: outside the day and the week's last buckets
    DistillationJob.objects.filter(created_at=at("01:00")).update(
        created_at=at("01:00") - timedelta(days=2), started_at=at("01:00") - timedelta(days=2),
        finished_at=at("01:30") - timedelta(days=2))


def by_hour(values, buckets):
    return {start.strftime("%H:%M"): value for (start, _), value in zip(buckets, values) if value not in (None, 0, 0.0)}


def test_the_day_is_24_hours_ending_with_the_hour_that_holds_now():
    buckets = operations.window_buckets(DAY, NOW)

    assert len(buckets) == 24 and buckets[-1] == (at("10:00"), at("11:00"))
    assert buckets[0][0] == at("11:00") - timedelta(days=1)
    week = operations.window_buckets(WEEK, NOW)
    assert len(week) == 28 and week[-1] == (at("06:00"), at("12:00")) and week[0][0] == at("12:00") - timedelta(days=7)


def test_jobs_an_hour_and_the_success_rate_by_hour(seeded):
    buckets = operations.window_buckets(DAY, NOW)

    assert by_hour(operations.jobs_per_hour(buckets), buckets) == {"08:00": 4, "09:00": 2}
    # 08:00: one failed; 09:00: two completed and one cancelled, which counts as neither
    assert by_hour(operations.success_rates(buckets), buckets) == {"09:00": 1.0}
    assert operations.success_rates(buckets)[-3] == 0.0


def test_queue_wait_percentiles_by_hour(seeded):
    buckets = operations.window_buckets(DAY, NOW)

    assert by_hour(operations.queue_waits(buckets, 0.5), buckets) == {"08:00": pytest.approx(30), "09:00": pytest.approx(12.5)}
    # p95 of 10, 30, 45 interpolates at 1.9: 30 + 0.9 * 15; of 5, 20 at 0.95: 5 + 0.95 * 15
    assert by_hour(operations.queue_waits(buckets, 0.95), buckets) == {"08:00": pytest.approx(43.5),
                                                                       "09:00": pytest.approx(19.25)}


def test_jobs_running_at_once_by_hour(seeded):
    buckets = operations.window_buckets(DAY, NOW)

    running = by_hour(operations.jobs_running_at_once(buckets, NOW), buckets)

    # 08:00: 30 + 30 + 10 minutes; 09:00: 30 + 60 + 10 + 15; 10:00 to now (10:30): the running job throughout
    assert running == {"08:00": pytest.approx(70 / 60), "09:00": pytest.approx(115 / 60), "10:00": pytest.approx(1.0)}


def test_the_week_by_six_hours(seeded):
    buckets = operations.window_buckets(WEEK, NOW)

    assert operations.jobs_per_hour(buckets)[-1] == pytest.approx(6 / 6)
    assert operations.success_rates(buckets)[-1] == pytest.approx(2 / 3)
    assert operations.jobs_per_hour(buckets)[-10] == pytest.approx(1 / 6)  # two days before, 00:00-06:00
    assert operations.queue_waits(buckets, 0.5)[-1] == pytest.approx(20)  # of 5, 10, 20, 30, 45


def test_each_chart_carries_its_target(seeded):
    charts = {name: operations.chart_series(name, DAY, NOW) for name in operations.CHARTS}

    assert charts["success"]["references"][0]["y"] == 95
    assert charts["wait"]["references"][0]["y"] == 60
    assert charts["concurrency"]["references"][0]["y"] == 50
    assert charts["success"]["series"][0]["y"][-2] == 100.0
    assert [line["key"] for line in charts["wait"]["series"]] == ["p50", "p95"]
    assert charts["jobs"]["series"][0]["x"][-1] == "2026-12-06 10:00"
    assert operations.jobs_by_state() == {"queued": 1, "running": 1}


def test_the_page_and_its_json_for_staff(client, seeded, monkeypatch):
    monkeypatch.setattr(operations.clock, "now", lambda: NOW)
    client.force_login(user_create(username="sam", password="correct horse battery", email="s@example.com", is_staff=True))

    page = client.get("/moderation/operations/")
    data = client.get("/moderation/operations/concurrency.json").json()

    assert page.status_code == 200 and page.context["jobs_now"] == {"queued": 1, "running": 1}
    body = page.content.decode()
    assert 'data-series-url="/moderation/operations/wait.json?window=day"' in body and "under 60 minutes" in body
    assert data == operations.chart_series("concurrency", DAY, NOW)
    assert client.get("/moderation/operations/jobs.json?window=week").json()["series"][0]["y"][-1] == 1.0


def test_the_broker_figures_count_waiting_and_held_messages_per_queue_and_busy_processes():
    from core.broker import broker

    client, namespace = broker.client, broker.namespace
    before = {row["queue"]: row for row in operations.broker_now()["queues"]}
    acks = f"{namespace}:__acks__.worker-1.training"
    client.rpush(f"{namespace}:default", "message-1", "message-2")
    client.sadd(acks, "message-3")
    try:
        figures = operations.broker_now()
        after = {row["queue"]: row for row in figures["queues"]}
        assert after["default"]["waiting"] == before["default"]["waiting"] + 2
        assert after["training"]["held"] == before["training"]["held"] + 1
        assert figures["busy_processes"] >= 1
        workers = {"reachable": True, "workers": [{"host": "a"}, {"host": "b"}]}
        assert operations.busy_worker_share({"busy_processes": 1}, workers) == 0.5
        assert operations.busy_worker_share(None, workers) is None
    finally:
        client.lrem(f"{namespace}:default", 0, "message-1")
        client.lrem(f"{namespace}:default", 0, "message-2")
        client.delete(acks)


def test_live_workers_are_listed_with_their_queues_and_uptime(client, monkeypatch):
    started = NOW.timestamp() - 2 * 3600
    monkeypatch.setattr(operations.clock, "now", lambda: NOW)
    monkeypatch.setattr(operations, "live_workers", lambda: [
        {"host": "gpu-1", "pid": 7, "queues": ["gpu", "training"], "started": started}])
    client.force_login(user_create(username="sam", password="correct horse battery", email="s@example.com", is_staff=True))

    page = client.get("/moderation/operations/")

    assert page.context["workers"] == {"reachable": True, "workers": [
        {"host": "gpu-1", "pid": 7, "queues": "gpu, training", "up_hours": 2.0}]}
    assert "gpu-1" in page.content.decode()


def _sample(hh_mm: str, live: int, busy):
    from moderation.models import WorkerSample

    return WorkerSample.objects.create(taken_at=at(hh_mm), live=live, busy=busy)


def test_workers_alive_busy_and_utilisation_by_hour_from_the_samples():
    _sample("08:00", 2, 1)
    _sample("08:30", 4, 3)
    _sample("09:05", 2, None)  # the broker could not be read: liveness counts, utilisation does not
    day = operations.window_buckets(DAY, NOW)
    hours = {f"{start:%H:%M}": i for i, (start, _) in enumerate(day)}

    live, busy = operations.worker_series(day)
    shares = operations.worker_utilisation(day)

    assert (live[hours["08:00"]], busy[hours["08:00"]]) == (3.0, 2.0)
    assert (live[hours["09:00"]], busy[hours["09:00"]]) == (2.0, None)
    assert shares[hours["08:00"]] == 4 / 6 and shares[hours["09:00"]] is None
    assert live[hours["07:00"]] is None  # no sample: a gap, not a zero
    chart = operations.chart_series("utilisation", DAY, NOW)
    assert chart["series"][0]["y"][hours["08:00"]] == 66.7


def test_a_sample_counts_live_and_busy_workers_less_its_own_message_and_forgets_the_old(monkeypatch):
    from moderation.models import WorkerSample

    monkeypatch.setattr(operations.clock, "now", lambda: NOW)
    monkeypatch.setattr(operations, "live_workers", lambda: [{"host": "a", "pid": 1}, {"host": "a", "pid": 2}])
    monkeypatch.setattr(operations, "broker_now", lambda: {"queues": [], "busy_processes": 2})
    old = WorkerSample.objects.create(taken_at=NOW - timedelta(days=9), live=1, busy=0)

    sample = operations.worker_sample_record(running_in_a_worker=True)

    assert (sample.live, sample.busy) == (2, 1)  # one of the two busy processes is the sampler itself
    assert not WorkerSample.objects.filter(pk=old.pk).exists()
    monkeypatch.setattr(operations, "broker_now", lambda: None)
    assert operations.worker_sample_record().busy is None


def test_the_scheduler_sends_the_sample_every_five_minutes():
    from dramatiq_crontab import scheduler

    from moderation import tasks

    jobs = {job.name: job for job in scheduler.get_jobs()}
    assert tasks.SAMPLE_SCHEDULE == "*/5 * * * *"
    trigger = jobs["operations_sample"].trigger
    assert trigger.get_next_fire_time(None, NOW + timedelta(minutes=2)) == NOW.replace(minute=35)  # NOW is 10:30
