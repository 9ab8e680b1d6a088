"""``/healthz``: the state of the database, the broker and the workers; 503 when one is down."""

import time

from django.db import connection
from django.http import JsonResponse

from core.broker import broker, broker_ping
from core.workers import live_workers


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


def healthz(request):
    checks = {"database": _check(_database), "broker": _check(_broker), "workers": _check(_workers)}
    healthy = all(check["status"] == "up" for check in checks.values())
    body = {"status": "ok" if healthy else "degraded", "checks": checks}
    return JsonResponse(body, status=200 if healthy else 503)
