"""The operations page's figures (/moderation/operations/, staff): jobs an hour, success rate, queue
wait p50/p95 and jobs running at once, as series over the last day (by hour) or week (by 6 hours),
each against the seed's target; and what runs now: jobs by state, the broker's queues, live workers.

What is measured, plainly: every series comes from the jobs' own times (created, started, finished),
summed per bucket in SQL. Jobs do not record which worker ran them, so utilisation is shown as jobs
running at once (busy job-hours per hour) and, for now, as the share of live worker processes that
hold a message in the broker; worker liveness and utilisation over time come from samples the scheduler
takes every five minutes (``WorkerSample``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import redis
from django.conf import settings
from django.db import connection
from django.db.models import Aggregate, Avg, Count, DurationField, ExpressionWrapper, F, Q, Sum, Value
from django.db.models.functions import Coalesce, Greatest, Least

from core import broker as core_broker
from core import clock
from core.workers import live_workers
from distillation.models import DistillationJob

from .models import WorkerSample

TARGET_CONCURRENT_JOBS = 50      # the seed: 50+ jobs at once
TARGET_WAIT_MINUTES = 60         # the seed: under an hour of queue wait
TARGET_SUCCESS_RATE = 0.95       # the seed: over 95% of jobs succeed


@dataclass(frozen=True)
class Window:
    name: str
    label: str
    buckets: int
    step: timedelta


WINDOWS = {"day": Window("day", "the last day, by hour", 24, timedelta(hours=1)),
           "week": Window("week", "the last week, by 6 hours", 28, timedelta(hours=6))}


def window_buckets(window: Window, now: datetime | None = None) -> list[tuple[datetime, datetime]]:
    """``window.buckets`` consecutive [start, end) intervals, the last one holding ``now``."""
    now = now or clock.now()
    hours = int(window.step.total_seconds() // 3600)
    end = now.replace(minute=0, second=0, microsecond=0, hour=now.hour - now.hour % hours) + window.step
    return [(end - window.step * (window.buckets - i), end - window.step * (window.buckets - i - 1))
            for i in range(window.buckets)]


def _in(field: str, start: datetime, end: datetime) -> Q:
    return Q(**{f"{field}__gte": start, f"{field}__lt": end})


def _per_bucket(jobs, buckets, aggregate) -> list:
    """One SQL query: ``aggregate(start, end)`` for every bucket, in bucket order."""
    values = jobs.aggregate(**{f"b{i}": aggregate(start, end) for i, (start, end) in enumerate(buckets)})
    return [values[f"b{i}"] for i in range(len(buckets))]


def jobs_per_hour(buckets) -> list[float]:
    hours = (buckets[0][1] - buckets[0][0]).total_seconds() / 3600
    jobs = DistillationJob.objects.filter(created_at__gte=buckets[0][0], created_at__lt=buckets[-1][1])
    counts = _per_bucket(jobs, buckets, lambda start, end: Count("pk", filter=_in("created_at", start, end)))
    return [count / hours for count in counts]


def success_rates(buckets) -> list[float | None]:
    """Completed / (completed + failed) of the jobs that ended in each bucket; a job its owner cancelled
    is neither. None where no job ended."""
    ended = DistillationJob.objects.filter(finished_at__gte=buckets[0][0], finished_at__lt=buckets[-1][1])
    completed = _per_bucket(ended, buckets, lambda s, e: Count("pk", filter=_in("finished_at", s, e) & Q(status="completed")))
    failed = _per_bucket(ended, buckets, lambda s, e: Count("pk", filter=_in("finished_at", s, e) & Q(status="failed")))
    return [ok / (ok + bad) if ok + bad else None for ok, bad in zip(completed, failed)]


class PercentileCont(Aggregate):
    """PostgreSQL's ``percentile_cont(f) WITHIN GROUP (ORDER BY x)``: the f-quantile, interpolated."""

    function = "PERCENTILE_CONT"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"

    def __init__(self, expression, *, fraction: float, **extra):
        super().__init__(expression, fraction=float(fraction), **extra)


WAIT = ExpressionWrapper(F("started_at") - F("created_at"), output_field=DurationField())


def percentile(values: list[float], fraction: float) -> float | None:
    """Linear interpolation between the closest ranks, as ``percentile_cont`` computes it."""
    if not values:
        return None
    values = sorted(values)
    position = fraction * (len(values) - 1)
    low = int(position)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (position - low)


def queue_waits(buckets, fraction: float) -> list[float | None]:
    """The ``fraction``-quantile of the queue wait (started - created), in minutes, of the jobs that
    started in each bucket; None where none started."""
    started = DistillationJob.objects.filter(started_at__gte=buckets[0][0], started_at__lt=buckets[-1][1])
    if connection.vendor == "postgresql":
        waits = _per_bucket(started, buckets, lambda s, e: PercentileCont(
            WAIT, fraction=fraction, filter=_in("started_at", s, e), output_field=DurationField()))
        return [None if wait is None else wait.total_seconds() / 60 for wait in waits]
    # SQLite has no percentile aggregate: the waits of the window's jobs only, one column
    rows = started.annotate(wait=WAIT).values_list("started_at", "wait")
    per_bucket: list[list[float]] = [[] for _ in buckets]
    for started_at, wait in rows:
        index = next(i for i, (s, e) in enumerate(buckets) if s <= started_at < e)
        per_bucket[index].append(wait.total_seconds() / 60)
    return [percentile(waits, fraction) for waits in per_bucket]


def jobs_running_at_once(buckets, now: datetime | None = None) -> list[float]:
    """The mean number of jobs running during each bucket: the running time of every job inside the
    bucket (from its start to its end, or now while it runs), summed in SQL, over the bucket's length
    (up to now, for the bucket that holds now)."""
    now = now or clock.now()
    jobs = DistillationJob.objects.filter(started_at__isnull=False, started_at__lt=buckets[-1][1]).filter(
        Q(finished_at__isnull=True) | Q(finished_at__gt=buckets[0][0]))

    def busy(start, end):
        inside = ExpressionWrapper(Least(Coalesce("finished_at", Value(now)), Value(end)) - Greatest("started_at", Value(start)),
                                   output_field=DurationField())
        overlaps = Q(started_at__lt=end) & (Q(finished_at__isnull=True) | Q(finished_at__gt=start))
        return Sum(inside, filter=overlaps, output_field=DurationField())

    totals = _per_bucket(jobs, buckets, busy)
    # the bucket that holds now has lasted only until now
    return [(total or timedelta()).total_seconds() / (min(end, now) - start).total_seconds() if start < now else 0.0
            for total, (start, end) in zip(totals, buckets)]


def _x(buckets) -> list[str]:
    return [f"{start:%Y-%m-%d %H:%M}" for start, _ in buckets]


def _chart(x_title: str, y_title: str, series: list[dict], references: list[dict]) -> dict:
    return {"x_title": x_title, "y_title": y_title, "series": series, "references": references, "last_seq": 0}


def _line(key: str, name: str, x: list, y: list, kind: str = "scatter") -> dict:
    return {"key": key, "name": name, "axis": "y", "type": kind, "x": x, "y": y}


def _target(name: str, y: float) -> dict:
    return {"key": "target", "name": name, "axis": "y", "y": y}


def chart_series(chart: str, window: Window, now: datetime | None = None) -> dict:
    """One chart's JSON for ``static/js/charts.js``: the series over the window, the target as a line."""
    buckets = window_buckets(window, now)
    x, x_title = _x(buckets), f"{window.label} (UTC, bucket start)"
    if chart == "jobs":
        return _chart(x_title, "jobs submitted an hour", [_line("jobs", "jobs an hour", x, _rounded(jobs_per_hour(buckets)))], [])
    if chart == "success":
        rates = [None if rate is None else round(rate * 100, 2) for rate in success_rates(buckets)]
        return _chart(x_title, "jobs that succeeded, %", [_line("success", "success rate", x, rates)],
                      [_target(f"target: over {TARGET_SUCCESS_RATE:.0%}", TARGET_SUCCESS_RATE * 100)])
    if chart == "wait":
        series = [_line(f"p{int(f * 100)}", f"p{int(f * 100)}", x, _rounded(queue_waits(buckets, f))) for f in (0.5, 0.95)]
        return _chart(x_title, "queue wait, minutes", series, [_target(f"target: under {TARGET_WAIT_MINUTES} min", TARGET_WAIT_MINUTES)])
    if chart == "workers":
        live, busy = worker_series(buckets)
        return _chart(x_title, "worker processes (mean of the samples)",
                      [_line("live", "live", x, _rounded(live)), _line("busy", "busy", x, _rounded(busy))], [])
    if chart == "utilisation":
        shares = [None if share is None else round(share * 100, 1) for share in worker_utilisation(buckets)]
        return _chart(x_title, "live workers busy, %", [_line("utilisation", "busy share", x, shares)], [])
    if chart == "concurrency":
        running = [round(value, 3) for value in jobs_running_at_once(buckets, now)]
        return _chart(x_title, "jobs running at once (mean)", [_line("running", "jobs running at once", x, running)],
                      [_target(f"target: {TARGET_CONCURRENT_JOBS}+ at once", TARGET_CONCURRENT_JOBS)])
    raise KeyError(chart)


CHARTS = ("jobs", "success", "wait", "concurrency", "workers", "utilisation")
SAMPLES_KEPT = timedelta(days=8)  # the week's window, and a day to spare


def worker_series(buckets) -> tuple[list, list]:
    """Per bucket, the mean live and busy worker processes over its samples (None: no sample)."""
    samples = WorkerSample.objects.all()
    live = _per_bucket(samples, buckets, lambda start, end: Avg("live", filter=_in("taken_at", start, end)))
    busy = _per_bucket(samples, buckets, lambda start, end: Avg("busy", filter=_in("taken_at", start, end)))
    return live, busy


def worker_utilisation(buckets) -> list[float | None]:
    """Per bucket, busy worker-samples over live worker-samples, among samples that read the broker."""
    samples = WorkerSample.objects.filter(busy__isnull=False)
    busy = _per_bucket(samples, buckets, lambda start, end: Sum("busy", filter=_in("taken_at", start, end)))
    live = _per_bucket(samples, buckets, lambda start, end: Sum("live", filter=_in("taken_at", start, end)))
    return [None if not total else used / total for used, total in zip(busy, live)]


def worker_sample_record(*, running_in_a_worker: bool = False) -> WorkerSample:
    """Take a sample of the workers now and forget those older than ``SAMPLES_KEPT``. Run by a worker,
    the sample's own message is one the broker counts as held: it is not counted as work."""
    workers, figures = workers_now(), broker_now()
    live = len(workers["workers"])
    busy = None
    if figures is not None and workers["reachable"]:
        busy = max(0, min(live, figures["busy_processes"] - (1 if running_in_a_worker else 0)))
    now = clock.now()
    sample = WorkerSample.objects.create(taken_at=now, live=live, busy=busy)
    WorkerSample.objects.filter(taken_at__lt=now - SAMPLES_KEPT).delete()
    return sample


def _rounded(values):
    return [None if value is None else round(value, 2) for value in values]


# --- What runs now


def jobs_by_state() -> dict[str, int]:
    counts = dict(DistillationJob.objects.filter(status__in=["queued", "running"]).values("status")
                  .annotate(n=Count("pk")).values_list("status", "n"))
    return {"queued": counts.get("queued", 0), "running": counts.get("running", 0)}


def broker_now(broker=None) -> dict | None:
    """Per broker queue: messages waiting, waiting on a retry delay, and held by workers (running or
    prefetched); and how many worker processes hold any. None when the broker is not Redis (RabbitMQ
    keeps these figures in its own console) or cannot be read."""
    broker = broker or core_broker.broker
    client, namespace = getattr(broker, "client", None), getattr(broker, "namespace", None)
    if client is None:
        return None
    try:
        held = {key.decode(): client.scard(key) for key in client.scan_iter(match=f"{namespace}:__acks__.*", count=200)}
        queues = [{"queue": queue, "waiting": client.llen(f"{namespace}:{queue}"),
                   "delayed": client.llen(f"{namespace}:{queue}.DQ"),
                   "held": sum(n for key, n in held.items() if key.endswith((f".{queue}", f".{queue}.DQ")))}
                  for queue in settings.DRAMATIQ_QUEUES]
    except redis.RedisError:
        return None
    # an acks key is <namespace>:__acks__.<worker id>.<queue>
    busy = {key.split("__acks__.", 1)[1].split(".", 1)[0] for key, n in held.items() if n}
    return {"queues": queues, "busy_processes": len(busy)}


def workers_now() -> dict:
    """Live worker processes (their heartbeats) with their queues and uptime; None figures when Redis
    cannot be read."""
    try:
        workers = live_workers()
    except redis.RedisError:
        return {"reachable": False, "workers": []}
    now = clock.now().timestamp()
    rows = [{"host": w.get("host", "?"), "pid": w.get("pid"), "queues": ", ".join(w.get("queues", [])),
             "up_hours": round((now - float(w.get("started", now))) / 3600, 1)} for w in workers]
    return {"reachable": True, "workers": sorted(rows, key=lambda row: (row["host"], row["pid"] or 0))}


def busy_worker_share(broker_figures: dict | None, workers: dict) -> float | None:
    """The share of live worker processes holding at least one message; None when either is unknown."""
    if broker_figures is None or not workers["reachable"] or not workers["workers"]:
        return None
    return min(1.0, broker_figures["busy_processes"] / len(workers["workers"]))
