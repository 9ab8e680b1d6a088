"""Buying or renting moves exact integer amounts through the ledger's sale, once per Idempotency-Key."""

import pytest

from ledger import selectors as ledger
from ledger.amounts import UNITS_PER_FTNS
from ledger.models import Account, Transaction
from ledger.services import system_account
from marketplace.models import Listing, Purchase

from .buying import purchase as buy


def test_a_purchase_splits_the_price_exactly_and_a_retry_charges_once(make_user, api_for, listed):
    owner, buyer = make_user("ada"), make_user("bob")
    listing = listed(owner, buy=10, rent=2)
    Listing.objects.filter(pk=listing.pk).update(price_buy=1_000_001)  # an odd price: rounding must still sum
    before = {u: ledger.wallet_balance(user=u) for u in (owner, buyer)}
    pool = system_account(Account.Kind.CATALOG_TEACHERS).balance
    platform = system_account(Account.Kind.PLATFORM_REVENUE).balance

    api = api_for(buyer)
    first = buy(api, listing)
    assert first.status_code == 201, first.json()
    again = buy(api, listing)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true" and again.json() == first.json()

    assert ledger.wallet_balance(user=buyer) == before[buyer] - 1_000_001
    assert ledger.wallet_balance(user=owner) == before[owner] + 700_001  # 70% and every rounding remainder
    assert system_account(Account.Kind.CATALOG_TEACHERS).balance == pool + 200_000  # the catalog teacher's 20%
    assert system_account(Account.Kind.PLATFORM_REVENUE).balance == platform + 100_000
    assert Purchase.objects.get().transaction.kind == Transaction.Kind.SALE


def test_the_jobs_revenue_sharing_sets_the_teachers_share(make_user, api_for, listed):
    owner = make_user("ada")
    listing = listed(owner, buy=100, request={"revenue_sharing": 0.05})
    before = ledger.wallet_balance(user=owner)
    assert buy(api_for(make_user("bob")), listing).status_code == 201
    assert ledger.wallet_balance(user=owner) == before + 85 * UNITS_PER_FTNS


def test_a_rent_expires_after_its_period(make_user, api_for, listed):
    listing = listed(make_user("ada"), buy=None, rent=2)
    response = buy(api_for(make_user("bob")), listing, kind="rent")
    assert response.status_code == 201 and response.json()["expires_at"] is not None
    assert buy(api_for(make_user("cy")), listing, kind="buy").status_code == 409  # not for sale


def test_without_the_funds_nothing_is_bought(make_user, api_for, listed):
    listing = listed(make_user("ada"), buy=5000)
    response = buy(api_for(make_user("bob")), listing)
    assert response.status_code == 409 and response.json()["error"]["code"] == "insufficient_funds"
    assert not Purchase.objects.exists()


@pytest.mark.parametrize("who", ["owner", "buyer"])
def test_the_owner_and_a_second_purchase_are_refused(make_user, api_for, listed, who):
    owner, buyer = make_user("ada"), make_user("bob")
    listing = listed(owner)
    if who == "owner":
        assert buy(api_for(owner), listing).status_code == 409
    else:
        assert buy(api_for(buyer), listing, key="a").status_code == 201
        assert buy(api_for(buyer), listing, key="b").status_code == 409
        assert Purchase.objects.count() == 1


def test_a_purchase_needs_an_idempotency_key(make_user, api_for, listed):
    listing = listed(make_user("ada"))
    response = api_for(make_user("bob")).post(f"/api/v1/marketplace/models/{listing.listing_id}/purchase/", {},
                                              format="json")
    assert response.status_code == 400 and response.json()["error"]["field"] == "Idempotency-Key"
