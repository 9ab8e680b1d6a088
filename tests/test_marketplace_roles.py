"""Every marketplace page and route for every role: a visitor, another user, a buyer, a renter (before
and after the rent ends, on the test clock), the owner and a moderator. Each row says what that person
gets; a refusal leaves nothing behind (no purchase, rating, report or price change)."""

import pytest
from django.test import Client

from core import clock
from marketplace import services
from marketplace.models import Listing, ListingReport, Purchase, Rating
from marketplace.tests.conftest import catalog_home, completed_job, listed, make_user  # noqa: F401 - fixtures
from safety.tests.conftest import make_user as make_unfunded_user  # noqa: F401 - a fixture

pytestmark = pytest.mark.django_db

ROLES = ("visitor", "stranger", "buyer", "renter", "owner", "moderator")
LOGIN = "login"  # a redirect to the login page


@pytest.fixture
def market(make_user, listed):
    owner, buyer, renter = make_user("olga"), make_user("bea"), make_user("rene")
    people = {"visitor": None, "stranger": make_user("sam"), "buyer": buyer, "renter": renter, "owner": owner,
              "moderator": make_user("mona", moderator=True)}
    listing = listed(owner, title="digits classifier", buy=10, rent=2)
    services.listing_purchase(listing=listing, buyer=buyer, kind="buy", expected_price=listing.price_buy)
    services.listing_purchase(listing=listing, buyer=renter, kind="rent", expected_price=listing.price_rent,
                              expected_period_days=listing.rent_period_days)
    yield people, listing
    clock.clock_reset()


def _client(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def _outcome(response) -> object:
    if response.status_code == 302 and response["Location"].startswith("/accounts/login/"):
        return LOGIN
    return response.status_code


PAGES = {  # path -> what each role gets, in ROLES' order
    "/marketplace/": (200, 200, 200, 200, 200, 200),
    "/marketplace/{id}/": (200, 200, 200, 200, 200, 200),
    "/marketplace/{id}/suggestions/": (200, 200, 200, 200, 200, 200),
    "/marketplace/{id}/charts/accuracy.json": (200, 200, 200, 200, 200, 200),
    "/marketplace/{id}/purchase/?kind=buy": (LOGIN, 200, 200, 200, 200, 200),
    "/marketplace/library/": (LOGIN, 200, 200, 200, 200, 200),
    "/marketplace/selling/": (LOGIN, 200, 200, 200, 200, 200),
    "/marketplace/selling/revenue.json": (LOGIN, 200, 200, 200, 200, 200),
}


@pytest.mark.parametrize("path", PAGES)
def test_each_role_gets_each_marketplace_page(market, path):
    people, listing = market
    for role, expected in zip(ROLES, PAGES[path], strict=True):
        response = _client(people[role]).get(path.format(id=listing.listing_id))
        assert _outcome(response) == expected, (role, path)


def test_the_seller_dashboard_and_the_library_show_each_person_only_their_own(market):
    people, listing = market
    for role in ("stranger", "buyer", "renter", "owner", "moderator"):
        selling = _client(people[role]).get("/marketplace/selling/").content.decode()
        library = _client(people[role]).get("/marketplace/library/").content.decode()
        assert ("digits classifier" in selling) == (role == "owner"), role
        assert ("digits classifier" in library) == (role in ("buyer", "renter")), role


def test_a_suspended_listing_is_seen_only_by_its_owner_and_those_who_hold_it(market):
    people, listing = market
    Listing.objects.filter(pk=listing.pk).update(status=Listing.Status.SUSPENDED)
    expected = {"visitor": 404, "stranger": 404, "buyer": 200, "renter": 200, "owner": 200, "moderator": 404}
    for role, status in expected.items():
        for path in ("", "suggestions/", "charts/accuracy.json"):
            assert _client(people[role]).get(f"/marketplace/{listing.listing_id}/{path}").status_code == status, (role, path)
        search = _client(people[role]).get("/marketplace/").content.decode()
        assert "digits classifier" not in search, role


def test_only_the_owner_and_current_holders_download_and_a_rent_ends_on_the_clock(market):
    people, listing = market
    url = f"/api/v1/marketplace/models/{listing.listing_id}/download/?format=onnx"
    expected = {"visitor": (401, 403), "stranger": (403,), "buyer": (200,), "renter": (200,), "owner": (200,),
                "moderator": (403,)}
    for role, statuses in expected.items():
        assert _client(people[role]).get(url).status_code in statuses, role

    clock.clock_advance(seconds=listing.rent_period_days * 86400 + 1)

    assert _client(people["renter"]).get(url).status_code == 403
    assert _client(people["buyer"]).get(url).status_code == 200
    library = _client(people["renter"]).get("/marketplace/library/").content.decode()
    assert "expired" in library.lower()


@pytest.mark.parametrize("role", ROLES)
def test_buying_is_refused_to_visitors_and_to_the_owner(market, role):
    people, listing = market
    before = Purchase.objects.count()
    response = _client(people[role]).post(f"/marketplace/{listing.listing_id}/purchase/", {
        "kind": "buy", "expected_price": listing.price_buy, "key": "6f1c1b0e-6a53-4b43-9b8a-2f4f5f1b7d10"})
    bought = Purchase.objects.count() - before
    if role == "visitor":
        assert _outcome(response) == LOGIN and bought == 0
    elif role == "owner":
        assert response.status_code >= 400 and bought == 0
    elif role in ("buyer", "renter"):  # already holds it: back to the listing, nothing paid twice
        assert response.status_code == 302 and bought == 0
    else:
        assert response.status_code == 302 and bought == 1, role


@pytest.mark.parametrize("role", ROLES)
def test_only_buyers_and_renters_rate_and_never_the_creator(market, role):
    people, listing = market
    response = _client(people[role]).post(f"/marketplace/{listing.listing_id}/rate/", {"stars": 4, "review": "fine"})
    rated = Rating.objects.filter(listing=listing).count()
    if role == "visitor":
        assert _outcome(response) == LOGIN and rated == 0
    elif role in ("buyer", "renter"):
        assert response.status_code == 302 and rated == 1
    else:
        assert response.status_code >= 400 and rated == 0, role


@pytest.mark.parametrize("role", ROLES)
def test_anyone_signed_in_but_the_owner_reports_a_listing(market, role):
    people, listing = market
    response = _client(people[role]).post(f"/marketplace/{listing.listing_id}/report/", {"reason": "copies my model"})
    reported = ListingReport.objects.filter(listing=listing).count()
    if role == "visitor":
        assert _outcome(response) == LOGIN and reported == 0
    elif role == "owner":
        assert response.status_code >= 400 and reported == 0
    else:
        assert response.status_code == 302 and reported == 1, role


@pytest.mark.parametrize("role", ROLES)
def test_only_the_owner_changes_prices_or_withdraws(market, role):
    people, listing = market
    client = _client(people[role])
    prices = client.post(f"/marketplace/selling/{listing.listing_id}/prices/",
                         {"price_buy": "99", "price_rent": "", "rent_period_days": 30})
    status = client.post(f"/marketplace/selling/{listing.listing_id}/status/", {"status": "withdrawn"})
    listing.refresh_from_db()
    if role == "owner":
        assert prices.status_code == 302 and status.status_code == 302
        assert listing.price_buy == 99_000_000 and listing.status == Listing.Status.WITHDRAWN
        return
    expected = LOGIN if role == "visitor" else 404
    assert (_outcome(prices), _outcome(status)) == (expected, expected), role
    assert listing.price_buy == 10_000_000 and listing.status == Listing.Status.ACTIVE
