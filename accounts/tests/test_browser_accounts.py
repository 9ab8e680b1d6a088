import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from .factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def test_signing_up_creates_the_account_and_logs_in():
    client = Client()

    response = client.post(
        "/accounts/signup/",
        {"username": "grace", "email": "grace@example.com", "password1": PASSWORD, "password2": PASSWORD},
    )

    assert response.status_code == 302
    user = get_user_model().objects.get(username="grace")
    assert client.session["_auth_user_id"] == str(user.id)
    assert b"grace" in client.get("/").content


def test_signup_shows_password_rules_when_the_password_is_weak():
    response = Client().post(
        "/accounts/signup/", {"username": "grace", "email": "grace@example.com", "password1": "password", "password2": "password"}
    )

    assert response.status_code == 400
    assert b"too common" in response.content
    assert not get_user_model().objects.filter(username="grace").exists()


def test_logging_in_and_out_with_csrf():
    user = UserFactory()
    client = Client(enforce_csrf_checks=True)
    client.get("/accounts/login/")
    token = client.cookies["csrftoken"].value

    response = client.post("/accounts/login/", {"username": user.username, "password": PASSWORD, "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(user.id)

    token = client.cookies["csrftoken"].value
    assert client.post("/accounts/logout/", {"csrfmiddlewaretoken": token}).status_code == 302
    assert "_auth_user_id" not in client.session


def test_a_login_post_without_csrf_is_refused():
    user = UserFactory()
    client = Client(enforce_csrf_checks=True)

    response = client.post("/accounts/login/", {"username": user.username, "password": PASSWORD})

    assert response.status_code == 403
    assert "_auth_user_id" not in client.session


def test_logout_needs_a_post():
    client = Client()
    client.force_login(UserFactory())

    assert client.get("/accounts/logout/").status_code == 405
