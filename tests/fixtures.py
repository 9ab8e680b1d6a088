"""Fixtures shared by every app: real worker and server subprocesses on the test database and Redis."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _test_database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    return f"postgres://{auth}{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


@pytest.fixture
def serving_socket_dir(settings):
    """A short folder for the serving pool's Unix sockets (their paths must fit in 108 bytes), the same one
    for this test's own process (settings) and the server and workers it starts (``subprocess_env``)."""
    folder = Path(tempfile.mkdtemp(prefix="prsm-sv-", dir="/tmp"))
    settings.SERVING_SOCKET_DIR = str(folder)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def subprocess_env(transactional_db, serving_socket_dir) -> dict[str, str]:
    """Environment for a process that must see this test's database, Redis namespace and settings."""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="prsm_site.settings.test",
        DATABASE_URL=_test_database_url(),
        PRSM_NAMESPACE=settings.PRSM_NAMESPACE,
        REDIS_URL=settings.REDIS_URL,
        BROKER_URL=settings.BROKER_URL,
        SERVING_SOCKET_DIR=str(serving_socket_dir),
        PYTHONUNBUFFERED="1",
    )
    return env


def _stop(process: subprocess.Popen, sig=signal.SIGTERM, timeout: float = 15) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_for(predicate, timeout: float, message: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s: {message}")


class WorkerProcess:
    """A real ``dramatiq`` worker subprocess; ``pids`` are its worker processes (children)."""

    def __init__(self, env: dict[str, str], log_path: Path, queues=("default", "training")):
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.process = subprocess.Popen(
            [str(BIN / "dramatiq"), "prsm_site.worker", "--processes", "1", "--threads", "2", "--queues", *queues],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def live_heartbeats(self) -> list[dict]:
        from core.workers import live_workers

        return live_workers()

    def wait_until_ready(self, timeout: float = 60) -> None:
        def ready():
            if self.process.poll() is not None:
                raise AssertionError(f"worker exited early:\n{self.log_path.read_text()}")
            return self.live_heartbeats()

        wait_for(ready, timeout, "worker heartbeat")

    def stop(self, sig=signal.SIGTERM) -> None:
        _stop(self.process, sig)
        self.log.close()

    def kill_all(self) -> None:
        """SIGKILL the whole worker: the main process and its worker processes."""
        children = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True).stdout.split()
        for pid in [*children, str(self.process.pid)]:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.wait()
        self.log.close()


@pytest.fixture
def start_worker(subprocess_env, tmp_path):
    started: list[WorkerProcess] = []

    def start(queues=("default", "training"), **env_overrides) -> WorkerProcess:
        worker = WorkerProcess({**subprocess_env, **env_overrides}, tmp_path / f"worker-{len(started)}.log", queues)
        started.append(worker)
        worker.wait_until_ready()
        return worker

    yield start
    for worker in started:
        if worker.process.poll() is None:
            worker.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def live_daphne(subprocess_env, tmp_path):
    """The real ASGI server (HTTP + websockets) on a free local port; yields its base URL."""
    port = free_port()
    log_path = tmp_path / "daphne.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [str(BIN / "daphne"), "--access-log", os.devnull, "-b", "127.0.0.1", "-p", str(port), "prsm_site.asgi:application"],
            cwd=ROOT,
            env=subprocess_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base_url = f"http://127.0.0.1:{port}"

        def answers():
            if process.poll() is not None:
                raise AssertionError(f"daphne exited early:\n{log_path.read_text()}")
            try:
                urllib.request.urlopen(f"{base_url}/api/schema/", timeout=2)
                return True
            except OSError:
                return False

        wait_for(answers, 60, "daphne to answer", interval=0.2)
        yield base_url
        _stop(process)


@pytest.fixture(scope="session", autouse=True)
def _clean_redis_namespace():
    """Leave nothing of this run in Redis."""
    yield
    from core.workers import redis_client

    client = redis_client()
    keys = list(client.scan_iter(match=f"{settings.PRSM_NAMESPACE}:*", count=500))
    if keys:
        client.delete(*keys)


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Throttle counters and cached values never leak from one test into the next."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


DATABASE_FIXTURES = ("db", "transactional_db", "django_db_reset_sequences", "django_db_serialized_rollback")


@pytest.fixture(autouse=True)
def ledger_books_balance(request):
    """After every test that used the database, in whichever app it lives (a purchase, a hold, a
    sign-up grant all move FTNS): every transaction sums to zero, every cached balance equals its
    entries, nothing but issuance is negative, the holds account holds exactly the open holds."""
    database = [name for name in DATABASE_FIXTURES if name in request.fixturenames]
    if request.node.get_closest_marker("django_db") is None and not database:
        yield
        return
    # set up first, so that the database is rolled back or flushed only after this check
    for name in database or ["_django_db_helper"]:
        request.getfixturevalue(name)
    yield
    from ledger.selectors import ledger_problems

    assert ledger_problems() == []


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


# The browser tests' page (headless Chromium against live_daphne), for every app's tests.
from tests.browser import browser_page  # noqa: E402,F401


class ServingPool:
    """The real serving pool (``python -m prsm.serving.pool``) on this test's socket folder."""

    def __init__(self, env: dict[str, str], socket_dir: Path, log_path: Path, **options):
        self.socket_dir, self.log_path = socket_dir, log_path
        self.log = open(log_path, "wb")
        arguments = [sys.executable, "-m", "prsm.serving.pool", "--socket-dir", str(socket_dir)]
        for name, value in {"workers": 2, **options}.items():
            arguments += [f"--{name.replace('_', '-')}", str(value)]
        self.process = subprocess.Popen(arguments, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def wait_until_ready(self, timeout: float = 30) -> None:
        from prsm.serving.client import ServingClient
        from prsm.serving.errors import ServingUnavailable

        def ready():
            if self.process.poll() is not None:
                raise AssertionError(f"serving pool exited early:\n{self.log_path.read_text()}")
            try:
                workers = ServingClient(str(self.socket_dir), timeout_s=2).status()["workers"]
            except ServingUnavailable:
                return None
            return workers and all(worker["alive"] for worker in workers)

        wait_for(ready, timeout, "serving pool to answer", interval=0.1)

    def stop(self) -> None:
        _stop(self.process)
        self.log.close()


@pytest.fixture
def serving_pool(subprocess_env, serving_socket_dir, tmp_path):
    """Start the serving pool (``serving_pool(**options)``: workers, memory_mb, max_batch, max_wait_ms,
    max_in_flight); it is stopped after the test."""
    started: list[ServingPool] = []

    def start(**options) -> ServingPool:
        pool = ServingPool(subprocess_env, serving_socket_dir, tmp_path / f"serving-{len(started)}.log", **options)
        started.append(pool)
        pool.wait_until_ready()
        return pool

    yield start
    for pool in started:
        pool.stop()


@pytest.fixture(scope="session", autouse=True)
def _api_answers_checked_against_the_schema():
    """Every ``/api/`` answer a test client gets is checked against the OpenAPI schema (tests/schema_conformance.py)."""
    from . import schema_conformance

    check = "tests.schema_conformance.middleware"
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, check]
    yield
    settings.MIDDLEWARE = [name for name in settings.MIDDLEWARE if name != check]
    schema_conformance.violations.clear()


@pytest.fixture(autouse=True)
def api_answers_declared():
    """A test fails when an API answer it got is not one the schema declares (status, or body shape)."""
    from .schema_conformance import violations

    violations.clear()
    yield
    found, violations[:] = list(dict.fromkeys(violations)), []
    assert not found, "answers the OpenAPI schema does not declare:\n" + "\n".join(found)
