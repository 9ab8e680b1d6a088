"""/admin/login/ is under the site's login throttle, and a known client is not locked out by strangers."""

import pytest
from django.test import Client, override_settings
from rest_framework.test import APIClient

from accounts.throttles import KNOWN_COOKIE

from .factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff():
    return UserFactory(username="root", is_staff=True, is_superuser=True)


def admin_login(client, username, password, address="203.0.113.7"):
    return client.post("/admin/login/", {"username": username, "password": password}, REMOTE_ADDR=address)


def token(username, password, address="203.0.113.7", client=None):
    return (client or APIClient()).post("/api/v1/auth/token/", {"username": username, "password": password},
                                        REMOTE_ADDR=address)


@override_settings(LOGIN_FAILURE_LIMIT=3)
def test_admin_login_failures_are_throttled_even_with_the_right_password_then(staff):
    client = Client()
    for _ in range(3):
        assert admin_login(client, "root", "guess").status_code == 200  # Django admin's own answer to a wrong password

    response = admin_login(client, "root", PASSWORD)

    assert response.status_code == 429
    assert "Too many failed logins" in response.content.decode()
    assert "_auth_user_id" not in client.session


@override_settings(LOGIN_FAILURE_LIMIT=3)
def test_admin_failures_count_with_the_sites_and_the_apis(staff):
    admin_login(Client(), "root", "guess")
    Client().post("/accounts/login/", {"username": "root", "password": "guess"}, REMOTE_ADDR="203.0.113.7")
    token("ROOT", "guess")  # another case of the same name is the same account

    assert token("root", PASSWORD).status_code == 429
    assert admin_login(Client(), "root", PASSWORD).status_code == 429


def test_a_staff_login_through_the_admin_still_works(staff):
    client = Client()

    response = admin_login(client, "root", PASSWORD)

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(staff.id)
    assert KNOWN_COOKIE in response.cookies


@override_settings(LOGIN_FAILURE_LIMIT=2)
def test_strangers_guessing_from_many_addresses_hold_back_other_strangers_but_not_the_owners_known_clients():
    owner = UserFactory(username="victim")
    browser = Client()
    assert browser.post("/accounts/login/", {"username": "victim", "password": PASSWORD},
                        REMOTE_ADDR="198.51.100.1").status_code == 302  # the owner's browser, now known
    assert token("victim", PASSWORD, address="198.51.100.2").status_code == 200  # the owner's script's address, now known
    browser.post("/accounts/logout/")

    for address in range(4):  # 2 failures from each of 4 addresses: the account's limit (4 x 2) from everywhere
        for _ in range(2):
            assert token("victim", "guess", address=f"192.0.2.{address}").status_code == 401
    assert token("victim", "guess", address="192.0.2.0").status_code == 429  # and that address's own limit

    assert token("victim", PASSWORD, address="192.0.2.99").status_code == 429  # a new client is held back
    page = Client().post("/accounts/login/", {"username": "victim", "password": PASSWORD}, REMOTE_ADDR="192.0.2.98")
    assert page.status_code == 429
    known_browser = browser.post("/accounts/login/", {"username": "victim", "password": PASSWORD},
                                 REMOTE_ADDR="192.0.2.97")  # the known browser, from a new address
    assert known_browser.status_code == 302 and browser.session["_auth_user_id"] == str(owner.id)
    assert token("victim", PASSWORD, address="198.51.100.2").status_code == 200  # the known address


@override_settings(LOGIN_FAILURE_LIMIT=2)
def test_a_forged_known_login_cookie_counts_for_nothing():
    UserFactory(username="victim")
    for address in range(4):
        for _ in range(2):
            token("victim", "guess", address=f"192.0.2.{address}")
    forger = Client()
    forger.cookies[KNOWN_COOKIE] = "anything:forged"

    response = forger.post("/accounts/login/", {"username": "victim", "password": PASSWORD}, REMOTE_ADDR="192.0.2.50")

    assert response.status_code == 429


@override_settings(LOGIN_FAILURE_LIMIT=2)
def test_an_empty_password_does_not_clear_the_failures():
    UserFactory(username="victim")
    client = Client()
    for _ in range(2):
        client.post("/accounts/login/", {"username": "victim", "password": "guess"})
        client.post("/accounts/login/", {"username": "victim", "password": ""})

    assert client.post("/accounts/login/", {"username": "victim", "password": PASSWORD}).status_code == 429
