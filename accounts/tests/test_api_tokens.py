"""Named API tokens: made with a name, the key returned once and stored only as a hash, accepted in
``Authorization: Token KEY`` and ``?token=`` beside DRF's older tokens, refused at once when revoked."""

import hashlib

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.db import connection
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts import services
from accounts.models import ApiToken
from accounts.selectors import api_tokens_of
from prsm_site.asgi import application

from .factories import UserFactory

pytestmark = pytest.mark.django_db


def _me(key: str):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client.get("/api/v1/me/")


def _every_text_in_the_database() -> str:
    """Every column of every row of the accounts tables, as text."""
    with connection.cursor() as cursor:
        dumps = []
        for table in (ApiToken._meta.db_table, "auth_user"):
            cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 - our own table names  # nosec B608
            dumps.append(repr(cursor.fetchall()))
    return "\n".join(dumps)


def test_creating_a_token_returns_its_key_once_and_stores_only_its_hash():
    user = UserFactory()

    token, key = services.api_token_create(user=user, name="laptop SDK")

    token.refresh_from_db()
    assert token.name == "laptop SDK" and token.user == user and token.is_live
    assert token.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert key.startswith(token.prefix) and len(token.prefix) < 16 and len(key) > 40
    assert key not in _every_text_in_the_database()
    assert not hasattr(token, "key")
    assert [t.pk for t in api_tokens_of(user=user)] == [token.pk]


def test_two_tokens_get_different_keys():
    user = UserFactory()

    keys = {services.api_token_create(user=user, name=name)[1] for name in ("one", "two")}

    assert len(keys) == 2


def test_the_key_authenticates_the_api_and_marks_the_token_used():
    user = UserFactory()
    token, key = services.api_token_create(user=user, name="ci")

    response = _me(key)

    assert response.status_code == 200
    assert response.json()["username"] == user.username
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_a_revoked_key_is_refused_at_once():
    user = UserFactory()
    token, key = services.api_token_create(user=user, name="ci")
    assert _me(key).status_code == 200

    services.api_token_revoke(user=user, token_id=token.pk)

    response = _me(key)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"
    assert api_tokens_of(user=user).count() == 0
    assert api_tokens_of(user=user, live_only=False).get().revoked_at is not None


def test_a_wrong_key_with_the_new_prefix_is_refused():
    user = UserFactory()
    _, key = services.api_token_create(user=user, name="ci")

    assert _me(key[:-1] + ("A" if key[-1] != "A" else "B")).status_code == 401


def test_another_user_cannot_revoke_a_token():
    owner, other = UserFactory(), UserFactory()
    token, key = services.api_token_create(user=owner, name="ci")

    with pytest.raises(services.ApiTokenError) as refused:
        services.api_token_revoke(user=other, token_id=token.pk)

    assert refused.value.status_code == 404
    token.refresh_from_db()
    assert token.is_live and _me(key).status_code == 200


def test_a_user_has_at_most_twenty_live_tokens_and_a_revoked_one_frees_a_place():
    user = UserFactory()
    tokens = [services.api_token_create(user=user, name=f"token {n}")[0] for n in range(services.API_TOKEN_LIMIT)]

    with pytest.raises(services.ApiTokenError) as refused:
        services.api_token_create(user=user, name="one more")

    assert refused.value.code == "token_limit" and refused.value.field == "name"
    assert "20 tokens" in refused.value.message
    services.api_token_revoke(user=user, token_id=tokens[0].pk)
    assert services.api_token_create(user=user, name="one more")[0].is_live


@pytest.mark.parametrize("name", ["", "   "])
def test_a_token_needs_a_name(name):
    with pytest.raises(services.ApiTokenError) as refused:
        services.api_token_create(user=UserFactory(), name=name)

    assert refused.value.field == "name"


def test_two_live_tokens_cannot_share_a_name():
    user = UserFactory()
    services.api_token_create(user=user, name="laptop")

    with pytest.raises(services.ApiTokenError) as refused:
        services.api_token_create(user=user, name="LAPTOP")

    assert refused.value.code == "name_taken"


def test_a_token_of_an_inactive_user_is_refused():
    user = UserFactory()
    _, key = services.api_token_create(user=user, name="ci")
    user.is_active = False
    user.save()

    assert _me(key).status_code == 401


def test_the_older_drf_tokens_still_work():
    user = UserFactory()
    services.api_token_create(user=user, name="ci")
    key = services.user_token_get_or_create(user=user)

    assert _me(key).status_code == 200
    assert _me(Token.generate_key()).status_code == 401


async def _handshake(path: str) -> tuple[bool, object]:
    communicator = WebsocketCommunicator(application, path, headers=[(b"origin", b"http://localhost")])
    connected, code = await communicator.connect(timeout=5)
    await communicator.disconnect()
    return connected, code


@pytest.mark.django_db(transaction=True)
def test_a_websocket_accepts_the_key_until_it_is_revoked():
    user = UserFactory()
    token, key = services.api_token_create(user=user, name="notebook")

    assert async_to_sync(_handshake)(f"/ws/notifications/?token={key}")[0]

    services.api_token_revoke(user=user, token_id=token.pk)

    connected, code = async_to_sync(_handshake)(f"/ws/notifications/?token={key}")
    assert not connected and code == 4401


@pytest.mark.django_db(transaction=True)
def test_a_websocket_still_accepts_an_older_drf_token():
    token = Token.objects.create(user=UserFactory())

    assert async_to_sync(_handshake)(f"/ws/notifications/?token={token.key}")[0]
