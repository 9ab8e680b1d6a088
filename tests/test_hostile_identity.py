"""Throwaway accounts, as a hostile client makes them, get nothing out of the signup grant but jobs."""

import pytest
from rest_framework.test import APIClient

from ledger import selectors
from ledger.amounts import UNITS_PER_FTNS
from marketplace.models import Purchase
from marketplace.tests.buying import purchase
from marketplace.tests.conftest import completed_job, listed, make_unfunded_user, make_user  # noqa: F401 - fixtures
from safety.tests.conftest import catalog_home  # noqa: F401 - a fixture

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


def throwaway(n: int) -> APIClient:
    api = APIClient()
    registered = api.post("/api/v1/auth/register/", {"username": f"sock{n}", "password": PASSWORD,
                                                     "email": f"sock{n}@example.com"}, format="json",
                          REMOTE_ADDR="203.0.113.7", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}")
    assert registered.status_code == 201
    api.credentials(HTTP_AUTHORIZATION=f"Token {registered.json()['token']}")
    return api


def test_throwaway_accounts_cannot_pool_their_grants_or_buy_themselves_ratings(make_user, listed):
    seller = make_user("seller")
    listing = listed(seller, buy=10)
    before = selectors.wallet_balance(user=seller)

    for n in range(3):
        api = throwaway(n)
        assert api.get("/api/v1/ledger/balance/").json()["promo_credit_units"] == 1000 * UNITS_PER_FTNS
        pooled = api.post("/api/v1/ledger/transfers/", {"to": "seller", "amount": "1000"}, format="json",
                          HTTP_IDEMPOTENCY_KEY=f"pool-{n}")
        assert pooled.status_code == 409 and pooled.json()["error"]["code"] == "insufficient_funds"
        bought = purchase(api, listing, key=f"buy-{n}")
        assert bought.status_code == 409 and bought.json()["error"]["code"] == "insufficient_funds"
        rated = api.post(f"/api/v1/marketplace/models/{listing.listing_id}/ratings/", {"stars": 5, "review": "great"},
                         format="json")
        assert rated.status_code == 403

    assert selectors.wallet_balance(user=seller) == before
    assert not Purchase.objects.exists()
