"""The serving pool's supervisor: ``python -m prsm.serving.pool --socket-dir DIR --workers N ...``.

Starts N worker processes (``prsm.serving.worker``), each serving ``DIR/worker-<i>.sock`` (mode
0600), restarts one that dies (with a growing pause if it keeps dying), and writes
``DIR/pool.json`` ``{"workers": N, "pid": ..., "sockets": [...], "restarts": [...]}`` for clients.
SIGTERM or SIGINT stops the workers and removes the sockets and ``pool.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

log = logging.getLogger("prsm.serving.pool")

POOL_FILE = "pool.json"


def socket_path(socket_dir: Path, index: int) -> Path:
    return Path(socket_dir) / f"worker-{index}.sock"


class Supervisor:
    def __init__(self, socket_dir: Path, workers: int, worker_args: list[str]) -> None:
        self.socket_dir, self.count, self.worker_args = Path(socket_dir), workers, worker_args
        self.processes: list[subprocess.Popen | None] = [None] * workers
        self.restarts = [0] * workers
        self.next_start = [0.0] * workers
        self.quick = [0] * workers  # deaths in a row soon after a start
        self.stopping = False

    def start(self, index: int) -> None:
        command = [sys.executable, "-m", "prsm.serving.worker", "--index", str(index),
                   "--socket", str(socket_path(self.socket_dir, index)), *self.worker_args]
        self.processes[index] = subprocess.Popen(command)  # nosec B603 - our own interpreter and module, no shell
        self.write_pool_file()

    def write_pool_file(self) -> None:
        record = {"workers": self.count, "pid": os.getpid(),
                  "sockets": [socket_path(self.socket_dir, i).name for i in range(self.count)],
                  "worker_pids": [p.pid if p else None for p in self.processes], "restarts": self.restarts}
        temporary = self.socket_dir / (POOL_FILE + ".tmp")
        temporary.write_text(json.dumps(record))
        temporary.replace(self.socket_dir / POOL_FILE)  # readers never see half a file

    def watch(self) -> None:
        """Restart dead workers until asked to stop; a worker that dies within 10 s of its start
        waits 1, 2, 4 ... up to 30 s before the next start, so a crash loop does not spin."""
        started = [time.monotonic()] * self.count
        while not self.stopping:
            now = time.monotonic()
            for index, process in enumerate(self.processes):
                if process is not None and process.poll() is None:
                    continue
                if process is not None:
                    log.warning("serving worker %s exited with %s; restarting", index, process.returncode)
                    self.processes[index] = None
                    self.restarts[index] += 1
                    self.quick[index] = self.quick[index] + 1 if now - started[index] < 10 else 0
                    self.next_start[index] = now + (min(30.0, 2.0 ** (self.quick[index] - 1)) if self.quick[index] else 0)
                if now >= self.next_start[index] and not self.stopping:
                    self.start(index)
                    started[index] = now
            time.sleep(0.2)

    def stop(self, *_) -> None:
        self.stopping = True

    def shutdown(self) -> None:
        for process in self.processes:
            if process and process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + 10
        for process in self.processes:
            if process:
                try:
                    process.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        for index in range(self.count):
            socket_path(self.socket_dir, index).unlink(missing_ok=True)
        (self.socket_dir / POOL_FILE).unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m prsm.serving.pool", description=__doc__.splitlines()[0])
    parser.add_argument("--socket-dir", type=Path, required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--memory-mb", type=float, default=1024, help="per worker, for its loaded models")
    parser.add_argument("--max-batch", type=int, default=32)
    parser.add_argument("--max-wait-ms", type=float, default=2.0)
    parser.add_argument("--max-in-flight", type=int, default=64, help="per model and worker")
    parser.add_argument("--threads", type=int, default=1, help="onnxruntime intra-op threads per model")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    args.socket_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    worker_args = ["--memory-mb", str(args.memory_mb), "--max-batch", str(args.max_batch),
                   "--max-wait-ms", str(args.max_wait_ms), "--max-in-flight", str(args.max_in_flight),
                   "--threads", str(args.threads)]
    supervisor = Supervisor(args.socket_dir, max(1, args.workers), worker_args)
    signal.signal(signal.SIGTERM, supervisor.stop)
    signal.signal(signal.SIGINT, supervisor.stop)
    try:
        for index in range(supervisor.count):
            supervisor.start(index)
        supervisor.watch()
    finally:
        supervisor.shutdown()


if __name__ == "__main__":
    main()
