"""Sign-ups are limited per client address, on both routes together, whatever X-Forwarded-For says."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.test import APIClient

from .factories import PASSWORD

pytestmark = pytest.mark.django_db

ADDRESS = "203.0.113.7"


def api_signup(n: int, address: str = ADDRESS, forwarded: str | None = None, **body):
    headers = {"REMOTE_ADDR": address, "HTTP_X_FORWARDED_FOR": forwarded or f"198.51.100.{n}"}
    data = {"username": f"throwaway{n}", "password": PASSWORD, "email": f"t{n}@example.com"} | body
    return APIClient().post("/api/v1/auth/register/", data, format="json", **headers)


def page_signup(n: int, address: str = ADDRESS, **body):
    data = {"username": f"throwaway{n}", "email": f"t{n}@example.com", "password1": PASSWORD, "password2": PASSWORD} | body
    return Client().post("/accounts/signup/", data, REMOTE_ADDR=address, HTTP_X_FORWARDED_FOR=f"198.51.100.{n}")


def test_the_21st_api_sign_up_from_one_address_is_refused_however_x_forwarded_for_changes():
    assert all(api_signup(n).status_code == 201 for n in range(20))

    response = api_signup(20)

    assert response.status_code == 429
    assert response.json()["error"]["code"] == "throttled"
    assert 0 < int(response["Retry-After"]) <= 3601
    assert get_user_model().objects.count() == 20


def test_the_21st_browser_sign_up_from_one_address_is_refused_on_the_form():
    assert all(page_signup(n).status_code == 302 for n in range(20))

    response = page_signup(20)

    assert response.status_code == 429
    assert "Too many sign-ups from this address" in response.content.decode()
    assert 'value="throwaway20"' in response.content.decode()  # what was typed stays in the form
    assert int(response["Retry-After"]) > 0
    assert get_user_model().objects.count() == 20


def test_both_routes_share_one_counter():
    assert all(api_signup(n).status_code == 201 for n in range(10))
    assert all(page_signup(n).status_code == 302 for n in range(10, 20))

    assert api_signup(20).status_code == 429
    assert page_signup(21).status_code == 429


def test_another_address_still_signs_up():
    for n in range(20):
        api_signup(n)

    assert api_signup(20, address="203.0.113.8").status_code == 201


def test_a_sign_up_that_makes_no_account_does_not_use_up_the_limit(settings):
    settings.SIGNUP_RATE_PER_HOUR = 2
    for n in range(5):
        assert api_signup(n, password="12345678").status_code == 400  # too weak
        assert page_signup(n, password2="something else").status_code == 400

    assert api_signup(10).status_code == 201
    assert page_signup(11).status_code == 302
    assert api_signup(12).status_code == 429


def test_the_rate_is_a_setting(settings):
    settings.SIGNUP_RATE_PER_HOUR = 1
    assert api_signup(0).status_code == 201
    assert api_signup(1).status_code == 429


def test_behind_a_trusted_proxy_the_address_it_saw_is_the_client(settings):
    """With one proxy, the last X-Forwarded-For entry is the client; entries left of it are the client's own."""
    settings.TRUSTED_PROXY_COUNT = 1
    settings.SIGNUP_RATE_PER_HOUR = 2
    for n in range(2):
        assert api_signup(n, address="10.0.0.1", forwarded=f"1.2.3.{n}, 192.0.2.50").status_code == 201

    assert api_signup(2, address="10.0.0.1", forwarded="9.9.9.9, 192.0.2.50").status_code == 429
    assert api_signup(3, address="10.0.0.1", forwarded="192.0.2.51").status_code == 201
