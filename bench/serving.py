"""Serving: a deployed student through ``POST /api/v1/models/{model_id}/predict/`` against a plain
onnxruntime loop on the same export file, in the same run.

    .venv/bin/python bench/serving.py [--quick] [--text | --text-only] [--load-seconds 120] [--database-url URL]

Starts its own stack (Daphne, a dramatiq worker, the serving pool with SERVING_SOCKET_DIR in a short
/tmp folder) on a fresh database (a SQLite file under var/ unless --database-url names PostgreSQL)
and a Redis namespace of its own, registers a user, distils the digits student through the API
(catalog:digits-mlp on builtin:digits, ONNX and int8 ONNX exports), deploys it, and with --text
does the same for a small movie-review student (catalog:sentiment-minilm, which must be built:
``prsm catalog build sentiment-minilm``). For each model it prints:

1. one input at a time, warm, sequential: p50/p95 of the plain ``session.run`` (preprocessing
   included: the export's tokenizer for text), of the pool called directly over its socket, and
   of the API (keep-alive HTTP) -- goal: the API adds < 5 ms at p50 over the plain call;
2. inputs/s with 64 concurrent clients, dynamic batching on (--max-batch 32 --max-wait-ms 2)
   against off (--max-batch 1), each on a freshly started pool -- goal >= 3x;
3. a bounded load run at 200 concurrent connections: errors other than the deliberate 429s
   (goal 0), p95 latency, and the resident memory of Daphne and the pool's processes at the start
   and the end (goal < 10% growth).

The clients are asyncio with a small keep-alive HTTP/1.1 client (no HTTP library is installed), in
this process, on the same cores as the server: on a 2-core machine they take a share of the CPU.
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench._common import catalog_teacher_built, percentile, print_machine, table  # noqa: E402

BIN = Path(sys.executable).parent
PASSWORD = "a long bench passphrase"  # nosec B105  # a throwaway account on the bench's throwaway database
MODELS = {
    "digits": {"teacher_model": "catalog:digits-mlp", "dataset": "builtin:digits", "domain": "digits",
               "budget_ftns": 1000, "quality_threshold": 0.3, "epochs": 20, "export_formats": ["onnx", "onnx-int8"]},
    # serving figures, not quality ones (bench/quality.py has those): a 2-layer MiniLM student with 9,000
    # tokens (about 7M parameters), "large" (3x) of the 22.7M catalog:sentiment-minilm teacher (an 8-minute
    # build at an idle machine; sentiment-mpnet, 109M, takes over half an hour)
    "movie-reviews": {"teacher_model": "catalog:sentiment-minilm", "dataset": "builtin:movie-reviews",
                      "domain": "sentiment", "budget_ftns": 1000, "quality_threshold": 0.3, "epochs": 4, "target_size": "large",
                      "student_base": "builtin:all-minilm-l6-v2", "layer_count": 2, "vocabulary_size": 9000,
                      "export_formats": ["onnx", "onnx-int8"]},
}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls and short runs (a smoke run)")
    parser.add_argument("--text", action="store_true", help="the movie-review student as well")
    parser.add_argument("--text-only", action="store_true", help="the movie-review student alone")
    parser.add_argument("--load-seconds", type=float, default=120)
    parser.add_argument("--throughput-seconds", type=float, default=20)
    parser.add_argument("--calls", type=int, default=300, help="sequential single-input calls per path")
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--connections", type=int, default=200, help="for the load run")
    parser.add_argument("--workers", type=int, default=2, help="serving pool processes")
    parser.add_argument("--max-in-flight", type=int, default=64)
    parser.add_argument("--port", type=int, default=8097)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--keep", action="store_true", help="keep the SQLite file and the media folder under var/")
    args = parser.parse_args()
    if args.quick:
        args.calls, args.throughput_seconds, args.load_seconds = 60, 5, min(args.load_seconds, 15)
    return args



def ms(values: list[float], q: float) -> float:
    return round(percentile(values, q) * 1000, 2)


# --- the stack -------------------------------------------------------------------------------------

def environment(args) -> dict:
    stamp = f"{os.getpid()}"
    (ROOT / "var").mkdir(exist_ok=True)
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "prsm_site.settings.base", "DEBUG": "0",
        # a server keeps its database connections (README: DB_CONN_MAX_AGE); 0 reconnects on every call
        "DB_CONN_MAX_AGE": os.environ.get("DB_CONN_MAX_AGE", "60"),
        "DATABASE_URL": args.database_url or f"sqlite:///{ROOT / 'var' / f'bench-serving-{stamp}.sqlite3'}",
        "PRSM_NAMESPACE": f"prsm-bench-{stamp}", "MEDIA_ROOT": str(ROOT / "var" / f"bench-media-{stamp}"),
        "SERVING_SOCKET_DIR": tempfile.mkdtemp(prefix="prsm-sb-", dir="/tmp"),  # nosec B108  # short: a socket path is at most 107 bytes
        "SERVING_WORKERS": str(args.workers), "SERVING_MAX_IN_FLIGHT": str(args.max_in_flight),
        "PREDICT_RATE_PER_MINUTE": str(10**9),  # the per-token rate is not what is measured here
        "LEDGER_SIGNUP_GRANT": "100000", "LOG_LEVEL": "WARNING", "HF_HUB_OFFLINE": "1",
    }


class Stack:
    def __init__(self, args, env) -> None:
        self.args, self.env = args, env
        self.socket_dir = Path(env["SERVING_SOCKET_DIR"])
        self.log = open(ROOT / "var" / "bench-serving.log", "wb")  # noqa: SIM115 - the servers write to it until stop()
        self.processes: list[subprocess.Popen] = []
        self.pool: subprocess.Popen | None = None

    def start(self) -> None:
        subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=self.env, check=True)
        subprocess.run([str(BIN / "prsm"), "catalog", "build", "digits-mlp", "--quick"], cwd=ROOT, env=self.env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)  # built already: fine
        self.daphne = self._spawn([str(BIN / "daphne"), "--access-log", os.devnull, "-b", "127.0.0.1", "-p",
                                   str(self.args.port), "prsm_site.asgi:application"])
        self._spawn([str(BIN / "dramatiq"), "prsm_site.worker", "--processes", "1", "--threads", "1",
                     "--queues", "default", "training"])
        self.start_pool(max_batch=32)

    def _spawn(self, command: list[str]) -> subprocess.Popen:
        process = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=self.log, stderr=self.log)  # nosec B603  # our own programs
        self.processes.append(process)
        return process

    def start_pool(self, *, max_batch: int, max_wait_ms: float = 2) -> None:
        self.stop_pool()
        self.pool = subprocess.Popen([sys.executable, "-m", "prsm.serving.pool", "--socket-dir", str(self.socket_dir),  # nosec B603
                                      "--workers", str(self.args.workers), "--max-batch", str(max_batch),
                                      "--max-wait-ms", str(max_wait_ms), "--max-in-flight", str(self.args.max_in_flight)],
                                     cwd=ROOT, env=self.env, stdout=self.log, stderr=self.log)
        for _ in range(200):
            record = self.pool_record()
            if record and all(pid for pid in record["worker_pids"]) and all(
                    (self.socket_dir / name).exists() for name in record["sockets"]):
                return
            time.sleep(0.1)
        raise SystemExit("the serving pool did not come up; see var/bench-serving.log")

    def pool_record(self) -> dict | None:
        try:
            return json.loads((self.socket_dir / "pool.json").read_text())
        except (OSError, ValueError):
            return None

    def stop_pool(self) -> None:
        if self.pool is not None:
            self.pool.terminate()
            self.pool.wait(timeout=30)
            self.pool = None

    def pids(self) -> dict[str, int]:
        record = self.pool_record() or {"worker_pids": []}
        pids = {"daphne": self.daphne.pid, "pool": self.pool.pid if self.pool else None,
                **{f"worker-{i}": pid for i, pid in enumerate(record["worker_pids"])}}
        return {name: pid for name, pid in pids.items() if pid}

    def rss(self) -> dict[str, int]:
        """Resident bytes of Daphne, the pool's supervisor and each serving worker."""
        return {name: rss_bytes(pid) for name, pid in self.pids().items()}

    def cpu(self) -> dict[str, float]:
        """CPU seconds so far of Daphne and of the serving workers together (the supervisor only watches)."""
        pids = self.pids()
        return {"daphne": cpu_seconds(pids["daphne"]),
                "workers": sum(cpu_seconds(pid) for name, pid in pids.items() if name.startswith("worker-"))}

    def stop(self) -> None:
        self.stop_pool()
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.wait(timeout=60)
        self.log.close()
        shutil.rmtree(self.socket_dir, ignore_errors=True)
        if not self.args.keep:
            shutil.rmtree(self.env["MEDIA_ROOT"], ignore_errors=True)
            if self.env["DATABASE_URL"].startswith("sqlite:///"):
                for suffix in ("", "-wal", "-shm"):
                    Path(self.env["DATABASE_URL"].removeprefix("sqlite:///") + suffix).unlink(missing_ok=True)


def redis_connections() -> int:
    """Connections the Redis server has accepted so far (from every client on the machine, not only this stack)."""
    import redis

    return int(redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")).info("stats")["total_connections_received"])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far, from /proc (threads included)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def call(base: str, method: str, path: str, body: dict | None = None, token: str | None = None):
    headers = {"Content-Type": "application/json", **({"Authorization": f"Token {token}"} if token else {})}
    request = urllib.request.Request(base + path, data=json.dumps(body).encode() if body else None, method=method,
                                     headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=120) as response:  # nosec B310  # http:// to the bench's own server on 127.0.0.1
            return json.loads(response.read())
    except urllib.error.HTTPError as error:  # a refusal: say what the server said
        raise SystemExit(f"{method} {path} answered {error.code}: {error.read()[:2000].decode(errors='replace')}") from None


def wait_until_up(base: str) -> None:
    for _ in range(240):
        try:
            if json.loads(urllib.request.urlopen(base + "/healthz", timeout=2).read())["status"] == "ok":  # nosec B310  # the bench's own server
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit("the stack did not come up; see var/bench-serving.log")


def distil_and_deploy(base: str, token: str, request: dict, media_root: Path) -> tuple[str, Path, dict]:
    """(model_id, the served export's file, timings) for a job run and deployed through the API."""
    started = time.perf_counter()
    job_id = call(base, "POST", "/api/v1/distillations/", request, token)["job_id"]
    while (job := call(base, "GET", f"/api/v1/distillations/{job_id}/", token=token))["status"] not in (
            "completed", "failed", "cancelled"):
        time.sleep(2)
    if job["status"] != "completed":
        raise SystemExit(f"the job {job_id} ended {job['status']}: {json.dumps(job)[:2000]}")
    trained = time.perf_counter() - started
    try:
        model_id = call(base, "POST", f"/api/v1/distillations/{job_id}/deploy/", {}, token)["model_id"]
    except SystemExit as refused:
        if "circuit breaker tripped" not in str(refused):
            raise
        # the figures here are about serving, not quality: a moderator approves, as the console would, and
        # the output says so
        print(f"deploy refused: {refused}\n-> approved by the bench's moderator to measure serving (not a quality result)\n")
        moderator_approve(job_id)
        model_id = call(base, "POST", f"/api/v1/distillations/{job_id}/deploy/", {}, token)["model_id"]
    served = next(m for m in call(base, "GET", "/api/v1/models/", token=token) if str(m["model_id"]) == model_id)
    artifact = next(a for a in call(base, "GET", f"/api/v1/distillations/{job_id}/artifacts/", token=token)
                    if a["format"] == served["served_format"])
    return model_id, export_file(media_root, artifact["sha256"]), {"format": served["served_format"], "train_s": trained}


def moderator_approve(job_id: str) -> None:
    """Approve a tripped job through the moderation service, as a staff member on the console would."""
    script = ("from django.contrib.auth import get_user_model\n"
              "from safety.models import SafetyReport\nfrom safety.services import safety_report_decide\n"
              "from django.conf import settings\nfrom django.contrib.auth.models import Group\n"
              "moderator, _ = get_user_model().objects.get_or_create(username='bench-moderator', defaults={'is_staff': True})\n"
              "moderator.groups.add(Group.objects.get_or_create(name=settings.MODERATORS_GROUP)[0])\n"
              f"report = SafetyReport.objects.get(job__job_id='{job_id}')\n"
              "safety_report_decide(report=report, moderator=moderator, approve=True, "
              "reason='serving bench: figures about serving, not quality')\n")
    subprocess.run([sys.executable, "manage.py", "shell", "-c", script], cwd=ROOT, env=os.environ.copy(), check=True)  # nosec B603  # our own manage.py


def export_file(media_root: Path, sha256: str) -> Path:
    """The file under MEDIA_ROOT with this digest (the artifacts API gives the digest, not the path)."""
    for path in media_root.rglob("*.onnx"):
        if hashlib.sha256(path.read_bytes()).hexdigest() == sha256:
            return path
    raise SystemExit(f"no export with sha256 {sha256} under {media_root}")


def sample_inputs(name: str, count: int = 256) -> list:
    from prsm.engine.data.builtin import load_builtin

    data = load_builtin("digits" if name == "digits" else "movie-reviews")
    if data.task == "text":
        return list(data.texts[:count])
    return [[float(v) for v in row] for row in data.features[:count]]


# --- the clients -----------------------------------------------------------------------------------

class Connection:
    """One keep-alive HTTP/1.1 connection to the bench's server (Content-Length or chunked answers)."""

    def __init__(self, port: int, token: str) -> None:
        self.port, self.token = port, token
        self.reader = self.writer = None

    async def post(self, path: str, body: bytes) -> tuple[int, bytes, dict]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.writer.write((f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nAuthorization: Token {self.token}\r\n"
                           f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body)
        await self.writer.drain()
        status = int((await self.reader.readline()).split()[1])
        headers = {}
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            key, _, value = line.decode("latin-1").partition(":")
            headers[key.strip().lower()] = value.strip()
        if "content-length" in headers:
            content = await self.reader.readexactly(int(headers["content-length"]))
        else:
            content = await self._chunks()
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return status, content, headers

    async def _chunks(self) -> bytes:
        parts = []
        while size := int((await self.reader.readline()).split(b";")[0], 16):
            parts.append(await self.reader.readexactly(size))
            await self.reader.readline()
        await self.reader.readline()
        return b"".join(parts)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.reader = self.writer = None


class Tally:
    def __init__(self) -> None:
        self.ok: list[float] = []
        self.statuses: dict[str, int] = {}

    def add(self, status: str, seconds: float) -> None:
        if status == "200":
            self.ok.append(seconds)
        self.statuses[status] = self.statuses.get(status, 0) + 1

    @property
    def errors(self) -> int:
        return sum(n for s, n in self.statuses.items() if s not in ("200", "429"))


async def hammer(port: int, token: str, path: str, inputs: list, clients: int, seconds: float) -> tuple[Tally, float]:
    """``clients`` connections, each posting one input after another for ``seconds``; a 429 waits its
    Retry-After as a well-behaved client does (at most 1 s here)."""
    tally, deadline = Tally(), time.perf_counter() + seconds
    bodies = [json.dumps({"inputs": [item]}).encode() for item in inputs]

    async def client(index: int) -> None:
        connection, turn = Connection(port, token), index
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                status, _, headers = await connection.post(path, bodies[turn % len(bodies)])
            except (OSError, asyncio.IncompleteReadError, ValueError, IndexError) as error:
                tally.add(type(error).__name__, time.perf_counter() - started)
                await connection.close()
                continue
            tally.add(str(status), time.perf_counter() - started)
            if status == 429:
                await asyncio.sleep(min(1.0, float(headers.get("retry-after") or 0.05)))
            turn += clients
        await connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(clients)))
    return tally, time.perf_counter() - started


async def hammer_pool(socket_dir: Path, onnx_path: Path, inputs: list, clients: int, seconds: float) -> tuple[Tally, float]:
    """The same load on the pool alone, through its asyncio client (what the endpoint uses), no web server."""
    from prsm.serving.aio import AsyncServingClient
    from prsm.serving.errors import ServingBusy

    client, tally, deadline = AsyncServingClient(socket_dir, timeout_s=30), Tally(), time.perf_counter() + seconds

    async def one(index: int) -> None:
        turn = index
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                await client.predict_async("bench-direct", str(onnx_path), [inputs[turn % len(inputs)]])
                tally.add("200", time.perf_counter() - started)
            except ServingBusy as error:
                tally.add("429", time.perf_counter() - started)
                await asyncio.sleep(min(1.0, error.retry_after_s))
            except Exception as error:  # noqa: BLE001 - counted, not raised: the run goes on
                tally.add(type(error).__name__, time.perf_counter() - started)
            turn += clients

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(clients)))
    return tally, time.perf_counter() - started


async def sequential_api(port: int, token: str, path: str, inputs: list, calls: int) -> list[float]:
    connection, seconds = Connection(port, token), []
    for turn in range(calls + 20):
        body = json.dumps({"inputs": [inputs[turn % len(inputs)]]}).encode()
        started = time.perf_counter()
        status, content, _ = await connection.post(path, body)
        if status != 200:
            raise SystemExit(f"predict answered {status}: {content[:500]!r}")
        if turn >= 20:  # the first calls warm the pool, the connection and Django
            seconds.append(time.perf_counter() - started)
    await connection.close()
    return seconds


def sequential_plain(onnx_path: Path, inputs: list, calls: int) -> list[float]:
    """The plain loop: onnxruntime on the file, one input per ``session.run`` (with the tokenizer for text)."""
    import numpy as np
    import onnx
    import onnxruntime as ort

    model = onnx.load(str(onnx_path), load_external_data=False)
    spec = json.loads({p.key: p.value for p in model.metadata_props}["prsm.preprocessing"])
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # as the pool runs each model (prsm.serving.pool --threads 1)
    session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    if spec["task"] == "text":
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(onnx_path.parent / spec["tokenizer"]), local_files_only=True)

        def feed(item):
            encoded = tokenizer([item], truncation=True, max_length=spec["max_length"], padding="longest", return_tensors="np")
            return {n: np.asarray(encoded[n], dtype=np.int64) for n in names}
    else:
        def feed(item):
            return {names[0]: np.asarray([item], dtype=np.float32)}
    seconds = []
    for turn in range(calls + 20):
        started = time.perf_counter()
        session.run(None, feed(inputs[turn % len(inputs)]))
        if turn >= 20:
            seconds.append(time.perf_counter() - started)
    return seconds


def sequential_pool(socket_dir: Path, onnx_path: Path, inputs: list, calls: int) -> list[float]:
    """The pool without the web server: its own client over the Unix socket (preprocessing in the pool)."""
    from prsm.serving.client import ServingClient

    client, seconds = ServingClient(socket_dir, timeout_s=30), []
    for turn in range(calls + 20):
        started = time.perf_counter()
        client.predict("bench-direct", str(onnx_path), [inputs[turn % len(inputs)]])
        if turn >= 20:
            seconds.append(time.perf_counter() - started)
    return seconds


def batch_stats(socket_dir: Path) -> str:
    from prsm.serving.client import ServingClient

    for model in ServingClient(socket_dir).status().get("models", []):
        if model["key"] != "bench-direct" and model.get("batches"):
            return f"{model['inputs'] / model['batches']:.1f}"
    return "-"


# --- the figures -----------------------------------------------------------------------------------

def measure(args, stack: Stack, name: str, model_id: str, onnx_path: Path, inputs: list) -> dict:
    path = f"/api/v1/models/{model_id}/predict/"
    token, port = stack.token, args.port
    plain = sequential_plain(onnx_path, inputs, args.calls)
    pool = sequential_pool(stack.socket_dir, onnx_path, inputs, args.calls)
    cpu_before, redis_before = stack.cpu(), redis_connections()
    api = asyncio.run(sequential_api(port, token, path, inputs, args.calls))
    daphne_cpu = (stack.cpu()["daphne"] - cpu_before["daphne"]) * 1000 / (args.calls + 20)
    redis_per_call = (redis_connections() - redis_before) / (args.calls + 20)
    latency = [{"model": name, "path": label, "calls": len(values), "p50 ms": ms(values, 0.5), "p95 ms": ms(values, 0.95),
                "added at p50 ms": round((percentile(values, 0.5) - percentile(plain, 0.5)) * 1000, 2)}
               for label, values in (("plain session.run", plain), ("pool, direct", pool), ("API", api))]
    latency[2]["Daphne CPU ms/call"] = round(daphne_cpu, 2)
    latency[2]["Redis connects/call"] = round(redis_per_call, 2)
    print(table(latency), "\n", flush=True)

    throughput = []
    for label, max_batch in (("batching on (32, 2 ms)", 32), ("batching off (1)", 1)):
        stack.start_pool(max_batch=max_batch)
        asyncio.run(sequential_api(port, token, path, inputs, 5))  # load the model in the fresh pool
        cpu_before = stack.cpu()
        tally, wall = asyncio.run(hammer(port, token, path, inputs, args.clients, args.throughput_seconds))
        cpu = {k: (v - cpu_before[k]) * 1000 / max(1, sum(tally.statuses.values())) for k, v in stack.cpu().items()}
        throughput.append({"model": name, "run": label, "clients": args.clients, "inputs/s": round(len(tally.ok) / wall, 1),
                           "p50 ms": ms(tally.ok, 0.5), "p95 ms": ms(tally.ok, 0.95), "mean batch": batch_stats(stack.socket_dir),
                           "Daphne CPU ms/call": round(cpu["daphne"], 2), "pool CPU ms/call": round(cpu["workers"], 2),
                           "429": tally.statuses.get("429", 0), "errors": tally.errors, "load 1m": round(os.getloadavg()[0], 2)})
        tally, wall = asyncio.run(hammer_pool(stack.socket_dir, onnx_path, inputs, args.clients, args.throughput_seconds))
        throughput.append({"model": name, "run": f"pool alone, {label}", "clients": args.clients,
                           "inputs/s": round(len(tally.ok) / wall, 1), "p50 ms": ms(tally.ok, 0.5), "p95 ms": ms(tally.ok, 0.95),
                           "429": tally.statuses.get("429", 0), "errors": tally.errors, "load 1m": round(os.getloadavg()[0], 2)})
        print(table(throughput[-2:]), "\n", flush=True)
    ratio = throughput[0]["inputs/s"] / max(throughput[2]["inputs/s"], 1e-9)
    pool_ratio = throughput[1]["inputs/s"] / max(throughput[3]["inputs/s"], 1e-9)

    stack.start_pool(max_batch=32)
    asyncio.run(sequential_api(port, token, path, inputs, 5))
    asyncio.run(hammer(port, token, path, inputs, args.connections, 3))  # settle: every connection open, buffers grown
    before = stack.rss()
    tally, wall = asyncio.run(hammer(port, token, path, inputs, args.connections, args.load_seconds))
    after = stack.rss()
    growth = {k: round((after.get(k, 0) - v) / v * 100, 1) for k, v in before.items() if v}
    load = {"model": name, "connections": args.connections, "seconds": round(wall), "answered": sum(tally.statuses.values()),
            "ok/s": round(len(tally.ok) / wall, 1), "429": tally.statuses.get("429", 0), "other errors": tally.errors,
            "p50 ms": ms(tally.ok, 0.5), "p95 ms": ms(tally.ok, 0.95),
            "RSS MiB start": " / ".join(f"{k} {v / 2**20:.0f}" for k, v in before.items()),
            "RSS growth %": " / ".join(f"{k} {v:+.1f}" for k, v in growth.items()), "load 1m": round(os.getloadavg()[0], 2)}
    if tally.errors:
        load["error kinds"] = {k: v for k, v in tally.statuses.items() if k not in ("200", "429")}
    print(table([load]), "\n", flush=True)
    return {"latency": latency, "throughput": throughput, "ratio": ratio, "pool_ratio": pool_ratio, "load": load, "growth": growth}


def main() -> None:
    args = parse_args()
    print_machine(f"serving: {args.calls} sequential calls, {args.clients} clients x {args.throughput_seconds:g} s, "
                  f"{args.connections} connections x {args.load_seconds:g} s, pool of {args.workers}")
    if "DB_CONN_MAX_AGE" in os.environ:  # the settings' default, 0, opens a database connection per thread hop
        print(f"DB_CONN_MAX_AGE={os.environ['DB_CONN_MAX_AGE']} from the environment\n")
    env = environment(args)
    os.environ.update(env)
    names = ([] if args.text_only else ["digits"]) + (["movie-reviews"] if args.text or args.text_only else [])
    if "movie-reviews" in names and not catalog_teacher_built("sentiment-minilm"):
        print("catalog:sentiment-minilm is not built (prsm catalog build sentiment-minilm): the text model is skipped\n")
        names.remove("movie-reviews")
    if not names:
        return
    stack = Stack(args, env)
    stack.start()
    base = f"http://127.0.0.1:{args.port}"
    results = {}
    try:
        wait_until_up(base)
        stack.token = call(base, "POST", "/api/v1/auth/register/",
                           {"username": "bench", "password": PASSWORD, "email": "bench@example.com"})["token"]
        for name in names:
            model_id, onnx_path, info = distil_and_deploy(base, stack.token, MODELS[name], Path(env["MEDIA_ROOT"]))
            print(f"## {name}: distilled in {info['train_s']:.0f} s, serving {info['format']} ({onnx_path.stat().st_size:,} bytes)\n",
                  flush=True)
            results[name] = measure(args, stack, name, model_id, onnx_path, sample_inputs(name))
    finally:
        stack.stop()
    print("## summary")
    print(table([{"model": name, "API adds at p50 ms": r["latency"][2]["added at p50 ms"],
                  "batching on/off, API": f"{r['ratio']:.2f}x", "batching on/off, pool alone": f"{r['pool_ratio']:.2f}x", "load errors (not 429)": r["load"]["other errors"],
                  "load p95 ms": r["load"]["p95 ms"], "largest RSS growth %": max(r["growth"].values(), default=0)}
                 for name, r in results.items()]))
    print("goals: the API adds < 5 ms at p50; batching on >= 3x off; 0 errors other than 429; RSS growth < 10%")


if __name__ == "__main__":
    main()
