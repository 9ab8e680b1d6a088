"""The serving pool's client for asyncio code (the web server's predict endpoint): the same wire format,
routing and errors as ``client.ServingClient``, without a thread per waiting request, so concurrent calls
reach the pool together and batch there. Connections to the workers are kept open between calls (a worker
answers frame after frame on one connection), up to ``KEPT_PER_WORKER`` idle ones per worker."""

from __future__ import annotations

import asyncio
import weakref

from .client import ServingClient, _checked
from .errors import InputError, ServingUnavailable
from .pool import socket_path
from .protocol import HEADER, MAX_FRAME, FrameError, decode_body, encode_frame, to_wire


class AsyncServingClient(ServingClient):
    async def predict_async(self, key: str, path: str, inputs: list, version: str = "") -> list[dict]:
        answer = await self._send_async(self.worker_for(key), {"op": "predict", "key": key, "path": str(path),
                                                               "version": version, "inputs": to_wire(list(inputs))})
        return answer["outputs"]

    async def _send_async(self, index: int, message: dict) -> dict:
        try:
            frame = encode_frame(message)
        except FrameError as error:
            raise InputError(f"request too large: {error}") from None
        except ValueError as error:  # NaN or infinity: JSON has no such numbers
            raise InputError(f"inputs are not JSON: {error}") from None
        path = str(socket_path(self.socket_dir, index))
        idle = _idle_connections(path)
        while idle:  # a kept connection; one the worker closed meanwhile (a restart) is dropped and the next tried
            connection = idle.pop()
            try:
                return await self._exchange(connection, frame, idle)
            except _Stale:
                continue
        try:
            async with asyncio.timeout(self.timeout_s):
                connection = await asyncio.open_unix_connection(path)
        except TimeoutError:
            raise ServingUnavailable(f"the serving worker did not answer within {self.timeout_s:g} s") from None
        except OSError as error:
            raise ServingUnavailable(f"serving worker {index} is unavailable ({type(error).__name__})") from None
        try:
            return await self._exchange(connection, frame, idle, fresh=True)
        except _Stale as stale:
            raise ServingUnavailable(f"serving worker {index} is unavailable ({stale.args[0]})") from None

    async def _exchange(self, connection, frame: bytes, idle: list, fresh: bool = False) -> dict:
        """One frame out, one back; the connection goes back to ``idle`` for the next call. A kept connection
        that fails before any answer arrives raises ``_Stale`` (the frame is sent again on another)."""
        reader, writer = connection
        answered = False
        try:
            async with asyncio.timeout(self.timeout_s):
                writer.write(frame)
                await writer.drain()
                header = await reader.readexactly(HEADER.size)
                answered = True
                (length,) = HEADER.unpack(header)
                if length > MAX_FRAME:
                    raise ServingUnavailable("the serving worker sent a frame too large")
                answer = decode_body(await reader.readexactly(length))
        except TimeoutError:
            writer.close()
            raise ServingUnavailable(f"the serving worker did not answer within {self.timeout_s:g} s") from None
        except (OSError, asyncio.IncompleteReadError, FrameError) as error:
            writer.close()
            if not answered:
                raise _Stale(type(error).__name__) from None
            raise ServingUnavailable(f"the serving worker broke off its answer ({type(error).__name__})") from None
        except BaseException:
            writer.close()
            raise
        if len(idle) < KEPT_PER_WORKER:
            idle.append(connection)
        else:
            writer.close()
        return _checked(answer)


class _Stale(Exception):
    pass


KEPT_PER_WORKER = 64  # idle connections kept per serving worker and event loop
_idle: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # event loop -> {socket path: [(reader, writer)]}


def _idle_connections(path: str) -> list:
    """The idle connections to one worker's socket, for the running event loop (a connection belongs to
    the loop that opened it)."""
    return _idle.setdefault(asyncio.get_running_loop(), {}).setdefault(path, [])
