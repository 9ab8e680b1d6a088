"""The webhooks API: register (the secret shown once, stored encrypted), read, change, rotate, delete;
refusals that name the field; owners only; the manage scope for writes; the schema's operations."""

import pytest
from rest_framework.test import APIClient

from accounts import secrets as sealed
from accounts.services import api_token_create
from webhooks.models import WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db

HOOKS = "/api/v1/webhooks/"


def _create(api, url="http://127.0.0.1:9/hook", events=("job.completed",), **body):
    return api.post(HOOKS, {"url": url, "events": list(events), **body}, format="json")


def test_an_endpoint_is_registered_and_its_secret_is_shown_once(make_user, api_for):
    api = api_for(make_user("ada"))

    created = _create(api, events=["job.failed", "job.completed"], description="  CI   pipeline ")

    assert created.status_code == 201, created.content
    body = created.json()
    secret = body["secret"]
    assert secret.startswith("whsec_") and len(secret) > 40 and body["secret_prefix"] == secret[:10]
    assert body["events"] == ["job.completed", "job.failed"] and body["is_active"] is True
    assert body["description"] == "CI pipeline" and body["url"] == "http://127.0.0.1:9/hook"
    stored = WebhookEndpoint.objects.get(endpoint_id=body["id"])
    assert secret not in stored.secret_encrypted and sealed.reveal(stored.secret_encrypted) == secret
    read = api.get(f"{HOOKS}{body['id']}/")
    listed = api.get(HOOKS)
    assert read.status_code == 200 and "secret" not in read.json() and secret not in read.content.decode()
    assert [e["id"] for e in listed.json()] == [body["id"]] and secret not in listed.content.decode()


@pytest.mark.parametrize("url", ["http://10.0.0.8/hook", "http://192.168.1.20:8080/", "http://169.254.169.254/latest/",
                                 "http://[fd00::1]/hook", "http://0.0.0.0/hook"])
def test_a_private_address_outside_the_allow_list_is_refused_naming_url(make_user, api_for, url):
    refused = _create(api_for(make_user("ada")), url=url)

    assert refused.status_code == 400, refused.content
    error = refused.json()["error"]
    assert error["field"] == "url" and error["code"] == "url_refused" and "WEBHOOK_HOSTS_ALLOW" in error["message"]
    assert not WebhookEndpoint.objects.exists()


def test_loopback_is_refused_unless_the_operator_allows_it(make_user, api_for, settings):
    api = api_for(make_user("ada"))
    settings.WEBHOOK_HOSTS_ALLOW = []

    assert _create(api, url="http://127.0.0.1:8000/hook").json()["error"]["field"] == "url"
    assert _create(api, url="http://localhost:8000/hook").status_code == 400
    settings.WEBHOOK_HOSTS_ALLOW = ["127.0.0.0/8"]
    assert _create(api, url="http://127.0.0.1:8000/hook").status_code == 201


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/hook", "http://user:pw@127.0.0.1/hook", "not a url", "",
                                 "http://[::1/hook", "http://127.0.0.1:99999/hook", "http://127.0.0.1\x00.example/"])
def test_a_url_that_is_not_http_is_refused(make_user, api_for, url):
    refused = _create(api_for(make_user("ada")), url=url)

    assert refused.status_code == 400 and refused.json()["error"]["field"] == "url"


@pytest.mark.parametrize(("events", "field"), [(["job.started"], "events[0]"), ([], "events"), (["ping"], "events[0]")])
def test_an_unknown_event_or_none_is_refused(make_user, api_for, events, field):
    refused = _create(api_for(make_user("ada")), events=events)

    assert refused.status_code == 400 and refused.json()["error"]["field"] == field


def test_an_unknown_field_is_refused_naming_it(make_user, api_for):
    refused = _create(api_for(make_user("ada")), secret="whsec_mine")

    assert refused.status_code == 400 and refused.json()["error"]["field"] == "secret"


def test_an_endpoint_is_changed_disabled_and_enabled_again(make_user, api_for):
    api = api_for(make_user("ada"))
    endpoint_id = _create(api).json()["id"]
    WebhookEndpoint.objects.filter(endpoint_id=endpoint_id).update(consecutive_failures=3, is_active=False,
                                                                   disabled_reason="failures")

    changed = api.patch(f"{HOOKS}{endpoint_id}/", {"url": "http://localhost:9/new", "events": ["model.sold"],
                                                   "is_active": True}, format="json")
    refused = api.patch(f"{HOOKS}{endpoint_id}/", {"url": "http://10.1.2.3/"}, format="json")

    assert changed.status_code == 200, changed.content
    assert changed.json() | {"updated_at": None} == changed.json() | {
        "url": "http://localhost:9/new", "events": ["model.sold"], "is_active": True, "consecutive_failures": 0,
        "disabled_reason": "", "updated_at": None}
    assert refused.status_code == 400 and refused.json()["error"]["field"] == "url"
    assert api.get(f"{HOOKS}{endpoint_id}/").json()["url"] == "http://localhost:9/new"


def test_a_rotated_secret_is_new_shown_once_and_replaces_the_old_one(make_user, api_for):
    api = api_for(make_user("ada"))
    first = _create(api).json()

    rotated = api.post(f"{HOOKS}{first['id']}/rotate-secret/", format="json")

    assert rotated.status_code == 200
    secret = rotated.json()["secret"]
    assert secret.startswith("whsec_") and secret != first["secret"]
    stored = WebhookEndpoint.objects.get(endpoint_id=first["id"])
    assert sealed.reveal(stored.secret_encrypted) == secret and stored.secret_prefix == secret[:10]
    assert "secret" not in api.get(f"{HOOKS}{first['id']}/").json()


def test_a_deleted_endpoint_is_gone(make_user, api_for):
    api = api_for(make_user("ada"))
    endpoint_id = _create(api).json()["id"]

    assert api.delete(f"{HOOKS}{endpoint_id}/").status_code == 204
    assert api.get(f"{HOOKS}{endpoint_id}/").status_code == 404
    assert api.get(HOOKS).json() == []


def test_another_users_endpoint_is_a_404_on_every_route(make_user, api_for, django_capture_on_commit_callbacks):
    ada, bob = api_for(make_user("ada")), api_for(make_user("bob"))
    endpoint_id = _create(ada).json()["id"]
    with django_capture_on_commit_callbacks():
        delivery_id = ada.post(f"{HOOKS}{endpoint_id}/ping/", format="json").json()["id"]
    base = f"{HOOKS}{endpoint_id}/"

    answers = [bob.get(base), bob.patch(base, {"is_active": False}, format="json"), bob.delete(base),
               bob.post(f"{base}rotate-secret/", format="json"), bob.post(f"{base}ping/", format="json"),
               bob.get(f"{base}deliveries/"), bob.post(f"{base}deliveries/{delivery_id}/resend/", format="json")]

    assert [answer.status_code for answer in answers] == [404] * 7
    assert bob.get(HOOKS).json() == []
    assert ada.get(base).json()["is_active"] is True and WebhookDelivery.objects.count() == 1


def test_a_read_only_token_lists_but_cannot_register(make_user):
    user = make_user("ada")
    _, key = api_token_create(user=user, name="dashboard", scopes=["read"])
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")

    assert api.get(HOOKS).status_code == 200
    refused = _create(api)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "missing_scope"


def test_a_user_has_a_limited_number_of_endpoints(make_user, api_for, settings):
    settings.WEBHOOK_MAX_ENDPOINTS = 2
    api = api_for(make_user("ada"))

    assert [_create(api).status_code for _ in range(3)] == [201, 201, 409]


def test_a_ping_is_queued_after_the_commit_and_listed_with_the_deliveries(make_user, api_for,
                                                                          django_capture_on_commit_callbacks):
    api = api_for(make_user("ada"))
    endpoint_id = _create(api).json()["id"]

    with django_capture_on_commit_callbacks() as callbacks:
        pinged = api.post(f"{HOOKS}{endpoint_id}/ping/", format="json")

    assert pinged.status_code == 202 and len(callbacks) == 1
    assert pinged.json()["type"] == "ping" and pinged.json()["status"] == "pending" and pinged.json()["attempts"] == []
    listed = api.get(f"{HOOKS}{endpoint_id}/deliveries/").json()
    assert listed["count"] == 1 and listed["results"][0]["id"] == pinged.json()["id"]


def test_a_finished_delivery_is_resent_with_one_more_attempt(make_user, api_for, django_capture_on_commit_callbacks):
    api = api_for(make_user("ada"))
    endpoint_id = _create(api).json()["id"]
    with django_capture_on_commit_callbacks():
        delivery_id = api.post(f"{HOOKS}{endpoint_id}/ping/", format="json").json()["id"]
    WebhookDelivery.objects.filter(delivery_id=delivery_id).update(status="failed", attempt_count=1, final_attempt=1)

    with django_capture_on_commit_callbacks() as callbacks:
        resent = api.post(f"{HOOKS}{endpoint_id}/deliveries/{delivery_id}/resend/", format="json")

    assert resent.status_code == 202 and resent.json()["status"] == "pending" and len(callbacks) == 1
    delivery = WebhookDelivery.objects.get(delivery_id=delivery_id)
    assert (delivery.status, delivery.attempt_count, delivery.final_attempt) == ("pending", 1, 2)


def test_the_schema_names_each_operation_and_declares_its_bodies(api_for, make_user):
    schema = api_for(make_user("ada")).get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    paths = schema["paths"]
    operations = {op["operationId"]: op for path, item in paths.items() if path.startswith("/api/v1/webhooks/")
                  for op in item.values()}

    assert set(operations) == {"webhooks_list", "webhooks_create", "webhooks_retrieve", "webhooks_partial_update",
                               "webhooks_destroy", "webhooks_rotate_secret", "webhooks_ping", "webhooks_deliveries_list",
                               "webhooks_deliveries_resend"}
    assert "201" in operations["webhooks_create"]["responses"]
    assert "application/json" in operations["webhooks_create"]["requestBody"]["content"]
    assert "202" in operations["webhooks_ping"]["responses"] and "202" in operations["webhooks_deliveries_resend"]["responses"]
