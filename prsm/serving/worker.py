"""One serving process: an asyncio server on a Unix socket answering predict, warm, unload and
status (wire format in ``protocol``). Started and restarted by ``prsm.serving.pool``.

Models load on first use, in a thread, so the models already loaded keep answering; each load's
growth of the resident memory is its cost, and past the budget the least recently used model is
unloaded. onnxruntime runs in a thread executor through each model's ``DynamicBatcher``. A model
has at most ``max_in_flight`` requests in flight (waiting for its load included); more are
answered ``busy`` with a retry time instead of queueing without end.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import signal
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from .batching import DynamicBatcher
from .errors import InputError, ModelUnavailable, ServingError
from .model import DEFAULT_THREADS, ServedModel, example_inputs
from .protocol import HEADER, MAX_FRAME, FrameError, decode_body, encode_frame, from_wire

log = logging.getLogger("prsm.serving.worker")


@dataclass
class Settings:
    memory_bytes: int = 1024 * 2**20
    max_batch: int = 32
    max_wait_ms: float = 2.0
    max_in_flight: int = 64
    threads: int = DEFAULT_THREADS


@dataclass
class Loaded:
    key: str
    path: str
    version: str
    batcher: DynamicBatcher
    memory_bytes: int
    loaded_at: float = field(default_factory=time.time)
    last_used: float = field(default_factory=time.time)

    def status(self) -> dict:
        return {"key": self.key, "path": self.path, "version": self.version, "task": self.batcher.model.task,
                "memory_bytes": self.memory_bytes, "loaded_at": self.loaded_at, "last_used": self.last_used,
                **self.batcher.stats.as_dict()}


def resident_bytes() -> int:
    """This process's resident set size, from /proc (psutil is not a dependency)."""
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class Worker:
    def __init__(self, index: int, settings: Settings) -> None:
        self.index, self.settings = index, settings
        self.models: OrderedDict[str, Loaded] = OrderedDict()  # least recently used first
        self.loading: dict[str, asyncio.Task] = {}
        self.in_flight: dict[str, int] = {}
        self.busy: dict[str, int] = {}
        self.runs = ThreadPoolExecutor(max_workers=2, thread_name_prefix="prsm-run")
        self.loads = ThreadPoolExecutor(max_workers=1, thread_name_prefix="prsm-load")  # one at a time: clean RSS deltas

    # --- connections -------------------------------------------------------------------------
    async def serve_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    header = await reader.readexactly(HEADER.size)
                except asyncio.IncompleteReadError:
                    return
                (length,) = HEADER.unpack(header)
                if length > MAX_FRAME:
                    await _send(writer, _error("bad_request", f"frame of {length:,} bytes, more than {MAX_FRAME:,}"))
                    return  # the rest of the stream cannot be trusted to be framed
                body = await reader.readexactly(length)
                await _send(writer, await self.answer(body))
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            writer.close()

    async def answer(self, body: bytes) -> dict:
        try:
            message = decode_body(body)
            op = message.get("op")
            handler = {"predict": self.predict, "warm": self.warm, "unload": self.unload, "status": self.status}.get(op)
            if handler is None:
                return _error("bad_request", f"unknown op {str(op)[:40]!r}")
            return await handler(message)
        except FrameError as error:
            return _error("bad_request", str(error))
        except InputError as error:
            return _error("input", str(error))
        except ModelUnavailable as error:
            return _error("model", str(error))
        except Exception as error:  # nothing a caller sends may end the worker
            log.exception("worker %s: %s failed", self.index, type(error).__name__)
            return _error("internal", f"{type(error).__name__} while serving")

    # --- ops ---------------------------------------------------------------------------------
    async def predict(self, message: dict) -> dict:
        key, path, version = _model_fields(message)
        inputs = message.get("inputs")
        if not isinstance(inputs, list):
            raise InputError("inputs must be a list")
        if self.in_flight.get(key, 0) >= self.settings.max_in_flight:
            self.busy[key] = self.busy.get(key, 0) + 1
            return {**_error("busy", f"{self.in_flight[key]} requests in flight for this model"),
                    "retry_after_s": self._retry_after(key)}
        self.in_flight[key] = self.in_flight.get(key, 0) + 1
        try:
            loaded = await self._model(key, path, version)
            if loaded.batcher.model.task == "image":
                inputs = from_wire(inputs)
            outputs = await loaded.batcher.predict(inputs)
        finally:
            self.in_flight[key] -= 1
        return {"ok": True, "outputs": outputs, "version": loaded.version}

    async def warm(self, message: dict) -> dict:
        loaded = await self._model(*_model_fields(message))
        return {"ok": True, "model": loaded.status()}

    async def unload(self, message: dict) -> dict:
        key = message.get("key")
        loaded = self.models.pop(key, None) if isinstance(key, str) else None
        gc.collect()
        return {"ok": True, "unloaded": loaded is not None}

    async def status(self, message: dict) -> dict:
        models = [{**m.status(), "worker": self.index, "in_flight": self.in_flight.get(m.key, 0),
                   "busy": self.busy.get(m.key, 0)} for m in self.models.values()]
        return {"ok": True, "worker": {"index": self.index, "pid": os.getpid(), "rss_bytes": resident_bytes(),
                                       "models_bytes": sum(m.memory_bytes for m in self.models.values()),
                                       "memory_budget_bytes": self.settings.memory_bytes,
                                       "loading": sorted(self.loading)},
                "models": models}

    # --- models ------------------------------------------------------------------------------
    async def _model(self, key: str, path: str, version: str) -> Loaded:
        loaded = self.models.get(key)
        if loaded is not None and (loaded.path, loaded.version) == (path, version):
            self.models.move_to_end(key)
            loaded.last_used = time.time()
            return loaded
        task = self.loading.get(key)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._load(key, path, version))
            self.loading[key] = task
            task.add_done_callback(lambda _: self.loading.pop(key, None))
        return await asyncio.shield(task)  # a caller that goes away does not cancel the load

    async def _load(self, key: str, path: str, version: str) -> Loaded:
        loop = asyncio.get_running_loop()
        model, memory = await loop.run_in_executor(self.loads, self._load_measured, path)
        loaded = Loaded(key, path, version, DynamicBatcher(model, self.runs, self.settings.max_batch,
                                                           self.settings.max_wait_ms), memory)
        self.models.pop(key, None)  # a new version replaces the old; its callers in flight finish on it
        self.models[key] = loaded
        self._evict(keep=key)
        log.info("worker %s loaded %s (%s bytes)", self.index, key, memory)
        return loaded

    def _load_measured(self, path: str) -> tuple[ServedModel, int]:
        before = resident_bytes()
        try:
            model = ServedModel.load(path, threads=self.settings.threads)
            model.predict(example_inputs(model.preprocessing))  # warm-up: first runs allocate
        except ServingError:
            raise
        except Exception as error:  # a directory, no permission, a tokenizer that does not load...
            raise ModelUnavailable(f"{Path(path).name}: cannot load ({type(error).__name__})") from None
        return model, max(resident_bytes() - before, Path(path).stat().st_size)

    def _evict(self, keep: str) -> None:
        while sum(m.memory_bytes for m in self.models.values()) > self.settings.memory_bytes and len(self.models) > 1:
            oldest = next(k for k in self.models if k != keep)
            self.models.pop(oldest)
            log.info("worker %s unloaded %s (memory budget)", self.index, oldest)
        gc.collect()

    def _retry_after(self, key: str) -> float:
        loaded = self.models.get(key)
        mean_ms = (loaded.batcher.stats.as_dict()["mean_batch_ms"] if loaded else None) or 100.0
        waves = 1 + self.in_flight.get(key, 0) // self.settings.max_batch
        return round(max(0.05, mean_ms * waves / 1000), 3)


def _model_fields(message: dict) -> tuple[str, str, str]:
    key, path, version = message.get("key"), message.get("path"), message.get("version", "")
    if not isinstance(key, str) or not key or not isinstance(path, str) or not path or not isinstance(version, str):
        raise FrameError("a model is named by key and path (strings) and an optional version")
    return key, path, version


def _error(kind: str, message: str) -> dict:
    return {"ok": False, "error": kind, "message": message}


async def _send(writer: asyncio.StreamWriter, answer: dict) -> None:
    try:
        frame = encode_frame(answer)
    except (FrameError, ValueError) as error:  # e.g. an answer too large, or NaN in the outputs
        frame = encode_frame(_error("internal", f"answer not sendable ({error})"))
    writer.write(frame)
    await writer.drain()


async def serve(index: int, socket_path: Path, settings: Settings) -> None:
    import onnxruntime  # noqa: F401 - imported before any load, so a model's memory is its own

    worker = Worker(index, settings)
    socket_path.unlink(missing_ok=True)
    old_umask = os.umask(0o177)  # the socket is born 0600: no window where others may connect
    try:
        server = await asyncio.start_unix_server(worker.serve_connection, path=str(socket_path), limit=MAX_FRAME + 1024)
    finally:
        os.umask(old_umask)
    os.chmod(socket_path, 0o600)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    parent = os.getppid()
    watcher = loop.create_task(_watch_parent(parent, stop))
    try:
        async with server:
            await stop.wait()
    finally:
        watcher.cancel()
        socket_path.unlink(missing_ok=True)


async def _watch_parent(parent: int, stop: asyncio.Event) -> None:
    """A worker whose supervisor died goes too, rather than serving a pool nobody manages."""
    while os.getppid() == parent:
        await asyncio.sleep(1.0)
    stop.set()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m prsm.serving.worker")
    parser.add_argument("--index", type=int, required=True)
    parser.add_argument("--socket", type=Path, required=True)
    parser.add_argument("--memory-mb", type=float, default=1024)
    parser.add_argument("--max-batch", type=int, default=32)
    parser.add_argument("--max-wait-ms", type=float, default=2.0)
    parser.add_argument("--max-in-flight", type=int, default=64)
    parser.add_argument("--threads", type=int, default=DEFAULT_THREADS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings = Settings(int(args.memory_mb * 2**20), args.max_batch, args.max_wait_ms, args.max_in_flight, args.threads)
    asyncio.run(serve(args.index, args.socket, settings))


if __name__ == "__main__":
    main()
