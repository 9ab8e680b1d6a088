"""The websocket stack: origin checked against ALLOWED_HOSTS, session or ?token= auth."""

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from rest_framework.authtoken.models import Token

from prsm_site.asgi import application

from .factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


async def _handshake(path: str, headers=()) -> tuple[bool, object]:
    communicator = WebsocketCommunicator(application, path, headers=list(headers))
    connected, code = await communicator.connect(timeout=5)
    await communicator.disconnect()
    return connected, code


def test_a_token_in_the_query_string_authenticates():
    token = Token.objects.create(user=UserFactory())

    connected, _ = async_to_sync(_handshake)(f"/ws/notifications/?token={token.key}", [(b"origin", b"http://localhost")])

    assert connected


def test_a_wrong_token_is_refused():
    connected, code = async_to_sync(_handshake)("/ws/notifications/?token=nope")

    assert not connected
    assert code == 4401


def test_a_handshake_from_a_foreign_origin_is_refused_even_with_a_token():
    token = Token.objects.create(user=UserFactory())

    connected, _ = async_to_sync(_handshake)(f"/ws/notifications/?token={token.key}", [(b"origin", b"https://evil.example")])

    assert not connected
