"""The one Dramatiq broker, configured from settings before any actor is declared.

Every ``tasks.py`` imports ``broker`` from here first, so actors always bind to this broker;
workers start with ``dramatiq prsm_site.worker`` (see that module).

Policy, the same for every actor unless it says otherwise:
- retries: ``DRAMATIQ_MAX_RETRIES`` with exponential backoff between ``DRAMATIQ_MIN_BACKOFF_MS``
  and ``DRAMATIQ_MAX_BACKOFF_MS``; an actor may lower it (``max_retries=0`` for non-idempotent work);
- time limit: ``DRAMATIQ_TIME_LIMIT_MS`` (10 minutes), raised per actor for training;
- queues: ``default`` for short work, ``training`` for distillation runs.
"""

import json
import logging
import os
import socket
import threading
import time

import dramatiq
import redis
from django.conf import settings
from django.db import close_old_connections
from dramatiq.middleware import (
    AgeLimit,
    Callbacks,
    CurrentMessage,
    Middleware,
    Pipelines,
    Retries,
    ShutdownNotifications,
    TimeLimit,
)

actor_log = logging.getLogger("prsm.actor")


def redis_client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=2)


def worker_key_prefix() -> str:
    return f"{settings.PRSM_NAMESPACE}:workers:"


class WorkerHeartbeat(Middleware):
    """Each worker process refreshes a Redis key with a TTL; ``/healthz`` counts the live keys.

    A worker that stops cleanly deletes its key; one that is killed stops refreshing it, and the
    key expires after ``WORKER_HEARTBEAT_TTL`` seconds.
    """

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.key = ""

    def after_worker_boot(self, broker, worker) -> None:
        self.key = f"{worker_key_prefix()}{socket.gethostname()}:{os.getpid()}"
        queues = worker.consumer_whitelist or broker.get_declared_queues()
        self._info = json.dumps(
            {"host": socket.gethostname(), "pid": os.getpid(), "queues": sorted(queues), "started": time.time()}
        )
        self._stop.clear()
        self._thread = threading.Thread(target=self._beat, name="prsm-heartbeat", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        ttl = settings.WORKER_HEARTBEAT_TTL
        client = redis_client()
        while True:
            try:
                client.set(self.key, self._info, ex=ttl)
            except redis.RedisError as exc:
                actor_log.warning("worker heartbeat failed: %s", exc)
            if self._stop.wait(max(0.5, ttl / 3)):
                return

    def before_worker_shutdown(self, broker, worker) -> None:
        self._stop.set()
        if self.key:
            try:
                redis_client().delete(self.key)
            except redis.RedisError:
                pass


class ActorRunLog(Middleware):
    """One log line per actor run: actor, message id, outcome and duration."""

    def before_process_message(self, broker, message) -> None:
        message.options["_prsm_started"] = time.perf_counter()

    def after_process_message(self, broker, message, *, result=None, exception=None) -> None:
        started = message.options.pop("_prsm_started", None)
        duration_ms = round((time.perf_counter() - started) * 1000, 1) if started else None
        outcome = "ok" if exception is None else f"error {type(exception).__name__}: {exception}"
        level = logging.INFO if exception is None else logging.ERROR
        actor_log.log(
            level,
            "actor %s message=%s retries=%s %s %sms",
            message.actor_name,
            message.message_id,
            message.options.get("retries", 0),
            outcome,
            duration_ms,
            extra={
                "actor": message.actor_name,
                "message_id": message.message_id,
                "outcome": "ok" if exception is None else "error",
                "duration_ms": duration_ms,
            },
        )


class DjangoConnections(Middleware):
    """Worker threads hold their own database connections; drop broken or stale ones after each message."""

    def before_process_message(self, broker, message) -> None:
        close_old_connections()

    def after_process_message(self, broker, message, *, result=None, exception=None) -> None:
        close_old_connections()

    after_skip_message = after_process_message


def _middleware() -> list[Middleware]:
    return [
        AgeLimit(),
        TimeLimit(time_limit=settings.DRAMATIQ_TIME_LIMIT_MS),
        ShutdownNotifications(),
        Callbacks(),
        Pipelines(),
        Retries(
            max_retries=settings.DRAMATIQ_MAX_RETRIES,
            min_backoff=settings.DRAMATIQ_MIN_BACKOFF_MS,
            max_backoff=settings.DRAMATIQ_MAX_BACKOFF_MS,
        ),
        CurrentMessage(),
        DjangoConnections(),
        ActorRunLog(),
        WorkerHeartbeat(),
    ]


def build_broker(url: str) -> dramatiq.Broker:
    if url.startswith(("amqp://", "amqps://")):  # RabbitMQ; queue names are its own
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        built = RabbitmqBroker(url=url, middleware=_middleware())
    elif url.startswith(("redis://", "rediss://", "unix://")):
        from dramatiq.brokers.redis import RedisBroker

        built = RedisBroker(
            url=url,
            namespace=f"{settings.PRSM_NAMESPACE}:dramatiq",
            middleware=_middleware(),
            heartbeat_timeout=settings.DRAMATIQ_REDIS_HEARTBEAT_TIMEOUT_MS,
            maintenance_chance=settings.DRAMATIQ_REDIS_MAINTENANCE_CHANCE,
        )
    else:
        raise ValueError(f"BROKER_URL must start with redis:// or amqp://, got {url!r}")
    built.prsm_url = url
    return built


def broker_ping(target: dramatiq.Broker) -> None:
    """Raises when the broker cannot be reached."""
    if hasattr(target, "client"):  # Redis
        target.client.ping()
        return
    import pika

    params = pika.URLParameters(target.prsm_url)
    params.socket_timeout = 2
    params.blocked_connection_timeout = 2
    pika.BlockingConnection(params).close()


broker = build_broker(settings.BROKER_URL)
for _queue in settings.DRAMATIQ_QUEUES:
    broker.declare_queue(_queue)
dramatiq.set_broker(broker)
