import signal

import pytest

from prsm_site import healthz
from core.broker import build_broker
from tests.fixtures import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def _health(client):
    response = client.get("/healthz")
    return response.status_code, response.json()


def test_it_is_healthy_while_a_worker_and_the_serving_pool_run(client, start_worker, serving_pool):
    start_worker()
    serving_pool(workers=2)

    status, body = _health(client)

    assert status == 200
    assert body["status"] == "ok"
    assert {name: check["status"] for name, check in body["checks"].items()} == {
        "database": "up",
        "broker": "up",
        "workers": "up",
        "serving": "up",
    }
    assert body["checks"]["serving"]["count"] == 2
    assert body["checks"]["workers"]["count"] == 1
    assert set(body["checks"]["workers"]["workers"][0]["queues"]) == {"default", "training"}


def test_a_worker_stopped_cleanly_is_reported_down_at_once(client, start_worker):
    worker = start_worker()
    worker.stop(signal.SIGTERM)

    status, body = _health(client)

    assert status == 503
    assert body["checks"]["workers"]["status"] == "down"
    assert "no worker" in body["checks"]["workers"]["error"]


def test_a_killed_worker_is_reported_down_once_its_heartbeat_expires(client, start_worker, serving_pool):
    serving_pool(workers=1)
    worker = start_worker(WORKER_HEARTBEAT_TTL="2")
    assert _health(client)[0] == 200
    worker.kill_all()

    status, body = wait_for(lambda: r if (r := _health(client))[0] == 503 else None, 10, "health to turn 503")

    assert body["checks"]["workers"]["status"] == "down"
    assert body["checks"]["database"]["status"] == "up"


def test_an_unreachable_broker_is_reported_down(client, monkeypatch):
    monkeypatch.setattr(healthz, "broker", build_broker("redis://127.0.0.1:1/0"))

    status, body = _health(client)

    assert status == 503
    assert body["checks"]["broker"]["status"] == "down"
    assert "Connection" in body["checks"]["broker"]["error"]


def test_a_serving_pool_that_is_not_running_is_reported_down(client, start_worker):
    start_worker()

    status, body = _health(client)

    assert status == 503
    assert body["checks"]["serving"]["status"] == "down"
    assert "python -m prsm.serving.pool" in body["checks"]["serving"]["error"]
    assert body["checks"]["workers"]["status"] == "up"


def test_a_killed_serving_worker_is_reported_down(client, start_worker, serving_pool):
    start_worker()
    pool = serving_pool(workers=1)
    assert _health(client)[0] == 200
    import os
    import subprocess

    children = subprocess.run(["pgrep", "-P", str(pool.process.pid)], capture_output=True, text=True).stdout.split()
    os.kill(int(children[0]), signal.SIGSTOP)  # alive but silent: it cannot answer
    try:
        status, body = _health(client)
    finally:
        os.kill(int(children[0]), signal.SIGCONT)
    assert status == 503 and "do not answer" in body["checks"]["serving"]["error"]
