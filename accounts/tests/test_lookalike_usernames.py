"""Usernames are the same once NFKC-normalised and compared without case, wherever a name is used."""

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.services import user_create
from ledger import selectors
from ledger.tests.factories import fund

from .factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

FULL_WIDTH = "ＰＲＯＢＥＡ_８Ｄ０Ｃ６０"


def register(username: str):
    return APIClient().post("/api/v1/auth/register/", {"username": username, "password": PASSWORD,
                                                       "email": "x@example.com"}, format="json")


def signup_page(username: str):
    return Client().post("/accounts/signup/", {"username": username, "email": "x@example.com",
                                               "password1": PASSWORD, "password2": PASSWORD})


@pytest.mark.parametrize(("existing", "lookalike"), [
    ("probea_8d0c60", FULL_WIDTH),
    ("demo", "ｄｅｍｏ"),
    ("Ada", "ａＤＡ"),
])
def test_the_api_refuses_a_lookalike_of_an_existing_name_naming_the_username(existing, lookalike):
    UserFactory(username=existing)

    response = register(lookalike)

    assert response.status_code == 400
    assert response.json()["error"] == {"code": "taken", "message": "A user with that username already exists.",
                                        "field": "username"}
    assert get_user_model().objects.count() == 1


@pytest.mark.parametrize(("existing", "lookalike"), [("probea_8d0c60", FULL_WIDTH), ("demo", "ｄｅｍｏ")])
def test_the_sign_up_page_refuses_a_lookalike_beside_the_username_field(existing, lookalike):
    UserFactory(username=existing)

    response = signup_page(lookalike)

    assert response.status_code == 400
    assert response.context["form"].errors == {"username": ["A user with that username already exists."]}
    assert get_user_model().objects.count() == 1


@pytest.mark.parametrize("name", ["аda", "adа", "ada\u200b", "ad a"])  # Cyrillic а, a zero-width space, a space
def test_letters_outside_a_z_are_refused_so_no_other_script_passes_for_latin(name):
    UserFactory(username="ada")

    response = register(name)

    assert response.status_code == 400
    assert response.json()["error"]["field"] == "username"


def test_the_service_refuses_a_lookalike_whoever_calls_it():
    UserFactory(username="probea_8d0c60")
    with pytest.raises(ValidationError) as refused:
        user_create(username=FULL_WIDTH, password=PASSWORD, email="x@example.com")
    assert list(refused.value.message_dict) == ["username"]


def test_a_full_width_name_registers_as_its_normal_form():
    assert register("ｇｒａｃｅ").status_code == 201
    assert get_user_model().objects.filter(username="grace").exists()


def test_a_transfer_to_a_lookalike_name_reaches_the_one_account_with_that_name():
    sender, probe = UserFactory(username="sender"), UserFactory(username="probea_8d0c60")
    fund(sender, 10)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=sender).key}")

    response = api.post("/api/v1/ledger/transfers/", {"to": FULL_WIDTH, "amount": "3"}, format="json",
                        HTTP_IDEMPOTENCY_KEY="lookalike")

    assert response.status_code == 201 and response.json()["to"] == "probea_8d0c60"
    assert selectors.wallet_balance(user=probe) == 3_000_000


def test_of_two_older_accounts_that_differ_only_in_case_the_exact_spelling_gets_the_transfer():
    sender, lower, upper = UserFactory(username="sender"), UserFactory(username="twin"), UserFactory(username="TWIN")
    fund(sender, 10)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=sender).key}")

    assert api.post("/api/v1/ledger/transfers/", {"to": "TWIN", "amount": "1"}, format="json",
                    HTTP_IDEMPOTENCY_KEY="a").status_code == 201
    assert (selectors.wallet_balance(user=upper), selectors.wallet_balance(user=lower)) == (1_000_000, 0)
    ambiguous = api.post("/api/v1/ledger/transfers/", {"to": "Twin", "amount": "1"}, format="json", HTTP_IDEMPOTENCY_KEY="b")
    assert ambiguous.status_code == 400 and ambiguous.json()["error"]["field"] == "to"


def test_logging_in_with_another_form_of_the_name_finds_the_account():
    user = UserFactory(username="probea_8d0c60")

    response = APIClient().post("/api/v1/auth/token/", {"username": FULL_WIDTH, "password": PASSWORD}, format="json")

    assert response.status_code == 200 and response.json()["user_id"] == user.id
