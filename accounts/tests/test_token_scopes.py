"""API token scopes: read (safe methods), predict (views that declare it), manage (every other write).
A token given to an application with ``predict`` alone can call models and nothing else; a browser
session and DRF's older one-per-user tokens have every scope."""

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.test import APIClient, APIRequestFactory
from rest_framework.views import APIView

from accounts import services
from accounts.models import ApiToken
from accounts.permissions import TokenScope
from prsm_site.asgi import application

from .factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


class TinyPredictApi(APIView):
    """Stands for POST /api/v1/models/{model_id}/predict/: a write that declares the predict scope."""

    required_scope = "predict"

    def post(self, request):
        return Response({"outputs": [], "token": getattr(request.auth, "name", None)})


def _client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def _tiny_predict(key: str):
    request = APIRequestFactory().post("/api/v1/models/x/predict/", {"inputs": ["a"]}, format="json",
                                       HTTP_AUTHORIZATION=f"Token {key}")
    response = TinyPredictApi.as_view()(request)
    response.render()
    return response


def _transfer(client):
    return client.post("/api/v1/ledger/transfers/", {"to": "nobody-at-all", "amount": "1"}, format="json",
                       HTTP_IDEMPOTENCY_KEY="scope-test-1")


def test_a_predict_only_token_can_predict_and_nothing_else():
    user = UserFactory()
    _, key = services.api_token_create(user=user, name="shop front", scopes=["predict"])
    client = _client(key)

    predicted = _tiny_predict(key)
    read = client.get("/api/v1/me/")
    write = _transfer(client)

    assert predicted.status_code == 200 and predicted.data["token"] == "shop front"
    assert read.status_code == 403
    assert read.json()["error"]["code"] == "missing_scope"
    assert "“read”" in read.json()["error"]["message"] and "it has: predict" in read.json()["error"]["message"]
    assert write.status_code == 403
    assert write.json()["error"]["code"] == "missing_scope" and "“manage”" in write.json()["error"]["message"]


def test_a_read_only_token_reads_but_neither_predicts_nor_writes():
    user = UserFactory()
    _, key = services.api_token_create(user=user, name="dashboard", scopes=["read"])

    assert _client(key).get("/api/v1/me/").status_code == 200
    refused = _tiny_predict(key)
    assert refused.status_code == 403 and "“predict”" in str(refused.data)
    assert _transfer(_client(key)).status_code == 403


def test_a_token_with_every_scope_passes_the_scope_check_everywhere():
    user = UserFactory()
    _, key = services.api_token_create(user=user, name="laptop")

    assert _client(key).get("/api/v1/me/").status_code == 200
    assert _tiny_predict(key).status_code == 200
    # past the scope check: the transfer itself is refused for its own reason (no such user)
    assert _transfer(_client(key)).status_code == 400


def test_an_older_drf_token_and_a_session_have_every_scope():
    user = UserFactory()
    drf_key = services.user_token_get_or_create(user=user)
    assert _client(drf_key).get("/api/v1/me/").status_code == 200
    assert _tiny_predict(drf_key).status_code == 200

    browser = APIClient(enforce_csrf_checks=False)
    browser.force_login(user)
    assert browser.get("/api/v1/me/").status_code == 200
    assert _transfer(browser).status_code == 400  # past the scope check


def test_the_token_api_makes_a_token_with_scopes_and_lists_them():
    user = UserFactory()
    _, manager = services.api_token_create(user=user, name="admin script")
    client = _client(manager)

    made = client.post("/api/v1/tokens/", {"name": "shop front", "scopes": ["predict"]}, format="json")
    default = client.post("/api/v1/tokens/", {"name": "notebook"}, format="json")
    listed = client.get("/api/v1/tokens/")

    assert made.status_code == 201, made.content
    assert made.json()["scopes"] == ["predict"] and made.json()["key"].startswith(made.json()["prefix"])
    assert default.json()["scopes"] == ["read", "predict", "manage"]
    assert {t["name"]: t["scopes"] for t in listed.json()} == {
        "shop front": ["predict"], "notebook": ["read", "predict", "manage"], "admin script": ["read", "predict", "manage"]}
    assert all("key" not in t for t in listed.json())
    assert ApiToken.objects.get(name="shop front").scopes == "predict"
    # the new predict-only key cannot make tokens
    refused = _client(made.json()["key"]).post("/api/v1/tokens/", {"name": "x"}, format="json")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "missing_scope"


@pytest.mark.parametrize("scopes, field_message", [([], "at least one"), (["read", "admin"], "admin")])
def test_a_token_needs_known_scopes(scopes, field_message):
    user = UserFactory()
    client = APIClient()
    client.force_login(user)

    response = client.post("/api/v1/tokens/", {"name": "x", "scopes": scopes}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["field"].startswith("scopes")
    with pytest.raises(services.ApiTokenError) as refused:
        services.api_token_create(user=user, name="x", scopes=scopes)
    assert field_message in refused.value.message and refused.value.field == "scopes"


def test_revoking_through_the_api_needs_manage():
    user = UserFactory()
    token, _ = services.api_token_create(user=user, name="ci")
    _, reader = services.api_token_create(user=user, name="reader", scopes=["read"])
    _, manager = services.api_token_create(user=user, name="manager", scopes=["manage"])

    assert _client(reader).delete(f"/api/v1/tokens/{token.pk}/").status_code == 403
    assert _client(manager).delete(f"/api/v1/tokens/{token.pk}/").status_code == 204
    token.refresh_from_db()
    assert not token.is_live


def test_the_account_page_offers_scopes_checked_and_shows_them(client):
    user = services.user_create(username="ada", password=PASSWORD, email="ada@example.com")
    client.force_login(user)

    page = client.get("/account/").content.decode()
    assert page.count('name="scopes"') == 3 and page.count("checked") >= 3

    response = client.post("/account/", {"name": "shop front", "scopes": ["predict"]})
    assert response.status_code == 302
    assert ApiToken.objects.get(user=user).scopes == "predict"
    listing = client.get("/account/").content.decode()
    assert '<span class="badge">predict</span>' in listing and '<span class="badge">read</span>' not in listing

    none = client.post("/account/", {"name": "no scopes"})
    assert none.status_code == 400 and "at least one scope" in none.content.decode()


async def _handshake(path: str) -> bool:
    communicator = WebsocketCommunicator(application, path, headers=[(b"origin", b"http://localhost")])
    connected, _ = await communicator.connect(timeout=5)
    await communicator.disconnect()
    return connected


@pytest.mark.django_db(transaction=True)
def test_a_websocket_needs_the_read_scope():
    user = UserFactory()
    _, predict_only = services.api_token_create(user=user, name="shop front", scopes=["predict"])
    _, reader = services.api_token_create(user=user, name="dashboard", scopes=["read"])

    assert not async_to_sync(_handshake)(f"/ws/notifications/?token={predict_only}")
    assert async_to_sync(_handshake)(f"/ws/notifications/?token={reader}")


def _api_views(patterns=None, prefix=""):
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            yield from _api_views(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern) and isinstance(getattr(pattern.callback, "cls", None), type) \
                and issubclass(pattern.callback.cls, APIView):
            yield prefix + str(pattern.pattern), pattern.callback.cls


def test_every_api_view_that_authenticates_checks_token_scopes():
    views = list(_api_views())
    assert len(views) > 10
    unchecked = [path for path, view in views  # AllowAny: public (the schema, sign-up), no scope to check
                 if view.authentication_classes and AllowAny not in view.permission_classes
                 and TokenScope not in view.permission_classes]
    assert unchecked == []


@pytest.mark.django_db(transaction=True)  # the async predict view checks in a worker thread: committed rows only
def test_the_real_predict_route_takes_a_predict_only_token_and_refuses_a_read_only_one():
    user = UserFactory()
    _, predict_only = services.api_token_create(user=user, name="shop front", scopes=["predict"])
    _, read_only = services.api_token_create(user=user, name="dashboard", scopes=["read"])
    path = "/api/v1/models/00000000-0000-4000-8000-000000000000/predict/"

    passed = _client(predict_only).post(path, {"inputs": ["a"]}, format="json")
    refused = _client(read_only).post(path, {"inputs": ["a"]}, format="json")

    assert passed.status_code == 404, passed.content  # past the scope check: there is no such model
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "missing_scope"
    assert _client(predict_only).get("/api/v1/models/").status_code == 403
