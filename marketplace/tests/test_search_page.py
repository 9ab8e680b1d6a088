"""The marketplace search page (/marketplace/): words, filters, paging, only public listings, htmx."""

import pytest

from ledger.tests.factories import fund
from marketplace.models import Listing

pytestmark = pytest.mark.django_db


def titles(response) -> list[str]:
    body = response.content.decode()
    return [part.split("</a>", 1)[0].rsplit(">", 1)[1] for part in body.split('<h2 class="listing-title">')[1:]]


def test_a_visitor_finds_listings_by_a_word_and_sees_figures_and_prices(client, make_user, listed):
    ada = make_user("ada")
    listed(ada, title="digits small", buy=10, rent=2, retention=0.9, latency=2.0)
    listed(ada, title="sentiment tiny", domain="sentiment")

    # both are digits models by their data (the category "Image · handwritten digits"); one is small
    response = client.get("/marketplace/", {"q": "small"})

    assert response.status_code == 200 and titles(response) == ["digits small"]
    body = response.content.decode()
    assert "90%" in body and "8.0×" in body and "2.00 ms" in body
    assert "Buy <strong>10.00 FTNS</strong>" in body and "Rent <strong>2.00 FTNS</strong>" in body
    assert 'hx-get="/marketplace/"' in body and 'hx-push-url="true"' in body


def test_the_filters_narrow_the_results(client, make_user, listed):
    # five sellers: one seller's re-runs of a model would be versions of one family, and search shows the newest
    listed(make_user("ada"), title="good fast", retention=0.95, latency=1.0, buy=5)
    listed(make_user("bob"), title="poor", retention=0.5, latency=1.0, buy=5)
    listed(make_user("cy"), title="slow", retention=0.95, latency=50.0, buy=5)
    listed(make_user("di"), title="dear", retention=0.95, latency=1.0, buy=500, rent=None)
    listed(make_user("ed"), title="other domain", domain="sentiment", retention=0.95, latency=1.0, buy=5)

    response = client.get("/marketplace/", {"domain": "digits", "min_retention": "90", "max_latency_ms": "10",
                                            "max_price": "20"})

    assert titles(response) == ["good fast"]
    assert titles(client.get("/marketplace/", {"ordering": "-retention", "domain": "digits",
                                               "max_latency_ms": "10"}))[-1] == "poor"


def test_a_bad_filter_is_shown_beside_its_field_and_finds_nothing(client, make_user, listed):
    listed(make_user("ada"))
    response = client.get("/marketplace/", {"min_retention": "lots"})
    body = response.content.decode()
    assert response.status_code == 200 and titles(response) == [] and 'id="id_min_retention_error"' in body


def test_results_come_twenty_a_page_and_the_pager_keeps_the_query(client, make_user, listed):
    ada = make_user("ada")
    fund(ada, 10_000)  # each listed model is a job, paid for
    for n in range(21):  # 21 models (another domain each), not 21 versions of one
        listed(ada, title=f"digits {n:02d}", domain=f"digits-{n}")

    first = client.get("/marketplace/", {"q": "digits"})
    second = client.get("/marketplace/", {"q": "digits", "page": "2"})

    assert len(titles(first)) == 20 and titles(second) == ["digits 00"]  # newest first
    assert 'href="?q=digits&amp;page=2"' in first.content.decode()


@pytest.mark.parametrize("status", [Listing.Status.SUSPENDED, Listing.Status.WITHDRAWN])
def test_a_suspended_or_withdrawn_listing_is_not_shown(client, make_user, listed, status):
    ada = make_user("ada")
    hidden = listed(ada, title="hidden one")
    listed(ada, title="shown one")
    Listing.objects.filter(pk=hidden.pk).update(status=status)

    assert titles(client.get("/marketplace/")) == ["shown one"]


def test_htmx_gets_the_results_alone(client, make_user, listed):
    listed(make_user("ada"), title="digits small")
    body = client.get("/marketplace/", {"q": "digits"}, HTTP_HX_REQUEST="true").content.decode()
    assert "digits small" in body and "<html" not in body and 'id="search-count"' in body


def test_the_navigation_links_to_the_marketplace(client):
    assert '<a href="/marketplace/" aria-current="page">Marketplace</a>' in client.get("/marketplace/").content.decode()


@pytest.mark.django_db
def test_a_signed_in_person_finds_their_library_and_sales_from_the_search_page(client, make_user):
    client.force_login(make_user("ada"))
    page = client.get("/marketplace/").content.decode()
    assert 'href="/marketplace/library/"' in page and 'href="/marketplace/selling/"' in page
    client.logout()
    assert 'href="/marketplace/library/"' not in client.get("/marketplace/").content.decode()
