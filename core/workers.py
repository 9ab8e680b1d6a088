"""Worker heartbeats: each worker process keeps a Redis key with a TTL alive; ``live_workers`` reads them
(``/healthz`` counts them, a service routes training to a GPU worker when one is up)."""

import json
import logging
import os
import socket
import threading
import time

import redis
from django.conf import settings
from dramatiq.middleware import Middleware

log = logging.getLogger("prsm.actor")


def redis_client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=2)


def worker_key_prefix() -> str:
    return f"{settings.PRSM_NAMESPACE}:workers:"


def live_workers() -> list[dict]:
    """What each live worker reported: host, pid, queues, start time."""
    client = redis_client()
    keys = list(client.scan_iter(match=f"{worker_key_prefix()}*", count=100))
    values = client.mget(keys) if keys else []
    return [json.loads(value) for value in values if value]


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
                log.warning("worker heartbeat failed: %s", exc)
            if self._stop.wait(max(0.5, ttl / 3)):
                return

    def before_worker_shutdown(self, broker, worker) -> None:
        self._stop.set()
        if self.key:
            try:
                redis_client().delete(self.key)
            except redis.RedisError:
                pass
