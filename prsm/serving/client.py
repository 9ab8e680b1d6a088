"""The serving pool's client: ``ServingClient(socket_dir).predict(key, path, inputs)``.

Blocking and thread-safe (one short connection per call). A model ``key`` always goes to worker
``zlib.crc32(key) % N``, so one model's requests meet in one process and batch together.
"""

from __future__ import annotations

import json
import socket
import zlib
from pathlib import Path

from .errors import InputError, ModelUnavailable, ServingBusy, ServingError, ServingUnavailable
from .pool import POOL_FILE, socket_path
from .protocol import HEADER, MAX_FRAME, FrameError, decode_body, encode_frame, to_wire


class ServingClient:
    def __init__(self, socket_dir: Path | str, timeout_s: float = 30) -> None:
        self.socket_dir, self.timeout_s = Path(socket_dir), timeout_s

    def predict(self, key: str, path: str, inputs: list, version: str = "") -> list[dict]:
        """One ``{"label", "probabilities"}`` per input; raises InputError, ServingBusy,
        ServingUnavailable, or ModelUnavailable (a path that is not a servable model)."""
        answer = self._call(key, {"op": "predict", "key": key, "path": str(path), "version": version,
                                  "inputs": to_wire(list(inputs))})
        return answer["outputs"]

    def warm(self, key: str, path: str, version: str = "") -> dict:
        """Load the model now (and run it once) so the first caller does not wait; its status."""
        return self._call(key, {"op": "warm", "key": key, "path": str(path), "version": version})["model"]

    def unload(self, key: str) -> bool:
        return self._call(key, {"op": "unload", "key": key})["unloaded"]

    def status(self) -> dict:
        """``{"workers": [{"index", "alive", "pid", "rss_bytes", ...}], "models": [...]}``;
        a worker that does not answer is listed with ``alive: False``."""
        workers, models = [], []
        for index in range(self._pool()["workers"]):
            try:
                answer = self._send(index, {"op": "status"})
            except ServingUnavailable as error:
                workers.append({"index": index, "alive": False, "error": str(error)})
                continue
            workers.append({**answer["worker"], "alive": True})
            models += answer["models"]
        return {"workers": workers, "models": models}

    def worker_for(self, key: str) -> int:
        return zlib.crc32(key.encode()) % self._pool()["workers"]

    def _pool(self) -> dict:
        try:
            pool = json.loads((self.socket_dir / POOL_FILE).read_text())
            int(pool["workers"])
        except (OSError, ValueError, KeyError, TypeError):
            raise ServingUnavailable("the serving pool is not running") from None
        return pool

    def _call(self, key: str, message: dict) -> dict:
        return self._send(self.worker_for(key), message)

    def _send(self, index: int, message: dict) -> dict:
        try:
            frame = encode_frame(message)
        except FrameError as error:
            raise InputError(f"request too large: {error}") from None
        except ValueError as error:  # NaN or infinity in the inputs: JSON has no such numbers
            raise InputError(f"inputs are not JSON: {error}") from None
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
                connection.settimeout(self.timeout_s)
                connection.connect(str(socket_path(self.socket_dir, index)))
                connection.sendall(frame)
                (length,) = HEADER.unpack(_read(connection, HEADER.size))
                if length > MAX_FRAME:
                    raise ServingUnavailable("the serving worker sent a frame too large")
                answer = decode_body(_read(connection, length))
        except socket.timeout:
            raise ServingUnavailable(f"the serving worker did not answer within {self.timeout_s:g} s") from None
        except (OSError, FrameError) as error:
            raise ServingUnavailable(f"serving worker {index} is unavailable ({type(error).__name__})") from None
        return _checked(answer)


def _read(connection: socket.socket, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = connection.recv(min(left, 1 << 20))
        if not chunk:
            raise ConnectionResetError("the serving worker closed the connection")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _checked(answer: dict) -> dict:
    if answer.get("ok"):
        return answer
    kind, message = answer.get("error"), str(answer.get("message", "serving failed"))
    if kind == "input" or kind == "bad_request":
        raise InputError(message)
    if kind == "busy":
        raise ServingBusy(message, float(answer.get("retry_after_s", 1.0)))
    if kind == "model":
        raise ModelUnavailable(message)
    if kind == "unavailable":
        raise ServingUnavailable(message)
    raise ServingError(message)
