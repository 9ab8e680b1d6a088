"""Job throughput through the real stack: N tiny distillations submitted at once through the API.

    .venv/bin/python bench/job_queue.py   (not queue.py: that name would shadow the standard library) [--jobs 50] [--workers 1] [--threads 2] [--database-url URL]

Starts its own Daphne and dramatiq workers (subprocesses) on a fresh database (a SQLite file under
var/ unless --database-url names PostgreSQL) and a Redis namespace of its own, builds the
catalog:digits-mlp teacher if needed, submits every job at once from threads, follows every job
on its websocket, and prints: all completed or not, jobs per minute, queue wait p50/p95 (created
-> started), event latency p95 (the worker's callback -> a connected websocket client, same
machine clock) and the API's cost per job: the wall time of submitting all jobs at once divided
by their number, and each request's own latency (which includes waiting behind the others).
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench._common import percentile, print_machine, table  # noqa: E402

BIN = Path(sys.executable).parent
JOB = {"teacher_model": "catalog:digits-mlp", "domain": "digits", "budget_ftns": 1000, "quality_threshold": 0.5,
       "epochs": 1, "export_formats": ["safetensors"]}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--workers", type=int, default=1, help="worker processes")
    parser.add_argument("--threads", type=int, default=2, help="threads per worker process")
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--database-url", default=None)
    return parser.parse_args()



def environment(args) -> dict:
    stamp = f"{os.getpid()}"
    (ROOT / "var").mkdir(exist_ok=True)
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "prsm_site.settings.base", "DEBUG": "0",
        "DATABASE_URL": args.database_url or f"sqlite:///{ROOT / 'var' / f'bench-queue-{stamp}.sqlite3'}",
        "PRSM_NAMESPACE": f"prsm-bench-{stamp}", "MEDIA_ROOT": str(ROOT / "var" / f"bench-media-{stamp}"),
        "LEDGER_SIGNUP_GRANT": str(2000 * args.jobs), "DISTILLATION_MAX_RUNNING_PER_USER": str(args.workers * args.threads),
        "LOG_LEVEL": "WARNING", "HF_HUB_OFFLINE": "1",
        "SERVING_SOCKET_DIR": f"/tmp/prsm-bench-sv-{stamp}",  # nosec B108 - a socket folder of this run (short: sockets take 108 bytes)
    }


def start_stack(args, env) -> list[subprocess.Popen]:
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    subprocess.run([str(BIN / "prsm"), "catalog", "build", "digits-mlp", "--quick"], cwd=ROOT, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log = open(ROOT / "var" / "bench-queue.log", "wb")
    processes = [subprocess.Popen([str(BIN / "daphne"), "--access-log", os.devnull, "-b", "127.0.0.1", "-p",
                                   str(args.port), "prsm_site.asgi:application"], cwd=ROOT, env=env, stdout=log, stderr=log)]
    processes.append(subprocess.Popen([sys.executable, "-m", "prsm.serving.pool", "--socket-dir", env["SERVING_SOCKET_DIR"],
                                       "--workers", "1"], cwd=ROOT, env=env, stdout=log, stderr=log))  # /healthz counts it
    processes.append(subprocess.Popen([str(BIN / "dramatiq"), "prsm_site.worker", "--processes", str(args.workers),
                                       "--threads", str(args.threads), "--queues", "default", "training"],
                                      cwd=ROOT, env=env, stdout=log, stderr=log))
    return processes


def call(base: str, method: str, path: str, body: dict | None = None, token: str | None = None) -> dict:
    headers = {"Content-Type": "application/json", **({"Authorization": f"Token {token}"} if token else {})}
    request = urllib.request.Request(base + path, data=json.dumps(body).encode() if body else None, method=method,
                                     headers=headers)
    with urllib.request.urlopen(request, timeout=120) as response:  # nosec B310  # http:// to the bench's own server on 127.0.0.1
        return json.loads(response.read())


def wait_until_up(base: str) -> None:
    for _ in range(240):
        try:
            health = json.loads(urllib.request.urlopen(base + "/healthz", timeout=2).read())  # nosec B310  # http:// to the bench's own server on 127.0.0.1
            if health["status"] == "ok":
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit("the stack did not come up; see var/bench-queue.log")


def submit_all(base: str, token: str, count: int) -> tuple[list[str], list[float]]:
    job_ids, seconds, lock = [], [], threading.Lock()
    barrier = threading.Barrier(count)

    def one():
        barrier.wait()
        started = time.perf_counter()
        job = call(base, "POST", "/api/v1/distillations/", JOB, token)
        with lock:
            seconds.append(time.perf_counter() - started)
            job_ids.append(job["job_id"])

    threads = [threading.Thread(target=one) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return job_ids, seconds


async def follow(ws_base: str, job_id: str, token: str, latencies: list[float]) -> str:
    import websockets

    async with websockets.connect(f"{ws_base}/ws/distillations/{job_id}/?token={token}", open_timeout=30) as ws:
        await ws.send(json.dumps({"since": 0}))
        replayed_until = time.time()
        async for raw in ws:
            event = json.loads(raw)
            if event["sent_at"] > replayed_until:  # only live events: replayed ones are old by design
                latencies.append(time.time() - event["sent_at"])
            if event["type"] in ("completed", "failed", "cancelled"):
                return event["type"]
    return "disconnected"


async def follow_all(base: str, job_ids: list[str], token: str) -> tuple[dict, list[float]]:
    latencies: list[float] = []
    ws_base = base.replace("http://", "ws://")
    outcomes = await asyncio.gather(*(follow(ws_base, job_id, token, latencies) for job_id in job_ids))
    return {o: outcomes.count(o) for o in set(outcomes)}, latencies


def main() -> None:
    args = parse_args()
    print_machine(f"queue: {args.jobs} jobs, {args.workers} worker process(es) x {args.threads} threads")
    env = environment(args)
    os.environ.update(env)
    processes = start_stack(args, env)
    base = f"http://127.0.0.1:{args.port}"
    try:
        wait_until_up(base)
        token = call(base, "POST", "/api/v1/auth/register/",
                     {"username": "bench", "password": "a long bench passphrase", "email": "bench@example.com"})["token"]  # nosec B105  # a throwaway account on the bench's throwaway database
        started = time.perf_counter()
        job_ids, api_seconds = submit_all(base, token, args.jobs)
        submit_wall = time.perf_counter() - started
        outcomes, latencies = asyncio.run(follow_all(base, job_ids, token))
        elapsed = time.perf_counter() - started
        jobs = [call(base, "GET", f"/api/v1/distillations/{job_id}/", token=token) for job_id in job_ids]
        waits = [(datetime.fromisoformat(j["started_at"]) - datetime.fromisoformat(j["created_at"])).total_seconds()
                 for j in jobs if j["started_at"]]
        print(table([{
            "jobs": args.jobs, "completed": outcomes.get("completed", 0), "other": {k: v for k, v in outcomes.items() if k != "completed"} or "-",
            "jobs/min": round(args.jobs / elapsed * 60, 1), "wall s": round(elapsed, 1),
            "queue wait p50 s": round(percentile(waits, 0.5), 1), "queue wait p95 s": round(percentile(waits, 0.95), 1),
            "event latency p95 ms": round(percentile(latencies, 0.95) * 1000, 1), "events": len(latencies),
            "API ms per job (submission wall / jobs)": round(submit_wall / args.jobs * 1000, 1),
            "API per job p50 ms": round(statistics.median(api_seconds) * 1000, 1),
            "API per job p95 ms": round(percentile(api_seconds, 0.95) * 1000, 1),
        }]))
        print("goals: all complete; event latency p95 < 250 ms; API overhead per job < 50 ms")
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=60)


if __name__ == "__main__":
    main()
