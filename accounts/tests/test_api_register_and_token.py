import pytest
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from .factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def api():
    return APIClient()


def test_register_creates_a_user_and_returns_a_token(api):
    response = api.post("/api/v1/auth/register/", {"username": "ada", "password": PASSWORD, "email": "ada@example.com"})

    assert response.status_code == 201
    user = get_user_model().objects.get(username="ada")
    assert response.json() == {"token": Token.objects.get(user=user).key, "user_id": user.id}
    assert user.check_password(PASSWORD)


def test_register_refuses_a_weak_password_naming_the_field(api):
    response = api.post("/api/v1/auth/register/", {"username": "ada", "password": "12345678", "email": "ada@example.com"})

    assert response.status_code == 400
    assert response.json()["error"]["field"] == "password"
    assert not get_user_model().objects.filter(username="ada").exists()


def test_register_refuses_a_taken_username_whatever_its_case(api):
    UserFactory(username="ada")

    response = api.post("/api/v1/auth/register/", {"username": "ADA", "password": PASSWORD, "email": "x@example.com"})

    assert response.status_code == 400
    assert response.json()["error"] == {"code": "taken", "message": "A user with that username already exists.", "field": "username"}


def test_register_requires_an_email(api):
    response = api.post("/api/v1/auth/register/", {"username": "ada", "password": PASSWORD})

    assert response.status_code == 400
    assert response.json()["error"]["field"] == "email"


def test_token_is_given_for_the_right_password(api):
    user = UserFactory()

    response = api.post("/api/v1/auth/token/", {"username": user.username, "password": PASSWORD})

    assert response.status_code == 200
    assert response.json()["token"] == Token.objects.get(user=user).key


def test_token_is_refused_for_a_wrong_password(api):
    user = UserFactory()

    response = api.post("/api/v1/auth/token/", {"username": user.username, "password": "not it at all"})

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_credentials"


def test_me_answers_with_the_token_owner(api):
    user = UserFactory()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")

    response = api.get("/api/v1/me/")

    assert response.status_code == 200
    assert response.json()["username"] == user.username
    assert response.json()["is_moderator"] is False


def test_me_refuses_anonymous_callers(api):
    response = api.get("/api/v1/me/")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_me_refuses_an_unknown_token(api):
    api.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)

    response = api.get("/api/v1/me/")

    assert response.status_code == 401
