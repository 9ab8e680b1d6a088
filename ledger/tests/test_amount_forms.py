"""An amount has one written form, ASCII decimals (at most six places) or a JSON number; text that
Decimal() would also read ("٣", "１", "1_000", "1e3", padding) is a 400 naming the field, and moves nothing."""

import pytest
from rest_framework.authtoken.models import Token

from ledger import selectors
from ledger.amounts import to_units
from ledger.models import Transaction

from .factories import UserFactory, fund

pytestmark = pytest.mark.django_db

OTHER_FORMS = ["٣", "１", "1_000", "1e3", "1E3", " 1", "1 ", "+1", ".5", "1.", "0x10", "NaN", "Infinity", "1,5", "١٫٥"]


@pytest.fixture
def alice(api_client):
    user = UserFactory(username="alice")
    fund(user, 5000)
    UserFactory(username="bob")
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return user


def transfer(api_client, amount):
    return api_client.post("/api/v1/ledger/transfers/", {"to": "bob", "amount": amount}, format="json",
                           HTTP_IDEMPOTENCY_KEY="k-1")


@pytest.mark.parametrize("amount", [*OTHER_FORMS, True, None, [1], {"ftns": 1}])
def test_a_transfer_in_another_form_is_a_400_naming_the_amount(api_client, alice, amount):
    response = transfer(api_client, amount)
    assert response.status_code == 400, response.json()
    assert response.json()["error"]["field"] == "amount"
    assert not Transaction.objects.filter(kind=Transaction.Kind.TRANSFER).exists()
    assert selectors.wallet_balance(user=alice) == 5000 * 1_000_000


@pytest.mark.parametrize("amount, units", [("3", 3_000_000), ("12.5", 12_500_000), ("0.000001", 1), (3, 3_000_000),
                                           (12.5, 12_500_000), (1e3, 1_000_000_000)])
def test_ascii_decimals_and_json_numbers_are_the_accepted_forms(api_client, alice, amount, units):
    response = transfer(api_client, amount)
    assert response.status_code == 201, response.json()
    assert response.json()["amount_units"] == units


def test_the_refusal_says_which_form_to_write(api_client, alice):
    assert "ASCII digits" in transfer(api_client, "٣").json()["error"]["message"]


@pytest.mark.parametrize("text", OTHER_FORMS)
def test_to_units_refuses_text_in_another_form(text):
    with pytest.raises(ValueError, match="not an amount"):
        to_units(text)
