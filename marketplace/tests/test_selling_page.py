"""What I sell (/marketplace/selling/): each listing's sales, rating and revenue from the ledger, the
revenue by day as chart JSON, and its prices, withdrawal and relisting through the page."""

from datetime import timedelta

import pytest
from django.utils import timezone

from ledger import selectors as ledger
from ledger.amounts import UNITS_PER_FTNS
from marketplace import services
from ledger.models import Transaction
from marketplace.models import Listing

from .buying import purchase as buy

pytestmark = pytest.mark.django_db


def _card(body: str, listing) -> str:
    return body.split(f'id="listing-{listing.listing_id}"', 1)[1].split("</section>", 1)[0]


def _figure(card: str, name: str) -> str:
    return card.split(f'data-figure="{name}">', 1)[1].split("</dd>", 1)[0]


def test_the_revenue_shown_is_the_sellers_ledger_credits_for_the_listing(client, make_user, api_for, listed):
    ada, bob, cy = make_user("ada"), make_user("bob"), make_user("cy")
    listing, other = listed(ada, title="digits", buy=10, rent=2), listed(ada, title="unsold", buy=5)
    assert buy(api_for(bob), listing).status_code == 201
    assert buy(api_for(cy), listing, kind="rent", key="k2").status_code == 201
    services.listing_rate(listing=listing, rater=bob, stars=4)
    credits = sum(e.amount for e in ledger.wallet_entries(user=ada, reference=f"listing:{listing.listing_id}",
                                                          direction="credit"))
    assert credits == 7 * UNITS_PER_FTNS + 1_400_000  # 70% of 10 and of 2 FTNS (a catalog teacher's listing)
    client.force_login(ada)

    body = client.get("/marketplace/selling/").content.decode()

    card = _card(body, listing)
    assert _figure(card, "revenue") == "8.40 FTNS"
    assert _figure(card, "sales") == "1" and _figure(card, "rentals") == "1"
    assert _figure(card, "rating") == "4.0 of 5 (1 rating)"
    assert 'data-status="active">listed<' in card
    assert _figure(_card(body, other), "revenue") == "0.00 FTNS" and _figure(_card(body, other), "sales") == "0"
    assert 'id="total-revenue">8.40<' in body
    assert 'data-series-url="/marketplace/selling/revenue.json"' in body


def test_the_revenue_chart_has_the_days_sum_from_the_ledger(client, make_user, api_for, listed):
    ada = make_user("ada")
    listing = listed(ada, buy=10, rent=2)
    assert buy(api_for(make_user("bob")), listing).status_code == 201
    assert buy(api_for(make_user("cy")), listing, kind="rent").status_code == 201
    assert buy(api_for(ada), listed(make_user("dan"), title="not mine"), key="k3").status_code == 201  # ada buys: no revenue
    client.force_login(ada)

    chart = client.get("/marketplace/selling/revenue.json").json()

    assert chart["series"] == [{"key": "revenue", "name": "revenue", "axis": "y", "type": "bar",
                                "x": [timezone.now().date().isoformat()], "y": [8.4]}]
    assert chart["references"] == [] and chart["last_seq"] == 0 and chart["y_title"]


def test_the_revenue_chart_counts_a_day_without_sales_as_zero(client, make_user, api_for, listed, monkeypatch):
    ada = make_user("ada")
    listing = listed(ada, buy=10, rent=2)
    today = timezone.now()
    # the ledger's rows are append-only (triggers refuse an UPDATE): the first sale is posted two days ago
    with monkeypatch.context() as past:
        past.setattr(Transaction._meta.get_field("created_at"), "_get_default", lambda: today - timedelta(days=2))
        assert buy(api_for(make_user("bob")), listing).status_code == 201
    assert buy(api_for(make_user("cy")), listing, kind="rent").status_code == 201
    client.force_login(ada)

    chart = client.get("/marketplace/selling/revenue.json").json()

    days = [(today - timedelta(days=n)).date().isoformat() for n in (2, 1, 0)]
    assert chart["series"][0]["x"] == days and chart["series"][0]["y"] == [7.0, 0.0, 1.4]


def test_a_seller_changes_prices_through_the_page(client, make_user, listed):
    ada = make_user("ada")
    listing = listed(ada, buy=10, rent=2)
    client.force_login(ada)

    response = client.post(f"/marketplace/selling/{listing.listing_id}/prices/",
                           {"price_buy": "12.5", "price_rent": "", "rent_period_days": "7"})

    assert response.status_code == 302 and response["Location"] == f"/marketplace/selling/#listing-{listing.listing_id}"
    listing.refresh_from_db()
    assert (listing.price_buy, listing.price_rent, listing.rent_period_days) == (12_500_000, None, 7)
    card = _card(client.get("/marketplace/selling/").content.decode(), listing)
    assert "12.50 FTNS to buy · not for rent" in card and 'value="12.50"' in card


def test_a_listing_without_any_price_is_refused_beside_the_form(client, make_user, listed):
    ada = make_user("ada")
    listing = listed(ada, buy=10, rent=2)
    client.force_login(ada)

    response = client.post(f"/marketplace/selling/{listing.listing_id}/prices/",
                           {"price_buy": "", "price_rent": "", "rent_period_days": "30"})

    assert response.status_code == 400
    card = _card(response.content.decode(), listing)
    assert f'id="id_price_rent_{listing.pk}_error"' in card and "Give a price to buy, to rent, or both." in card
    listing.refresh_from_db()
    assert listing.price_buy == 10 * UNITS_PER_FTNS


def test_a_seller_withdraws_and_relists_through_the_page(client, make_user, listed):
    ada = make_user("ada")
    listing = listed(ada)
    client.force_login(ada)
    status_url = f"/marketplace/selling/{listing.listing_id}/status/"

    assert client.post(status_url, {"status": "withdrawn"}).status_code == 302
    listing.refresh_from_db()
    assert listing.status == Listing.Status.WITHDRAWN
    card = _card(client.get("/marketplace/selling/").content.decode(), listing)
    assert 'data-status="withdrawn">withdrawn<' in card and 'value="active"' in card

    assert client.post(status_url, {"status": "active"}).status_code == 302
    listing.refresh_from_db()
    assert listing.status == Listing.Status.ACTIVE


def test_a_suspended_listing_cannot_be_relisted_and_says_why(client, make_user, listed):
    ada = make_user("ada")
    listing = listed(ada)
    Listing.objects.filter(pk=listing.pk).update(status=Listing.Status.SUSPENDED)
    client.force_login(ada)

    response = client.post(f"/marketplace/selling/{listing.listing_id}/status/", {"status": "active"})

    assert response.status_code == 409
    card = _card(response.content.decode(), listing)
    assert "only a moderator can reinstate it" in card and f'id="status-errors-{listing.pk}"' in card
    listing.refresh_from_db()
    assert listing.status == Listing.Status.SUSPENDED


def test_another_users_listing_cannot_be_changed(client, make_user, listed):
    listing = listed(make_user("ada"), buy=10)
    client.force_login(make_user("eve"))

    prices = client.post(f"/marketplace/selling/{listing.listing_id}/prices/",
                         {"price_buy": "1", "price_rent": "", "rent_period_days": "30"})
    status = client.post(f"/marketplace/selling/{listing.listing_id}/status/", {"status": "withdrawn"})

    assert prices.status_code == 404 and status.status_code == 404
    listing.refresh_from_db()
    assert listing.price_buy == 10 * UNITS_PER_FTNS and listing.status == Listing.Status.ACTIVE
    body = client.get("/marketplace/selling/").content.decode()
    assert str(listing.listing_id) not in body and 'id="selling-empty"' in body


def test_the_seller_sees_the_category_and_recommended_price_and_changes_the_category(client, make_user, listed):
    ada = make_user("ada")
    listing = listed(ada, buy=10, rent=2)
    client.force_login(ada)
    body = client.get("/marketplace/selling/").content.decode()
    card = _card(body, listing)
    assert 'data-figure="category">Image · handwritten digits' in card
    assert f"{listing.recommended_price / 1_000_000:.2f} FTNS to buy" in card and 'href="#price-rule"' in card
    assert 'id="price-rule">Recommended: the median buy price of 3 or more comparable listings' in body
    assert '<option value="tabular/medical">Tabular · medical</option>' in card
    assert '<option value="text/sentiment"' not in card  # not a category of a tabular model

    response = client.post(f"/marketplace/selling/{listing.listing_id}/prices/",
                           {"category": "tabular/medical", "price_buy": "10", "price_rent": "2", "rent_period_days": "30"})

    assert response.status_code == 302
    listing.refresh_from_db()
    assert listing.category == "tabular/medical" and "Tabular · medical" in listing.search_document


def test_a_category_of_another_task_is_refused_beside_the_field(client, make_user, listed):
    ada = make_user("ada")
    listing = listed(ada)
    client.force_login(ada)
    response = client.post(f"/marketplace/selling/{listing.listing_id}/prices/",
                           {"category": "image/clothing", "price_buy": "10", "price_rent": "", "rent_period_days": "30"})
    assert response.status_code == 400 and f'id="id_category_{listing.pk}_error"' in _card(response.content.decode(), listing)
    listing.refresh_from_db()
    assert listing.category == "image/digits"


def test_the_dashboard_shows_ten_listings_a_page_with_totals_over_all_and_returns_to_the_changed_ones_page(
        client, make_user, listed, monkeypatch):
    from ledger.tests.factories import fund

    from marketplace import trade_pages

    monkeypatch.setattr(trade_pages, "LISTINGS_PER_PAGE", 2)
    ada, bob = make_user("ada"), make_user("bob")
    fund(ada, 10_000)
    oldest, *_ = [listed(ada, title=f"model {n}", domain=f"d{n}", buy=10) for n in range(5)]
    services.listing_purchase(listing=oldest, buyer=bob, kind="buy", expected_price=oldest.price_buy)
    client.force_login(ada)

    first = client.get("/marketplace/selling/").content.decode()
    last = client.get("/marketplace/selling/", {"page": 3}).content.decode()

    assert first.count('class="card selling-listing"') == 2 and "Page 1 of 3" in first
    assert "model 4" in first and "model 0" not in first and "model 0" in last
    assert 'id="total-sales"' in first and ">1<" in first.split('id="total-sales"', 1)[1][:200]  # all pages' sales
    response = client.post(f"/marketplace/selling/{oldest.listing_id}/prices/",
                           {"price_buy": "11", "price_rent": "", "rent_period_days": "30"})
    assert response["Location"] == f"/marketplace/selling/?page=3#listing-{oldest.listing_id}"
    refused = client.post(f"/marketplace/selling/{oldest.listing_id}/prices/",
                          {"price_buy": "", "price_rent": "", "rent_period_days": "30"})
    assert refused.status_code == 400 and f'id="listing-{oldest.listing_id}"' in refused.content.decode()


def test_the_dashboard_counts_buyers_downloads_not_the_owners(client, make_user, api_for, listed):
    ada, bob = make_user("ada"), make_user("bob")
    listing = listed(ada, buy=10)
    buy(api_for(bob), listing, "buy", key="buy-1")
    url = f"/api/v1/marketplace/models/{listing.listing_id}/download/?format=onnx"
    for user in (bob, bob, ada):
        assert api_for(user).get(url).status_code == 200
    assert api_for(make_user("eve")).get(url).status_code == 403  # refused: not counted
    client.force_login(ada)

    card = _card(client.get("/marketplace/selling/").content.decode(), listing)

    assert '<dd data-figure="downloads">2</dd>' in card
