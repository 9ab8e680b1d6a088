"""Worker heartbeats: each worker process keeps a Redis key with a TTL alive; ``live_workers`` reads them
(``/healthz`` counts them, a service routes training to a GPU worker when one is up)."""

import functools
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


@functools.cache
def _client_for(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)


def redis_client() -> redis.Redis:
    """One client (one connection pool) per process and URL: a connection per call cost a TCP
    handshake on every enqueue. redis-py's pool notices a fork and opens its own connections there."""
    return _client_for(settings.REDIS_URL)


def worker_key_prefix() -> str:
    return f"{settings.PRSM_NAMESPACE}:workers:"


def _index_key() -> str:
    """A set of every worker key written: read instead of scanning the whole keyspace for the prefix."""
    return f"{settings.PRSM_NAMESPACE}:workers-index"


def live_workers() -> list[dict]:
    """What each live worker reported: host, pid, queues, start time."""
    client = redis_client()
    keys = sorted(key.decode() for key in client.smembers(_index_key()))
    values = client.mget(keys) if keys else []
    if gone := [key for key, value in zip(keys, values) if not value]:  # expired or deleted: out of the index
        client.srem(_index_key(), *gone)
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
                client.pipeline().set(self.key, self._info, ex=ttl).sadd(_index_key(), self.key).execute()
            except redis.RedisError as exc:
                log.warning("worker heartbeat failed: %s", exc)
            if self._stop.wait(max(0.5, ttl / 3)):
                return

    def before_worker_shutdown(self, broker, worker) -> None:
        self._stop.set()
        if self.key:
            try:
                redis_client().pipeline().delete(self.key).srem(_index_key(), self.key).execute()
            except redis.RedisError:
                pass
