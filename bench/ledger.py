"""FTNS ledger throughput: transfers per second and latency with concurrent clients, on PostgreSQL.

    .venv/bin/python bench/ledger.py [--clients 20] [--transfers 150] [--database-url postgres://...]

Two runs of the same workload: each client thread sends 1-unit transfers from its own wallet to
a randomly chosen other wallet (so receivers contend too), first straight through
``ledger.services.ledger_transfer_post``, then through ``POST /api/v1/ledger/transfers/`` with
token auth and a fresh Idempotency-Key per request, via Django's test Client in-process (no
network; the whole request/response cycle incl. the idempotency row). Each client thread has its
own database connection. A throwaway database ``test_<name>`` is created and dropped. Not part of
the test suite; record the figures in docs/BENCHMARKS.md with the machine line it prints.
"""

import argparse
import os
import platform
import random
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--transfers", type=int, default=150, help="transfers per client per run")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/prsm_ledger_bench"))
    return parser.parse_args()


def django_setup(database_url: str):
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "prsm_site.settings.test")
    os.environ["LOG_LEVEL"] = "WARNING"  # one log line per request would be measured too
    import django

    django.setup()
    from django.test.utils import setup_test_environment

    setup_test_environment()


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "unknown CPU")
    mem_kb = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")))
    from django import get_version
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg = cursor.fetchone()[0]
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"{cpu}, {os.cpu_count()} cores, {mem_kb / 1024 / 1024:.0f} GiB RAM; {platform.system()} {platform.release()}; "
            f"Python {platform.python_version()}, Django {get_version()}, PostgreSQL {pg} on 127.0.0.1; load average {load}")


def run(name: str, clients: list, transfers: int, send) -> dict:
    from django.db import connections

    barrier = threading.Barrier(len(clients) + 1)
    latencies: list[list[float]] = [[] for _ in clients]
    errors: list[BaseException] = []

    def client(index):
        rng = random.Random(index)  # nosec B311  # a reproducible workload, not a secret
        others = [c for j, c in enumerate(clients) if j != index]
        try:
            barrier.wait()
            for _ in range(transfers):
                start = time.perf_counter()
                send(clients[index], rng.choice(others))
                latencies[index].append(time.perf_counter() - start)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(len(clients))]
    for thread in threads:
        thread.start()
    barrier.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    if errors:
        raise errors[0]
    flat = sorted(x for per_client in latencies for x in per_client)
    p95 = flat[int(0.95 * (len(flat) - 1))]
    result = {"name": name, "transfers": len(flat), "seconds": wall, "per_second": len(flat) / wall,
              "p50_ms": statistics.median(flat) * 1000, "p95_ms": p95 * 1000}
    print(f"{name:<8} {result['transfers']:>6} transfers in {wall:6.2f} s: {result['per_second']:7.1f} transfers/s, "
          f"p50 {result['p50_ms']:6.1f} ms, p95 {result['p95_ms']:6.1f} ms")
    return result


def main():
    args = parse_args()
    django_setup(args.database_url)
    from django.contrib.auth import get_user_model
    from django.db import connection
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    from ledger import services
    from ledger.selectors import ledger_problems

    if connection.vendor != "postgresql":
        sys.exit("bench/ledger.py measures PostgreSQL (row locks); pass --database-url postgres://...")
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        users = [get_user_model().objects.create_user(f"bench{i}", password="bench passphrase 123") for i in range(args.clients)]  # nosec B106  # throwaway accounts on the bench's throwaway database
        for user in users:
            services.ledger_deposit_post(user=user, amount=10**12, external_reference=f"bench-{user.pk}")
        tokens = {user.pk: Token.objects.create(user=user).key for user in users}
        print(f"machine: {machine()}")
        print(f"{args.clients} concurrent clients, {args.transfers} transfers each, 1-unit transfers to a random other wallet")

        def through_service(sender, recipient):
            services.ledger_transfer_post(sender=sender, recipient=recipient, amount=1)

        local = threading.local()

        def through_api(sender, recipient):
            if getattr(local, "client", None) is None:
                local.client = APIClient()
                local.client.credentials(HTTP_AUTHORIZATION=f"Token {tokens[sender.pk]}")
            response = local.client.post("/api/v1/ledger/transfers/", {"to": recipient.username, "amount": "0.000001"},
                                         format="json", HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()))
            if response.status_code != 201:
                raise RuntimeError(f"transfer answered {response.status_code}: {response.content[:200]!r}")

        run("service", users, args.transfers, through_service)
        run("api", users, args.transfers, through_api)
        problems = ledger_problems()
        print(f"books balance afterwards: {'yes' if not problems else problems[:3]}")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
