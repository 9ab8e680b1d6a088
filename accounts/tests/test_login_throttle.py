import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from .factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


@override_settings(LOGIN_FAILURE_LIMIT=3)
def test_api_logins_are_refused_after_too_many_failures_even_with_the_right_password():
    user, api = UserFactory(), APIClient()
    for _ in range(3):
        assert api.post("/api/v1/auth/token/", {"username": user.username, "password": "wrong"}).status_code == 401

    response = api.post("/api/v1/auth/token/", {"username": user.username, "password": PASSWORD})

    assert response.status_code == 429
    assert response.json()["error"]["code"] == "throttled"
    assert int(response["Retry-After"]) > 0


@override_settings(LOGIN_FAILURE_LIMIT=3)
def test_a_successful_login_clears_the_failures_of_that_account():
    user, api = UserFactory(), APIClient()
    for _ in range(2):
        api.post("/api/v1/auth/token/", {"username": user.username, "password": "wrong"})
    assert api.post("/api/v1/auth/token/", {"username": user.username, "password": PASSWORD}).status_code == 200

    response = api.post("/api/v1/auth/token/", {"username": user.username, "password": "wrong"})

    assert response.status_code == 401


@override_settings(LOGIN_FAILURE_LIMIT=2)
def test_browser_logins_are_throttled_too(client):
    user = UserFactory()
    for _ in range(2):
        assert client.post("/accounts/login/", {"username": user.username, "password": "wrong"}).status_code == 400

    response = client.post("/accounts/login/", {"username": user.username, "password": PASSWORD})

    assert response.status_code == 429
    assert b"Too many failed logins" in response.content
    assert "_auth_user_id" not in client.session


@override_settings(LOGIN_FAILURE_LIMIT=2)
def test_one_address_guessing_across_many_accounts_is_throttled():
    api = APIClient()
    for n in range(8):  # 2 per account, 4 accounts: the address reaches its own, higher limit
        api.post("/api/v1/auth/token/", {"username": f"nobody{n // 2}", "password": "guess"})
    user = UserFactory()

    response = api.post("/api/v1/auth/token/", {"username": user.username, "password": PASSWORD})

    assert response.status_code == 429
