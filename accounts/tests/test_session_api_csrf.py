import pytest
from django.test import Client

from .factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser():
    client = Client(enforce_csrf_checks=True)
    client.force_login(UserFactory())
    client.get("/")  # sets the CSRF cookie, as a page load does
    return client


def test_a_session_write_without_the_csrf_header_is_refused(browser):
    response = browser.patch("/api/v1/me/", {"email": "new@example.com"}, content_type="application/json")

    assert response.status_code == 403
    assert "CSRF" in response.json()["error"]["message"]


def test_a_session_write_with_the_csrf_header_goes_through(browser):
    token = browser.cookies["csrftoken"].value

    response = browser.patch(
        "/api/v1/me/", {"email": "new@example.com"}, content_type="application/json", HTTP_X_CSRFTOKEN=token
    )

    assert response.status_code == 200
    assert response.json()["email"] == "new@example.com"


def test_a_session_read_needs_no_csrf_token(browser):
    assert browser.get("/api/v1/me/").status_code == 200
