"""Webhook delivery latency through the real stack: event -> Redis broker -> dramatiq worker -> signed POST
-> a receiver on this machine.

    .venv/bin/python bench/webhook_latency.py [--events 100] [--burst 50] [--jobs 3] [--threads 2] [--database-url URL]

Migrates a fresh database (a SQLite file under var/ unless --database-url names PostgreSQL) in this process,
starts one dramatiq worker (a subprocess) on a Redis namespace of its own and an HTTP receiver on 127.0.0.1
that checks every signature, then measures, with one clock (the same machine):

- sequential: one ``event_emit`` at a time, from just before its transaction to the receiver's arrival;
- burst: ``--burst`` events committed back to back, each from its commit to its arrival (queueing included);
- job end: ``--jobs`` real distillations (catalog:digits-mlp, 1 epoch) run by the worker, from the job's
  ``finished_at`` (the worker's clock, written in the transaction that emits the event) to the arrival.

Prints p50, p95 and max per kind. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench._common import percentile, print_machine, table  # noqa: E402

BIN = Path(sys.executable).parent


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100, help="sequential events")
    parser.add_argument("--burst", type=int, default=50, help="events committed back to back")
    parser.add_argument("--jobs", type=int, default=3, help="real jobs whose end is measured (0: none)")
    parser.add_argument("--threads", type=int, default=2, help="threads of the worker process")
    parser.add_argument("--database-url", default=None)
    return parser.parse_args()



def environment(args) -> dict:
    stamp = str(os.getpid())
    (ROOT / "var").mkdir(exist_ok=True)
    return {
        "DJANGO_SETTINGS_MODULE": "prsm_site.settings.base", "DEBUG": "0",
        "DATABASE_URL": args.database_url or f"sqlite:///{ROOT / 'var' / f'bench-webhooks-{stamp}.sqlite3'}",
        "PRSM_NAMESPACE": f"prsm-bench-wh-{stamp}", "MEDIA_ROOT": str(ROOT / "var" / f"bench-webhooks-media-{stamp}"),
        "WEBHOOK_HOSTS_ALLOW": "127.0.0.1", "LEDGER_SIGNUP_GRANT": "100000", "LOG_LEVEL": "WARNING",
        "HF_HUB_OFFLINE": "1", "DISTILLATION_MAX_RUNNING_PER_USER": "1",
        "SERVING_SOCKET_DIR": f"/tmp/prsm-bench-wh-{stamp}",  # nosec B108 - a socket folder of this run (short: sockets take 108 bytes)
    }


class Receiver:
    """Keeps the arrival time of each event id; counts bodies whose signature does not check out."""

    def __init__(self):
        self.arrived: dict[str, float] = {}
        self.bad_signatures = 0
        self.signing_key = ""
        self.changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                at = time.time()
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                from prsm.webhooks import WebhookSignatureError, verify_signature

                try:
                    verify_signature(receiver.signing_key, self.headers.get("PRSM-Signature", ""), body)
                except WebhookSignatureError:
                    receiver.bad_signatures += 1
                with receiver.changed:
                    receiver.arrived.setdefault(json.loads(body)["id"], at)
                    receiver.changed.notify_all()
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def wait_for(self, event_ids: list[str], timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        with self.changed:
            while not all(event_id in self.arrived for event_id in event_ids):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise SystemExit(f"{sum(e not in self.arrived for e in event_ids)} webhook(s) never arrived")
                self.changed.wait(left)


def start_worker(args, env) -> subprocess.Popen:
    from core.workers import live_workers

    log = open(ROOT / "var" / "bench-webhooks.log", "wb")
    worker = subprocess.Popen([str(BIN / "dramatiq"), "prsm_site.worker", "--processes", "1", "--threads",
                               str(args.threads), "--queues", "default", "training"],
                              cwd=ROOT, env={**os.environ, **env}, stdout=log, stderr=log)
    for _ in range(240):
        if live_workers():
            return worker
        if worker.poll() is not None:
            break
        time.sleep(0.25)
    raise SystemExit("the worker did not start; see var/bench-webhooks.log")


def emit(user, seq: int) -> tuple[str, float]:
    from django.db import transaction

    from webhooks.services import event_emit

    with transaction.atomic():
        [delivery] = event_emit(user=user, type="job.completed", data={"job_id": f"bench-{seq}", "status": "completed"})
    return str(delivery.event_id), time.time()


def sequential(user, receiver: Receiver, count: int) -> list[float]:
    latencies = []
    for seq in range(count):
        started = time.time()
        event_id, _ = emit(user, seq)
        receiver.wait_for([event_id])
        latencies.append(receiver.arrived[event_id] - started)
    return latencies


def burst(user, receiver: Receiver, count: int) -> list[float]:
    committed = [emit(user, 10_000 + seq) for seq in range(count)]
    receiver.wait_for([event_id for event_id, _ in committed], timeout=120)
    return [receiver.arrived[event_id] - at for event_id, at in committed]


def job_ends(user, receiver: Receiver, count: int) -> list[float]:
    from distillation.models import DistillationJob
    from distillation.services import distillation_job_create
    from prsm.request import DistillationRequest
    from webhooks.models import WebhookDelivery

    latencies = []
    for _ in range(count):
        request = DistillationRequest(teacher_model="catalog:digits-mlp", domain="digits", epochs=1,
                                      export_formats=["safetensors"])
        job = distillation_job_create(owner=user, request=request)
        deadline = time.monotonic() + 600
        while not (delivery := WebhookDelivery.objects.filter(body__contains=str(job.job_id)).first()):
            if time.monotonic() > deadline or DistillationJob.objects.get(pk=job.pk).status in ("failed", "cancelled"):
                raise SystemExit(f"job {job.job_id} ended without a job.completed webhook")
            time.sleep(0.2)
        receiver.wait_for([str(delivery.event_id)])
        finished = DistillationJob.objects.get(pk=job.pk).finished_at.timestamp()
        latencies.append(receiver.arrived[str(delivery.event_id)] - finished)
    return latencies


def row(kind: str, latencies: list[float]) -> dict:
    return {"from": kind, "n": len(latencies), "p50 ms": round(percentile(latencies, 0.5) * 1000, 1),
            "p95 ms": round(percentile(latencies, 0.95) * 1000, 1), "max ms": round(max(latencies) * 1000, 1)}


def main() -> None:
    args = parse_args()
    print_machine(f"webhook latency: {args.events} sequential events, a burst of {args.burst}, {args.jobs} job end(s); "
                  f"1 worker process x {args.threads} threads")
    env = environment(args)
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    if args.jobs:
        subprocess.run([str(BIN / "prsm"), "catalog", "build", "digits-mlp", "--quick"], cwd=ROOT, env=os.environ,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    from accounts.services import user_create
    from webhooks.services import webhook_endpoint_create

    receiver = Receiver()
    worker = start_worker(args, env)
    try:
        user = user_create(username="bench", password="a long bench passphrase", email="bench@example.com")  # nosec B106  # a throwaway account on the bench's throwaway database
        _, receiver.signing_key = webhook_endpoint_create(user=user, url=receiver.url, events=["job.completed"])
        receiver.wait_for([emit(user, -1)[0]])  # warm-up: the worker's first message loads its code
        rows = [row("event_emit, one at a time", sequential(user, receiver, args.events))]
        if args.burst:
            rows.append(row(f"event_emit commit, {args.burst} back to back", burst(user, receiver, args.burst)))
        if args.jobs:
            rows.append(row("job finished_at (real jobs)", job_ends(user, receiver, args.jobs)))
        print(table(rows))
        print(f"signatures that did not verify: {receiver.bad_signatures}")
    finally:
        worker.terminate()
        worker.wait(timeout=60)
        receiver.server.shutdown()
        _clean_up(env)


def _clean_up(env: dict) -> None:
    from core.workers import redis_client

    client = redis_client()
    keys = list(client.scan_iter(match=f"{env['PRSM_NAMESPACE']}:*", count=500))
    if keys:
        client.delete(*keys)
    shutil.rmtree(env["MEDIA_ROOT"], ignore_errors=True)
    shutil.rmtree(env["SERVING_SOCKET_DIR"], ignore_errors=True)
    if env["DATABASE_URL"].startswith("sqlite:///"):
        for suffix in ("", "-wal", "-shm"):
            Path(env["DATABASE_URL"].removeprefix("sqlite:///") + suffix).unlink(missing_ok=True)


if __name__ == "__main__":
    main()
