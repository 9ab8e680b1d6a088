"""Search lists active listings only, with every filter and ordering of the contract."""

import pytest

from marketplace.models import Listing


@pytest.fixture
def three(make_user, listed):
    ada, bob = make_user("ada"), make_user("bob")
    return {
        "fast": listed(ada, title="Fast digits", domain="digits", buy=5, rent=None, retention=0.92, latency=1.0),
        "accurate": listed(ada, title="Accurate sentiment", domain="sentiment", buy=30, rent=3, retention=0.99, latency=9.0),
        "cheap": listed(bob, title="Cheap digits", domain="digits", buy=None, rent=1, retention=0.8, latency=4.0),
    }


def titles(response) -> list[str]:
    assert response.status_code == 200, response.json()
    return [item["title"] for item in response.json()["results"]]


def test_search_filters_by_text_domain_retention_latency_and_price(client, three):
    url = "/api/v1/marketplace/models/"
    assert sorted(titles(client.get(url))) == ["Accurate sentiment", "Cheap digits", "Fast digits"]
    assert titles(client.get(url, {"q": "sentiment"})) == ["Accurate sentiment"]
    assert sorted(titles(client.get(url, {"domain": "digits"}))) == ["Cheap digits", "Fast digits"]
    assert sorted(titles(client.get(url, {"min_retention": 0.9}))) == ["Accurate sentiment", "Fast digits"]
    assert sorted(titles(client.get(url, {"max_latency_ms": 4}))) == ["Cheap digits", "Fast digits"]
    assert sorted(titles(client.get(url, {"max_price": "3"}))) == ["Accurate sentiment", "Cheap digits"]  # rent 3, rent 1


def test_search_orders_by_price_retention_and_latency(client, three):
    url = "/api/v1/marketplace/models/"
    assert titles(client.get(url, {"ordering": "price"})) == ["Cheap digits", "Accurate sentiment", "Fast digits"]
    assert titles(client.get(url, {"ordering": "-retention"})) == ["Accurate sentiment", "Fast digits", "Cheap digits"]
    assert titles(client.get(url, {"ordering": "latency"})) == ["Fast digits", "Cheap digits", "Accurate sentiment"]


def test_a_bad_filter_is_a_400_that_names_it(client, three):
    response = client.get("/api/v1/marketplace/models/", {"ordering": "owner"})
    assert response.status_code == 400 and response.json()["error"]["field"] == "ordering"


def test_withdrawn_and_suspended_listings_and_those_of_suspended_users_are_not_found(client, three):
    Listing.objects.filter(pk=three["fast"].pk).update(status="withdrawn")
    Listing.objects.filter(pk=three["accurate"].pk).update(status="suspended")
    bob = three["cheap"].owner
    bob.is_active = False
    bob.save()
    assert titles(client.get("/api/v1/marketplace/models/")) == []


def test_the_detail_shows_model_card_benchmarks_lineage_and_rating(client, three):
    listing = three["fast"]
    body = client.get(f"/api/v1/marketplace/models/{listing.listing_id}/").json()
    assert body["title"] == "Fast digits" and body["price_buy"] == "5.000000" and body["price_rent"] is None
    assert body["benchmarks"]["retention"] == 0.92 and body["benchmarks"]["latency_ms_p50"] == 1.0
    assert body["benchmarks"]["compression_ratio"] == 8.0 and body["lineage"]["job_id"] == str(listing.job.job_id)
    assert "Retention: 92.0%" in body["model_card"]
    assert body["rating"] == {"average": None, "count": 0} and body["purchased"] is False
