"""The buyer pays the price they read: a price or rent period changed since answers 409 and charges
nothing; the price is required, and fields the route does not know are refused, not ignored."""

import pytest

from ledger import selectors as ledger
from ledger.models import Transaction
from marketplace.models import Purchase

from .buying import purchase, terms_shown


def _nothing_charged(buyer, balance):
    assert ledger.wallet_balance(user=buyer) == balance
    assert not Purchase.objects.exists() and not Transaction.objects.filter(kind=Transaction.Kind.SALE).exists()


def test_a_price_raised_between_read_and_purchase_is_a_409_and_nothing_is_charged(make_user, api_for, listed):
    owner, buyer = make_user("ada"), make_user("bob")
    listing = listed(owner, buy=10)
    api = api_for(buyer)
    read = terms_shown(api, listing)
    assert read["expected_price"] == "10.000000"
    balance = ledger.wallet_balance(user=buyer)

    raised = api_for(owner).patch(f"/api/v1/marketplace/models/{listing.listing_id}/", {"price_buy": "300"}, format="json")
    assert raised.status_code == 200
    response = purchase(api, listing, terms=read)

    assert response.status_code == 409, response.json()
    assert response.json()["error"] == {"code": "price_changed", "field": "expected_price",
                                        "message": "The price to buy is now 300.000000 FTNS, not the 10.000000 you "
                                                   "accepted; nothing was charged."}
    assert response.json()["current"] == {"price": "300.000000"}
    _nothing_charged(buyer, balance)
    assert purchase(api, listing, key="k2").status_code == 201  # read again, accepted the new price
    assert Purchase.objects.get().price == 300 * 1_000_000


def test_a_lowered_price_is_a_409_too_the_buyer_pays_only_what_they_stated(make_user, api_for, listed):
    owner, buyer = make_user("ada"), make_user("bob")
    listing = listed(owner, buy=10)
    read = terms_shown(api_for(buyer), listing)
    api_for(owner).patch(f"/api/v1/marketplace/models/{listing.listing_id}/", {"price_buy": "9.5"}, format="json")
    balance = ledger.wallet_balance(user=buyer)
    assert purchase(api_for(buyer), listing, terms=read).status_code == 409
    _nothing_charged(buyer, balance)


def test_a_rent_period_shortened_between_read_and_purchase_is_a_409(make_user, api_for, listed):
    owner, renter = make_user("ada"), make_user("bob")
    listing = listed(owner, rent=2)
    read = terms_shown(api_for(renter), listing, "rent")
    assert read == {"kind": "rent", "expected_price": "2.000000", "rent_period_days": 30}
    balance = ledger.wallet_balance(user=renter)

    api_for(owner).patch(f"/api/v1/marketplace/models/{listing.listing_id}/", {"rent_period_days": 1}, format="json")
    response = purchase(api_for(renter), listing, terms=read)

    assert response.status_code == 409
    assert (response.json()["error"]["code"], response.json()["error"]["field"]) == ("price_changed", "rent_period_days")
    assert response.json()["current"] == {"price": "2.000000", "rent_period_days": 1}
    _nothing_charged(renter, balance)


@pytest.mark.parametrize("body, field", [
    ({"kind": "buy"}, "expected_price"),
    ({"kind": "buy", "expected_price": None}, "expected_price"),
    ({"kind": "rent", "expected_price": "2"}, "rent_period_days"),
    ({"kind": "buy", "expected_price": "10", "rent_period_days": 30}, "rent_period_days"),
    ({"kind": "buy", "expected_price": "10", "max_price": "10"}, "max_price"),
    ({"kind": "buy", "expected_price": "10", "price": "10"}, "price"),
])
def test_a_purchase_without_the_accepted_terms_or_with_an_unknown_field_is_a_400(make_user, api_for, listed, body, field):
    listing = listed(make_user("ada"), buy=10, rent=2)
    buyer = make_user("bob")
    balance = ledger.wallet_balance(user=buyer)
    response = purchase(api_for(buyer), listing, terms=body)
    assert response.status_code == 400 and response.json()["error"]["field"] == field, response.json()
    _nothing_charged(buyer, balance)


@pytest.mark.parametrize("amount", ["٣", "１", "1_000", "1e3", "10 ", "+10", ".5", "NaN", True, [10]])
def test_a_purchase_price_in_any_other_form_than_ascii_decimals_or_a_number_is_a_400(make_user, api_for, listed, amount):
    listing = listed(make_user("ada"), buy=10)
    buyer = make_user("bob")
    balance = ledger.wallet_balance(user=buyer)
    response = purchase(api_for(buyer), listing, terms={"kind": "buy", "expected_price": amount})
    assert response.status_code == 400 and response.json()["error"]["field"] == "expected_price", response.json()
    _nothing_charged(buyer, balance)


@pytest.mark.parametrize("amount", [10, 10.0, "10", "10.0", "10.000000"])
def test_the_accepted_price_may_be_a_json_number_or_ascii_decimals(make_user, api_for, listed, amount):
    listing = listed(make_user("ada"), buy=10)
    response = purchase(api_for(make_user("bob")), listing, terms={"kind": "buy", "expected_price": amount})
    assert response.status_code == 201, response.json()
