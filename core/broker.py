"""The one Dramatiq broker, configured from settings before any actor is declared.

Every ``tasks.py`` imports ``broker`` from here first, so actors always bind to this broker;
workers start with ``dramatiq prsm_site.worker`` (see that module). A service sends work to an
actor by name (``actor_named``), so it never imports the ``tasks`` module that imports it back.

Policy, the same for every actor unless it says otherwise:
- retries: ``DRAMATIQ_MAX_RETRIES`` with exponential backoff between ``DRAMATIQ_MIN_BACKOFF_MS``
  and ``DRAMATIQ_MAX_BACKOFF_MS``; an actor may lower it (``max_retries=0`` for non-idempotent work);
- time limit: ``DRAMATIQ_TIME_LIMIT_MS`` (10 minutes), raised per actor for training;
- queues: ``default`` for short work, ``training`` for distillation runs.
"""

import logging
import time

import dramatiq
from django.conf import settings
from django.db import close_old_connections
from django.utils.module_loading import autodiscover_modules
from dramatiq.errors import ActorNotFound
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

from .workers import WorkerHeartbeat

actor_log = logging.getLogger("prsm.actor")


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


def actor_named(name: str) -> dramatiq.Actor:
    """The actor an app's ``tasks.py`` declares as ``name``; the apps' ``tasks`` modules are imported
    on first use (a worker has imported them all already)."""
    try:
        return broker.get_actor(name)
    except ActorNotFound:
        autodiscover_modules("tasks")
        return broker.get_actor(name)


broker = build_broker(settings.BROKER_URL)
for _queue in settings.DRAMATIQ_QUEUES:
    broker.declare_queue(_queue)
dramatiq.set_broker(broker)
