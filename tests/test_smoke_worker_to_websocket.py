"""End to end through real parts: Daphne, a dramatiq worker process, Redis as broker and channel layer."""

import asyncio
import json

import pytest
import websockets
from rest_framework.authtoken.models import Token

from accounts.services import user_create
from accounts.tasks import user_notify

pytestmark = pytest.mark.django_db(transaction=True)


async def _receive_after_enqueue(ws_url: str, user_id: int, payload: dict) -> dict:
    async with websockets.connect(ws_url, open_timeout=10) as ws:
        # The socket is in its group once the handshake completes; only now send the message.
        user_notify.send(user_id, payload)
        return json.loads(await asyncio.wait_for(ws.recv(), timeout=30))


def test_a_message_sent_by_an_actor_in_a_real_worker_reaches_a_websocket_client(live_daphne, start_worker):
    user = user_create(username="ada", password="correct horse battery", email="ada@example.com")
    token = Token.objects.create(user=user)
    start_worker()
    ws_url = live_daphne.replace("http://", "ws://") + f"/ws/notifications/?token={token.key}"

    received = asyncio.run(_receive_after_enqueue(ws_url, user.id, {"type": "hello", "n": 42}))

    assert received == {"type": "hello", "n": 42}


def test_a_websocket_without_credentials_is_closed(live_daphne):
    async def connect():
        async with websockets.connect(live_daphne.replace("http://", "ws://") + "/ws/notifications/") as ws:
            await ws.recv()

    with pytest.raises((websockets.exceptions.InvalidStatus, websockets.exceptions.ConnectionClosed)):
        asyncio.run(connect())
