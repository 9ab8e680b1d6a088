"""``/healthz``: the state of the database, the broker, the workers and the serving pool; 503 when one is down."""

import time

from django.conf import settings
from django.db import connection
from django.http import JsonResponse

from core.broker import broker, broker_ping
from core.workers import live_workers
from prsm.serving.client import ServingClient
from prsm.serving.errors import ServingUnavailable

HEALTH_TIMEOUT_S = 2  # a serving worker slower than this to say how it is counts as down


def _check(probe) -> dict:
    started = time.perf_counter()
    try:
        detail = probe()
    except Exception as exc:  # noqa: BLE001 - any failure means "down", with the reason shown
        return {"status": "down", "error": f"{type(exc).__name__}: {exc}"}
    result = {"status": "up", "latency_ms": round((time.perf_counter() - started) * 1000, 1)}
    if detail:
        result.update(detail)
    return result


def _database() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"vendor": connection.vendor}


def _broker() -> dict:
    broker_ping(broker)
    return {"kind": type(broker).__name__}


def _workers() -> dict:
    workers = live_workers()
    if not workers:
        raise RuntimeError("no worker has reported in; start one with `dramatiq prsm_site.worker`")
    return {"count": len(workers), "workers": workers}


def _serving() -> dict:
    """The serving pool's processes (``prsm.serving.pool``): each must answer; the models each holds."""
    try:
        status = ServingClient(settings.SERVING_SOCKET_DIR, timeout_s=HEALTH_TIMEOUT_S).status()
    except ServingUnavailable:
        raise RuntimeError("the serving pool is not running; start it with `python -m prsm.serving.pool`") from None
    silent = [str(worker["index"]) for worker in status["workers"] if not worker["alive"]]
    if silent:
        raise RuntimeError(f"serving worker(s) {', '.join(silent)} of {len(status['workers'])} do not answer")
    return {"count": len(status["workers"]), "models_loaded": len(status["models"]),
            "workers": [{k: worker.get(k) for k in ("index", "pid", "rss_bytes", "models")} for worker in status["workers"]]}


def healthz(request):
    checks = {"database": _check(_database), "broker": _check(_broker), "workers": _check(_workers),
              "serving": _check(_serving)}
    healthy = all(check["status"] == "up" for check in checks.values())
    body = {"status": "ok" if healthy else "degraded", "checks": checks}
    return JsonResponse(body, status=200 if healthy else 503)
