"""The serving pool's client for asyncio code (the web server's predict endpoint): the same wire format,
routing and errors as ``client.ServingClient``, without a thread per waiting request, so concurrent calls
reach the pool together and batch there."""

from __future__ import annotations

import asyncio

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
        writer = None
        try:
            async with asyncio.timeout(self.timeout_s):
                reader, writer = await asyncio.open_unix_connection(str(socket_path(self.socket_dir, index)))
                writer.write(frame)
                await writer.drain()
                (length,) = HEADER.unpack(await reader.readexactly(HEADER.size))
                if length > MAX_FRAME:
                    raise ServingUnavailable("the serving worker sent a frame too large")
                answer = decode_body(await reader.readexactly(length))
        except TimeoutError:
            raise ServingUnavailable(f"the serving worker did not answer within {self.timeout_s:g} s") from None
        except (OSError, asyncio.IncompleteReadError, FrameError) as error:
            raise ServingUnavailable(f"serving worker {index} is unavailable ({type(error).__name__})") from None
        finally:
            if writer is not None:
                writer.close()
        return _checked(answer)
