"""/account/webhooks/ without a browser: register (the secret shown once, on the endpoint's page), refusals
beside their field, the actions, another user's endpoint a 404, and CSRF on every form."""

import pytest
from django.test import Client

from accounts.tests.factories import PASSWORD
from webhooks import services
from webhooks.models import WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db


@pytest.fixture
def ada(make_user, client):
    user = make_user("ada")
    client.force_login(user)
    return user


def test_the_account_page_links_to_the_webhooks(ada, client):
    assert 'href="/account/webhooks/"' in client.get("/account/").content.decode()


def test_an_endpoint_is_added_and_its_secret_shown_once(ada, client):
    added = client.post("/account/webhooks/", {"url": "http://127.0.0.1:9/hook", "events": ["job.completed"],
                                               "description": "CI"})

    endpoint = WebhookEndpoint.objects.get(user=ada)
    assert added.status_code == 302 and added["Location"] == f"/account/webhooks/{endpoint.endpoint_id}/#new-secret"
    shown = client.get(added["Location"]).content.decode()
    assert 'id="new-secret-value"' in shown and "it will not be shown again" in shown
    secret = shown.split('id="new-secret-value" class="key" value="')[1].split('"')[0]
    assert secret.startswith(endpoint.secret_prefix)
    again = client.get(added["Location"]).content.decode()
    assert secret not in again and endpoint.secret_prefix in again
    listing = client.get("/account/webhooks/").content.decode()
    assert "http://127.0.0.1:9/hook" in listing and "CI" in listing and secret not in listing


@pytest.mark.parametrize(("form", "field", "words"), [
    ({"url": "http://10.0.0.8/hook", "events": ["job.completed"]}, "url", "WEBHOOK_HOSTS_ALLOW"),
    ({"url": "", "events": ["job.completed"]}, "url", "This field is required."),
    ({"url": "http://127.0.0.1:9/hook"}, "events", "Choose at least one event."),
])
def test_a_refusal_is_shown_beside_its_field(ada, client, form, field, words):
    refused = client.post("/account/webhooks/", form)

    assert refused.status_code == 400 and not WebhookEndpoint.objects.exists()
    page = refused.content.decode()
    error_list = page.split(f'id="id_{field}_error"')[1][:600] if f'id="id_{field}_error"' in page else page.split(
        'class="field has-error"')[1][:1200]
    assert words in error_list


def test_the_actions_change_the_endpoint(ada, client, django_capture_on_commit_callbacks):
    endpoint, secret = services.webhook_endpoint_create(user=ada, url="http://127.0.0.1:9/hook", events=["job.failed"])
    base = f"/account/webhooks/{endpoint.endpoint_id}/"

    assert client.post(f"{base}toggle/").status_code == 302
    endpoint.refresh_from_db()
    assert not endpoint.is_active and "disabled" in client.get(base).content.decode()
    rotated = client.post(f"{base}rotate/")
    new_secret = client.get(rotated["Location"]).content.decode().split('id="new-secret-value" class="key" value="')[1][:50]
    assert not new_secret.startswith(secret[:50])
    with django_capture_on_commit_callbacks() as queued:
        client.post(f"{base}ping/")
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert len(queued) == 1 and f'data-delivery="{delivery.delivery_id}"' in client.get(base).content.decode()
    with django_capture_on_commit_callbacks() as queued:
        assert client.post(f"{base}deliveries/{delivery.delivery_id}/resend/").status_code == 302
    assert len(queued) == 1
    saved = client.post(base, {"url": "http://localhost:9/other", "events": ["model.sold", "job.failed"]})
    endpoint.refresh_from_db()
    assert saved.status_code == 302 and endpoint.url == "http://localhost:9/other"
    assert endpoint.event_list == ["job.failed", "model.sold"]
    assert client.post(f"{base}delete/").status_code == 302 and not WebhookEndpoint.objects.exists()


def test_another_users_endpoint_is_a_404(ada, make_user):
    endpoint, _ = services.webhook_endpoint_create(user=ada, url="http://127.0.0.1:9/hook", events=["job.failed"])
    delivery = services.webhook_ping(endpoint=endpoint)
    bob = Client()
    bob.force_login(make_user("bob"))
    base = f"/account/webhooks/{endpoint.endpoint_id}/"

    answers = [bob.get(base), bob.post(base, {"url": "http://127.0.0.1:9/x", "events": ["job.failed"]}),
               *(bob.post(f"{base}{action}/") for action in ("toggle", "rotate", "ping", "delete")),
               bob.post(f"{base}deliveries/{delivery.delivery_id}/resend/")]

    assert [answer.status_code for answer in answers] == [404] * 7
    endpoint.refresh_from_db()
    assert endpoint.is_active and endpoint.url == "http://127.0.0.1:9/hook"


def test_the_forms_need_their_csrf_token(ada):
    strict = Client(enforce_csrf_checks=True)
    strict.login(username="ada", password=PASSWORD)
    endpoint, _ = services.webhook_endpoint_create(user=ada, url="http://127.0.0.1:9/hook", events=["job.failed"])

    assert strict.post("/account/webhooks/", {"url": "http://127.0.0.1:9/x", "events": ["job.failed"]}).status_code == 403
    assert strict.post(f"/account/webhooks/{endpoint.endpoint_id}/delete/").status_code == 403
    assert WebhookEndpoint.objects.count() == 1


def test_a_visitor_is_sent_to_log_in(client):
    assert client.get("/account/webhooks/")["Location"].startswith("/accounts/login/")
