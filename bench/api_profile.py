"""Where the API's time per job goes: ``POST /api/v1/distillations/`` run in this process, each call
timed whole and in its phases (planning, the job row, the ledger hold, the first event, the enqueue),
then profiled with cProfile for the functions that cost most.

    .venv/bin/python bench/api_profile.py [--jobs 30] [--top 25] [--database-url URL]

The same request as ``bench/job_queue.py`` sends, on a fresh database (a SQLite file under var/ unless
--database-url names PostgreSQL) and a Redis namespace of its own; no worker runs, so the enqueued
messages are deleted at the end. The first call (imports, caches) is left out of the figures.
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench._common import print_machine, table  # noqa: E402
from bench.job_queue import JOB  # noqa: E402


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--jobs", type=int, default=30)
    p.add_argument("--top", type=int, default=25, help="functions listed by cumulative time")
    p.add_argument("--database-url", help="PostgreSQL URL (default: a fresh SQLite file under var/)")
    return p.parse_args()


def setup(args) -> None:
    stamp = os.getpid()
    (ROOT / "var").mkdir(exist_ok=True)
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "prsm_site.settings.base", "DEBUG": "0", "LOG_LEVEL": "WARNING", "HF_HUB_OFFLINE": "1",
        "DATABASE_URL": args.database_url or f"sqlite:///{ROOT / 'var' / f'bench-api-{stamp}.sqlite3'}",
        "PRSM_NAMESPACE": f"prsm-bench-api-{stamp}", "MEDIA_ROOT": str(ROOT / "var" / f"bench-api-media-{stamp}"),
        "LEDGER_SIGNUP_GRANT": str(2000 * (args.jobs + 1)), "DISTILLATION_MAX_RUNNING_PER_USER": "1000",
    })
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from prsm.engine.catalog import catalog_build

    catalog_build("digits-mlp", quick=True)


PHASES = {  # (module, attribute) wrapped to time each phase of the create path
    "planning": ("distillation.services", "plan"),
    "engine config": ("distillation.services", "engine_config"),
    "ledger hold": ("ledger.services", "hold_place"),
    "first event": ("distillation.services", "job_event_append"),
    "enqueue": ("distillation.services", "_enqueue"),
}


def wrap_phases() -> dict[str, list[float]]:
    import importlib

    spent: dict[str, list[float]] = defaultdict(list)
    for name, (module_name, attribute) in PHASES.items():
        module = importlib.import_module(module_name)
        inner = getattr(module, attribute)

        def timed(*a, _inner=inner, _name=name, **k):
            started = time.perf_counter()
            try:
                return _inner(*a, **k)
            finally:
                spent[_name].append((time.perf_counter() - started) * 1000)

        setattr(module, attribute, timed)
    return spent


def main() -> None:
    args = parse_args()
    print_machine(f"API cost per job: {args.jobs} POST /api/v1/distillations/ in one process, no worker")
    setup(args)
    from rest_framework.test import APIClient

    from accounts.services import user_create

    user = user_create(username="bench", password="a long bench passphrase", email="bench@example.com")  # nosec B106  # a throwaway account on the bench's throwaway database
    client = APIClient(SERVER_NAME="127.0.0.1")  # a host the settings allow
    client.force_authenticate(user)

    def post() -> float:
        started = time.perf_counter()
        response = client.post("/api/v1/distillations/", JOB, format="json")
        assert response.status_code == 201, response.content  # nosec B101  # a bench's own check
        return (time.perf_counter() - started) * 1000

    post()  # imports, caches, the first connection: not counted
    spent = wrap_phases()
    whole = [post() for _ in range(args.jobs)]
    spent = {name: list(values) for name, values in spent.items()}  # the profiled calls below are slower
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(args.jobs):
        post()
    profile.disable()

    rows = [{"part": "whole request (API view, serializer, services)", "ms p50": round(statistics.median(whole), 2),
             "ms mean": round(statistics.mean(whole), 2), "ms max": round(max(whole), 2)}]
    rows += [{"part": name, "ms p50": round(statistics.median(values), 2), "ms mean": round(statistics.mean(values), 2),
              "ms max": round(max(values), 2)} for name, values in spent.items() if values]
    accounted = sum(statistics.mean(values) for values in spent.values() if values)
    rows.append({"part": "the rest (auth, parsing, the job row, serializing the answer)",
                 "ms mean": round(statistics.mean(whole) - accounted, 2)})
    print(table(rows))
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.sort_stats("cumulative").print_stats(args.top)
    stats.sort_stats("tottime").print_stats(args.top)  # where the time itself is spent
    print(out.getvalue())
    _clean_redis()


def _clean_redis() -> None:
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(settings.REDIS_URL)
    for key in client.scan_iter(f"{settings.PRSM_NAMESPACE}*"):
        client.delete(key)


if __name__ == "__main__":
    main()
