"""The account page: balance and recent ledger entries, API tokens made and revoked through the
page (the key shown once), notifications, and visitors sent to log in."""

import pytest
from django.urls import reverse

from accounts import services
from accounts.models import ApiToken
from accounts.selectors import api_tokens_of
from ledger.amounts import display_ftns
from ledger.selectors import wallet_balance

from .factories import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def ada():
    return services.user_create(username="ada", password=PASSWORD, email="ada@example.com")


@pytest.fixture
def signed_in(client, ada):
    client.force_login(ada)
    return client


def test_a_visitor_is_sent_to_log_in(client):
    response = client.get("/account/")

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('accounts:login')}?next=/account/"


def test_the_page_shows_the_balance_and_the_sign_up_grant(signed_in, ada):
    response = signed_in.get(reverse("account"))

    assert response.status_code == 200
    html = response.content.decode()
    assert f'id="account-balance">{display_ftns(wallet_balance(user=ada))}<' in html
    entries = response.context["rows"]
    assert len(entries) >= 1 and entries[0].credit == wallet_balance(user=ada)
    assert 'id="recent-entries"' in html
    assert 'href="/ledger/"' in html and 'href="/ledger/statement.csv"' in html
    assert "no-store" in response["Cache-Control"]


def test_creating_a_token_shows_its_key_once(signed_in, ada):
    response = signed_in.post(reverse("account"), {"name": "laptop SDK", "scopes": ["read", "predict", "manage"]})

    assert response.status_code == 302 and response["Location"] == "/account/#new-key"
    token = api_tokens_of(user=ada).get()
    shown = signed_in.get("/account/")
    key = shown.context["new_key"]
    assert key and token.prefix in key and f'value="{key}"' in shown.content.decode()
    assert "it will not be shown again" in shown.content.decode()
    assert signed_in.get("/account/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 200
    again = signed_in.get("/account/")
    assert again.context["new_key"] is None and key not in again.content.decode()
    assert "laptop SDK" in again.content.decode() and f"{token.prefix}…" in again.content.decode()


def test_a_token_without_a_name_is_refused_beside_the_field(signed_in, ada):
    response = signed_in.post(reverse("account"), {"name": "  "})

    assert response.status_code == 400
    assert response.context["form"].errors["name"]
    assert 'id="id_name_error"' in response.content.decode()  # beside the field, linked to it
    assert not ApiToken.objects.exists()


def test_the_token_limit_is_shown_beside_the_name(signed_in, ada):
    for n in range(services.API_TOKEN_LIMIT):
        services.api_token_create(user=ada, name=f"token {n}")

    response = signed_in.post(reverse("account"), {"name": "one more", "scopes": ["read"]})

    assert response.status_code == 400
    assert "the most allowed" in response.context["form"].errors["name"][0]
    assert api_tokens_of(user=ada).count() == services.API_TOKEN_LIMIT


def test_revoking_through_the_page(signed_in, ada):
    token, key = services.api_token_create(user=ada, name="ci")

    response = signed_in.post(reverse("accounts:token-revoke", args=[token.pk]))

    assert response.status_code == 302 and response["Location"] == "/account/"
    token.refresh_from_db()
    assert token.revoked_at is not None
    page = signed_in.get("/account/").content.decode()
    assert "revoked: its key no longer works" in page and "No tokens yet." in page


def test_another_users_token_cannot_be_revoked_through_the_page(client, ada):
    token, _ = services.api_token_create(user=ada, name="ci")
    client.force_login(services.user_create(username="eve", password=PASSWORD, email="eve@example.com"))

    response = client.post(reverse("accounts:token-revoke", args=[token.pk]))

    assert response.status_code == 404
    token.refresh_from_db()
    assert token.is_live


def test_revoking_needs_a_post(signed_in, ada):
    token, _ = services.api_token_create(user=ada, name="ci")

    assert signed_in.get(reverse("accounts:token-revoke", args=[token.pk])).status_code == 405


def test_the_page_lists_notifications_newest_first(signed_in, ada, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks():  # kept, not broadcast: no socket in this test
        services.notification_send(user=ada, kind="job_failed", message="Job 1 failed: out of memory", link="/jobs/")
        services.notification_send(user=ada, kind="model_sold", message="Your model sold for 5 FTNS")

    html = signed_in.get("/account/").content.decode()

    assert html.index("Your model sold for 5 FTNS") < html.index("Job 1 failed: out of memory")
    assert '<a class="notification-message" href="/jobs/">Job 1 failed: out of memory</a>' in html
    assert 'aria-live="polite"' in html and 'data-socket-path="/ws/notifications/"' in html
