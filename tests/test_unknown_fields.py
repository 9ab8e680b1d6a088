"""A field a route does not take is refused with a 400 naming it, on every JSON body route
(core.serializers.StrictInput), not silently dropped."""

import uuid

import pytest
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient


@pytest.fixture
def client(db):
    user = get_user_model().objects.create_user("ursula", password="a long enough passphrase 1")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


@pytest.mark.parametrize(("method", "path", "body"), [
    ("post", "/api/v1/auth/register/", {"username": "ines", "password": "a long enough passphrase 2",
                                        "email": "ines@example.com", "is_staff": True}),
    ("post", "/api/v1/auth/token/", {"username": "ursula", "password": "a long enough passphrase 1", "is_staff": True}),
    ("patch", "/api/v1/me/", {"is_staff": True}),
    ("post", "/api/v1/ledger/transfers/", {"to": "ursula", "amount": "1", "max_fee": "0"}),
])
def test_an_unknown_field_is_refused_naming_it(client, method, path, body):
    extra = next(name for name in ("is_staff", "max_fee") if name in body)
    response = getattr(client, method)(path, body, format="json", HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()))
    assert response.status_code == 400, response.content
    assert response.json()["error"]["field"] == extra
    assert not get_user_model().objects.filter(is_staff=True).exists()
