"""What every websocket shares: JSON frames read with limits, and a clean refusal of unknown paths.

Close codes mirror HTTP: 4400 a frame this service cannot read, 4401 not signed in, 4404 no such
stream. A frame that is not a JSON text frame (binary, empty, not JSON, nested too deep, a number of
thousands of digits, too long) is answered with ``{"type": "error", "message"}`` and the socket is
closed with 4400: a client that sends one is broken, and nothing it sends after is trusted to
parse. A well-formed frame that asks for something wrong is the consumer's to answer, and the
socket stays open."""

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from . import untrusted_json

BAD_FRAME = 4400
NOT_FOUND = 4404
MAX_FRAME_CHARS = 64 * 1024  # the frames clients send are a few dozen characters ({"since": SEQ})


class BadFrame(ValueError):
    pass


def frame_json(text_data: str | None, bytes_data: bytes | None):
    """The JSON value of a text frame; ``BadFrame`` saying why for anything else."""
    if text_data is None:
        raise BadFrame("send JSON text frames, not binary ones" if bytes_data else "an empty frame is not JSON")
    if len(text_data) > MAX_FRAME_CHARS:
        raise BadFrame(f"a frame of {len(text_data):,} characters is too long (at most {MAX_FRAME_CHARS:,})")
    if not text_data.strip():
        raise BadFrame("an empty frame is not JSON")
    try:
        return untrusted_json.loads(text_data)
    except untrusted_json.UntrustedJsonError as exc:
        raise BadFrame(str(exc)) from None


class JsonFrameConsumer(AsyncJsonWebsocketConsumer):
    """``AsyncJsonWebsocketConsumer`` whose frames are parsed with ``frame_json``; ``receive_json``
    gets only what parsed."""

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        try:
            content = frame_json(text_data, bytes_data)
        except BadFrame as exc:
            await self.send_json({"type": "error", "message": str(exc)})
            await self.close(code=BAD_FRAME)
            return
        await self.receive_json(content, **kwargs)


async def unknown_path(scope, receive, send):
    """The last route, a bare ASGI app (no consumer, no channel): a path no stream serves is refused
    before the handshake completes (4404; a browser sees the handshake refused with HTTP 403)."""
    if (await receive())["type"] == "websocket.connect":
        await send({"type": "websocket.close", "code": NOT_FOUND})
